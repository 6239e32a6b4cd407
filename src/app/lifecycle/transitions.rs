//! Lifecycle use cases: every change of an agent slot's state goes through [`transition`],
//! which resumes the slot from the journal, lets the state machine decide, and journals the
//! outcome. The caller then acts on the returned entry.

use jiff::Timestamp;

use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::lifecycle::machine::{Event, Lifecycle};
use crate::core::queue::labels::agent_slot;
use crate::ports::journal::{Journal, JournalEntry, Store};

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
    let transition = slot.apply(event)?;
    Ok(journal.record(agent, &transition, cause, at)?)
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
