//! The queue's dependencies as the forge shows them: each open issue's blockers, named in its
//! body or recorded by the forge itself (GitHub's issue dependencies), made into the waits that
//! hold ready issues back (`core::queue::blocking`). Cycles are reported once: a log line and
//! one comment on each member.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use crate::app::AppResult;
use crate::core::forge_text::dependencies::cycle_comment;
use crate::core::queue::blocking::{Waits, waits};
use crate::core::queue::dependencies::blockers;
use crate::core::queue::standing::{Stage, stage};
use crate::ports::Forge;
use crate::ports::forge::{Issue, Number};

/// The forge's own blockers, as last read, with what the issue looked like then: asked again
/// only when the issue changed, so a poll of an unchanged queue asks nothing.
#[derive(Debug, Default)]
pub struct Dependencies {
    recorded: HashMap<Number, (Timestamp, u64, Vec<Number>)>,
    /// The cycles already reported by this process.
    reported: BTreeSet<Vec<Number>>,
}

impl Dependencies {
    /// The waits among the `open` issues. The forge is asked for the blockers it records only
    /// of ready issues it counts some open ones for: the others are not claimed anyway, and
    /// move on without being waited for.
    pub async fn waits(&mut self, forge: &dyn Forge, open: &[Issue]) -> AppResult<Waits> {
        let mut named: BTreeMap<Number, BTreeSet<Number>> = BTreeMap::new();
        for issue in open {
            let mut found = blockers(&issue.body);
            let ready = stage(issue.labels.iter().map(String::as_str)) == Stage::Ready;
            if ready && issue.open_blockers > 0 {
                found.extend(self.recorded(forge, issue).await?);
            }
            named.insert(issue.number, found);
        }
        self.recorded.retain(|number, _| named.contains_key(number));
        Ok(waits(&named))
    }

    async fn recorded(&mut self, forge: &dyn Forge, issue: &Issue) -> AppResult<Vec<Number>> {
        let seen = (issue.updated_at, issue.open_blockers);
        if let Some((at, count, blockers)) = self.recorded.get(&issue.number)
            && (*at, *count) == seen
        {
            return Ok(blockers.clone());
        }
        let blockers = forge.blocked_by(issue.number).await?;
        self.recorded
            .insert(issue.number, (seen.0, seen.1, blockers.clone()));
        Ok(blockers)
    }

    /// Reports each cycle not reported yet by this process: a log line, and a comment on each
    /// member that does not carry it already (a restarted run does not repeat it). Returns the
    /// cycles newly reported.
    pub async fn report_cycles(
        &mut self,
        forge: &dyn Forge,
        cycles: &[Vec<Number>],
    ) -> AppResult<Vec<Vec<Number>>> {
        let mut reported = Vec::new();
        for cycle in cycles {
            if self.reported.contains(cycle) {
                continue;
            }
            let comment = cycle_comment(cycle);
            for &member in cycle {
                let said = forge
                    .comments(member)
                    .await?
                    .iter()
                    .any(|c| c.body == comment);
                if !said {
                    forge.create_comment(member, &comment).await?;
                }
            }
            self.reported.insert(cycle.clone());
            reported.push(cycle.clone());
        }
        Ok(reported)
    }
}
