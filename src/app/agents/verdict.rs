//! The recorded verdict on an issue's last attempt, as drift detection and the run loop read
//! it to tell finished work waiting for `land` from an attempt nobody judged.

use crate::app::AppResult;
use crate::core::lifecycle::machine::Event;
use crate::ports::journal::{AttemptLog, AttemptRecord, Journal};

/// The last recorded attempt at `issue`, unless its slot has been assigned work since it was
/// recorded: then the verdict was acted on, and whatever the slot does now is a later attempt.
pub fn last_verdict(
    journal: &dyn Journal,
    attempts: &dyn AttemptLog,
    issue: u64,
) -> AppResult<Option<AttemptRecord>> {
    let Some(last) = attempts
        .attempts(issue)?
        .into_iter()
        .max_by_key(|a| a.attempt)
    else {
        return Ok(None);
    };
    let assigned_since = journal
        .history(&last.agent)?
        .iter()
        .any(|entry| matches!(entry.event, Event::Assign { .. }) && entry.at > last.finished_at);
    Ok((!assigned_since).then_some(last))
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::adapters::journal::SqliteJournal;
    use crate::app::lifecycle::transitions::transition;

    fn at(minute: i64) -> Timestamp {
        "2026-11-21T12:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minute)
    }

    fn assign(journal: &SqliteJournal, minute: i64) {
        let event = Event::Assign {
            agent_id: "agent001".into(),
            issue: 12,
            branch: "agent001/12-fix".into(),
        };
        transition(journal, "agent001", &event, "test", at(minute)).unwrap();
    }

    fn success(journal: &SqliteJournal, minute: i64) {
        journal
            .record_attempt(&AttemptRecord {
                issue: 12,
                attempt: 1,
                agent: "agent001".into(),
                branch: "agent001/12-fix".into(),
                outcome: "success".into(),
                reason: "done".into(),
                commits_ahead: 1,
                cost_usd: None,
                turns: 1,
                log: String::new(),
                finished_at: at(minute),
                runtime: Some("command".into()),
                session_id: None,
            })
            .unwrap();
    }

    #[test]
    fn a_verdict_stands_until_its_slot_is_assigned_again() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
        assert_eq!(last_verdict(&journal, &journal, 12).unwrap(), None);
        assign(&journal, 0);
        success(&journal, 5);
        let standing = last_verdict(&journal, &journal, 12).unwrap();
        assert_eq!(standing.map(|v| v.attempt), Some(1));

        // Landed, then claimed again: the success was acted on; a later attempt began.
        for event in [Event::StartWork { commits_ahead: 1 }, Event::CompleteWork] {
            transition(&journal, "agent001", &event, "test", at(6)).unwrap();
        }
        assign(&journal, 10);
        assert_eq!(last_verdict(&journal, &journal, 12).unwrap(), None);
    }
}
