//! Lifecycle use cases: every change of an agent slot's state goes through [`transition`],
//! which resumes the slot from the journal, lets the state machine decide, and journals the
//! outcome. The caller then acts on the returned entry.

use jiff::Timestamp;

use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::lifecycle::machine::{Event, Lifecycle};
use crate::core::queue::labels::agent_slot;
use crate::ports::journal::{Journal, JournalEntry, JournalError, Store, TransitionFailure};

/// Opens the repository's journal, creating it on first use, to record transitions as
/// `state_machine.transition_logging` asks. Requires `clambake init`.
pub fn open_journal(workspace: &Workspace) -> AppResult<impl Store + use<>> {
    let logging = workspace
        .load_config()?
        .config
        .state_machine
        .transition_logging;
    let dir = workspace.state_dir();
    std::fs::create_dir_all(&dir).map_err(|source| AppError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    Ok(compose::journal(
        &dir.join(compose::JOURNAL_DATABASE),
        logging,
    )?)
}

/// Applies `event` to `agent`'s slot as the journal last left it, and records the transition.
/// A refused event is an error and changes nothing.
pub fn transition(
    journal: &dyn Journal,
    agent: &str,
    event: &Event,
    cause: &str,
    at: Timestamp,
) -> AppResult<JournalEntry> {
    require_agent_id(agent)?;
    let mut slot = Lifecycle::resume(agent, journal.current_state(agent)?);
    let failed = |reason: &str| {
        let failure = TransitionFailure {
            agent: agent.to_owned(),
            event: event.kind(),
            reason: reason.to_owned(),
            at,
        };
        if let Err(error) = journal.record_failure(&failure) {
            tracing::warn!(%error, "could not keep a failed transition for the metrics");
        }
    };
    let transition = slot
        .apply(event)
        .inspect_err(|e| failed(e.refusal.kind()))?;
    let entry = journal.record(agent, &transition, cause, at);
    if let Err(JournalError::Stale { .. }) = &entry {
        failed("stale");
    }
    Ok(entry?)
}

/// `agent`'s transitions, oldest first.
pub fn history(journal: &dyn Journal, agent: &str) -> AppResult<Vec<JournalEntry>> {
    require_agent_id(agent)?;
    Ok(journal.history(agent)?)
}

/// Fails unless `agent` is an agent id (`agent001`).
pub(crate) fn require_agent_id(agent: &str) -> AppResult<()> {
    match agent_slot(agent) {
        Some(_) => Ok(()),
        None => Err(AppError::NotAnAgent {
            agent: agent.to_owned(),
        }),
    }
}

/// Applies `events` to `agent`'s slot in `journal`, if given and if it has the slot on `issue`:
/// work started outside the journal's knowledge (`clambake spawn` by hand) leaves it as it is.
pub(crate) fn journal_slot(
    journal: Option<&dyn Journal>,
    agent: &str,
    issue: u64,
    events: &[Event],
    cause: &str,
    now: Timestamp,
) -> AppResult<()> {
    let Some(journal) = journal else {
        return Ok(());
    };
    if journal.current_state(agent)?.claimed_issue() != Some(issue) {
        return Ok(());
    }
    for event in events {
        transition(journal, agent, event, cause, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::adapters::journal::SqliteJournal;
    use crate::core::lifecycle::machine::{EventKind, State, Transition};
    use crate::ports::journal::JournalResult;

    /// A journal read before another process moved the slot on.
    struct Behind<'a> {
        journal: &'a SqliteJournal,
        seen: State,
    }

    impl Journal for Behind<'_> {
        fn record(
            &self,
            a: &str,
            t: &Transition,
            c: &str,
            at: Timestamp,
        ) -> JournalResult<JournalEntry> {
            self.journal.record(a, t, c, at)
        }
        fn history(&self, agent: &str) -> JournalResult<Vec<JournalEntry>> {
            self.journal.history(agent)
        }
        fn current_state(&self, _agent: &str) -> JournalResult<State> {
            Ok(self.seen.clone())
        }
        fn current_states(&self) -> JournalResult<BTreeMap<String, State>> {
            self.journal.current_states()
        }
        fn record_failure(&self, failure: &TransitionFailure) -> JournalResult<()> {
            self.journal.record_failure(failure)
        }
        fn failures(&self) -> JournalResult<BTreeMap<(EventKind, String), u64>> {
            self.journal.failures()
        }
    }

    #[test]
    fn refused_and_stale_transitions_are_kept_as_failures_by_event_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
        let at: Timestamp = "2026-12-02T01:00:00Z".parse().unwrap();
        for _ in 0..2 {
            assert!(transition(&journal, "agent001", &Event::CompleteWork, "test", at).is_err());
        }
        let assign = Event::Assign {
            agent_id: "agent001".into(),
            issue: 3,
            branch: "agent001/3-x".into(),
        };
        transition(&journal, "agent001", &assign, "test", at).unwrap();
        let seen = journal.current_state("agent001").unwrap();
        let start = Event::StartWork { commits_ahead: 0 };
        transition(&journal, "agent001", &start, "test", at).unwrap();
        let behind = Behind {
            journal: &journal,
            seen,
        };
        assert!(transition(&behind, "agent001", &start, "late", at).is_err());
        let failures: Vec<_> = journal.failures().unwrap().into_iter().collect();
        assert_eq!(
            failures,
            [
                ((EventKind::StartWork, "stale".to_owned()), 1),
                ((EventKind::CompleteWork, "not_applicable".to_owned()), 2),
            ]
        );
    }
}
