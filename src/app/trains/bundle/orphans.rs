//! Orphans: bundle branches no pull request names. One this machine wrote (its train log
//! records that bundle at that tip) is an interrupted train of its own, to finish; one another
//! orchestrator wrote may be in flight, pushed with its pull request about to be opened, and is
//! left alone until it has sat at its tip with no pull request for [`FOREIGN_ORPHAN_GRACE`].

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult};
use crate::core::queue::sightings::Sightings;

use super::Bundler;

/// The file, under `.clambake/`, of when this machine first saw each orphan at its tip.
pub const SIGHTINGS_FILE: &str = "bundle-sightings.json";

/// How long another orchestrator's orphan is left to it. A train opens its pull request a few
/// forge calls after pushing the branch (seconds; a rate-limited one fails and finishes on its
/// next run, its own orphan then); ten minutes, by this machine's clock from when it first saw
/// the branch at its tip, is far past that, yet soon enough that one a crashed or departed
/// orchestrator left does not hold its slot's work for long.
pub const FOREIGN_ORPHAN_GRACE: SignedDuration = SignedDuration::from_mins(10);

/// A bundle branch and its tip.
type Orphan = (String, String);

/// Another orchestrator's bundle branch the train left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    pub branch: String,
    pub why: String,
}

impl Bundler<'_> {
    /// Splits the orphans (branch, tip) into those this train may finish, move or delete as its
    /// own, and those it leaves alone, noting in [`SIGHTINGS_FILE`] when each was first seen.
    pub(super) fn own_orphans(
        &self,
        found: Vec<Orphan>,
        now: Timestamp,
    ) -> AppResult<(Vec<Orphan>, Vec<LeftAlone>)> {
        let sightings = self.observe_orphans(&found, now)?;
        let mut own = Vec::new();
        let mut left_alone = Vec::new();
        for (branch, tip) in found {
            let written_here = self
                .train_log
                .bundle_record(&branch)?
                .is_some_and(|record| record.tip == tip);
            let since = sightings.since(&branch).unwrap_or(now);
            if written_here || now.duration_since(since) >= FOREIGN_ORPHAN_GRACE {
                own.push((branch, tip));
                continue;
            }
            tracing::warn!(
                branch,
                "another orchestrator's bundle branch has no pull request yet; left to it"
            );
            left_alone.push(LeftAlone {
                why: format!(
                    "another orchestrator wrote it and has not opened its pull request yet: \
                     left to it until it has had none for {} minutes",
                    FOREIGN_ORPHAN_GRACE.as_mins()
                ),
                branch,
            });
        }
        Ok((own, left_alone))
    }

    /// Notes the orphans as seen at `now`. A file that cannot be read starts afresh: every
    /// orphan is then seen from now on, so none is taken early.
    fn observe_orphans(&self, found: &[Orphan], now: Timestamp) -> AppResult<Sightings> {
        let path = self.state_dir.join(SIGHTINGS_FILE);
        let mut sightings: Sightings = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let seen = found.iter().map(|(b, t)| (b.as_str(), t.as_str()));
        if sightings.observe(seen, now) {
            std::fs::create_dir_all(&self.state_dir).map_err(|source| AppError::Io {
                action: "create",
                path: self.state_dir.clone(),
                source,
            })?;
            let text = serde_json::to_string(&sightings).expect("sightings serialize");
            write_atomically(&path, &text)?;
        }
        Ok(sightings)
    }
}
