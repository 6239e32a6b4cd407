//! Review feedback waiting for an issue's next attempt: what the train recorded when a
//! reviewer sent the issue back (`.clambake/review-feedback/<issue>.json`), shown in the
//! prompt of every attempt after it until one succeeds.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult};
use crate::core::agents::outcome::Outcome;
use crate::core::agents::prompt::ReviewFeedback;
use crate::ports::journal::AttemptRecord;

/// Where, under `.clambake/`, the feedback waits.
pub const DIR: &str = "review-feedback";

/// One piece of feedback and when the issue was sent back with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    at: Timestamp,
    feedback: ReviewFeedback,
}

fn path(state_dir: &Path, issue: u64) -> PathBuf {
    state_dir.join(DIR).join(format!("{issue}.json"))
}

fn read(state_dir: &Path, issue: u64) -> AppResult<Vec<Recorded>> {
    let path = path(state_dir, issue);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| AppError::Io {
            action: "parse",
            path,
            source: std::io::Error::other(e),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(AppError::Io {
            action: "read",
            path,
            source,
        }),
    }
}

/// Records `feedback` (already redacted) for `issue`'s next attempts, sent back `at`. The
/// same feedback recorded again (a pass repeated after a crash) is kept once.
pub fn record(
    state_dir: &Path,
    issue: u64,
    at: Timestamp,
    feedback: &[ReviewFeedback],
) -> AppResult<()> {
    let mut recorded = read(state_dir, issue)?;
    for item in feedback {
        if !recorded.iter().any(|r| r.feedback == *item) {
            recorded.push(Recorded {
                at,
                feedback: item.clone(),
            });
        }
    }
    let path = path(state_dir, issue);
    std::fs::create_dir_all(path.parent().expect("under the state directory")).map_err(
        |source| AppError::Io {
            action: "create",
            path: path.clone(),
            source,
        },
    )?;
    let text = serde_json::to_string_pretty(&recorded).expect("feedback serialises");
    write_atomically(&path, &text)
}

/// The feedback `issue`'s next attempt addresses, oldest first: what was recorded since its
/// last successful attempt (`earlier`, the journal's), whose work it was about.
pub fn pending(
    state_dir: &Path,
    issue: u64,
    earlier: &[AttemptRecord],
) -> AppResult<Vec<ReviewFeedback>> {
    let last_success = earlier
        .iter()
        .filter(|a| a.outcome == Outcome::Success.as_str())
        .map(|a| a.finished_at)
        .max();
    Ok(read(state_dir, issue)?
        .into_iter()
        .filter(|r| last_success.is_none_or(|done| r.at > done))
        .map(|r| r.feedback)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback(text: &str) -> ReviewFeedback {
        ReviewFeedback {
            pull_request: 9,
            author: "ada".to_owned(),
            verb: "requested changes".to_owned(),
            text: text.to_owned(),
        }
    }

    fn success(finished_at: Timestamp) -> AttemptRecord {
        AttemptRecord {
            issue: 4,
            attempt: 1,
            agent: "agent001".to_owned(),
            branch: "agent001/4-x".to_owned(),
            outcome: Outcome::Success.as_str().to_owned(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: None,
            turns: 1,
            log: String::new(),
            finished_at,
            runtime: None,
            session_id: None,
        }
    }

    #[test]
    fn feedback_waits_until_an_attempt_after_it_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let first: Timestamp = "2026-01-01T10:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        assert!(pending(dir.path(), 4, &[]).unwrap().is_empty());
        record(dir.path(), 4, first, &[feedback("one")]).unwrap();
        record(dir.path(), 4, first, &[feedback("one")]).unwrap();
        assert_eq!(pending(dir.path(), 4, &[]).unwrap(), [feedback("one")]);
        let landed: Timestamp = "2026-01-01T11:00:00Z".parse().unwrap();
        assert!(
            pending(dir.path(), 4, &[success(landed)])
                .unwrap()
                .is_empty()
        );
        record(dir.path(), 4, later, &[feedback("two")]).unwrap();
        assert_eq!(
            pending(dir.path(), 4, &[success(landed)]).unwrap(),
            [feedback("two")]
        );
        assert!(pending(dir.path(), 5, &[]).unwrap().is_empty());
    }
}
