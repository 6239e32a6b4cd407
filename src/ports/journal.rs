//! The journal port: every lifecycle transition, kept so that a new process resumes each agent
//! slot where the last one left it, and so that `clambake agent history` can tell the story.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use miette::Diagnostic;
use serde::Serialize;

use crate::core::lifecycle::{Event, State, StateKind, Transition};

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// Increases with every entry: the order transitions happened in.
    pub id: i64,
    pub agent: String,
    pub from: State,
    pub to: State,
    pub event: Event,
    /// Who or what asked for it, in words: "claimed by the run loop", "force-reset by alice".
    pub cause: String,
    pub at: Timestamp,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum JournalError {
    #[error("the journal at {}: {message}", path.display())]
    #[diagnostic(
        code(clambake::journal::database),
        help("check that .clambake/ is writable and that no other program holds the file")
    )]
    Database { path: PathBuf, message: String },
    #[error(
        "{agent} is in state {found} in the journal, not {expected}: another clambake changed it first"
    )]
    #[diagnostic(help("run the command again: it starts from the journal's state"))]
    Stale {
        agent: String,
        expected: StateKind,
        found: StateKind,
    },
    #[error("journal entry {id} in {} ({agent}) is unreadable: {problem}", path.display())]
    #[diagnostic(help(
        "the journal was changed outside clambake: restore .clambake/journal.db from a backup, or move it aside to start a new journal"
    ))]
    Corrupt {
        path: PathBuf,
        id: i64,
        agent: String,
        problem: String,
    },
}

pub type JournalResult<T> = Result<T, JournalError>;

/// Where transitions are kept. Synchronous: a local file, written in well under a millisecond.
pub trait Journal: Send + Sync {
    /// Records `transition` of `agent`, if the journal still has the agent in
    /// `transition.from` (else [`JournalError::Stale`], and nothing is written).
    fn record(
        &self,
        agent: &str,
        transition: &Transition,
        cause: &str,
        at: Timestamp,
    ) -> JournalResult<JournalEntry>;

    /// The agent's transitions, oldest first.
    fn history(&self, agent: &str) -> JournalResult<Vec<JournalEntry>>;

    /// The agent's state after its last transition; `Idle` for an agent never seen.
    fn current_state(&self, agent: &str) -> JournalResult<State>;

    /// The last state of every agent the journal has seen, by agent id.
    fn current_states(&self) -> JournalResult<BTreeMap<String, State>>;
}

/// A finished attempt at an issue, kept so that retries are counted across restarts and a
/// failed issue's comment can tell what each attempt did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub issue: u64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub agent: String,
    pub branch: String,
    /// The classified outcome's word: `success`, `crashed`, ...
    pub outcome: String,
    pub reason: String,
    pub commits_ahead: u32,
    pub cost_usd: Option<f64>,
    pub turns: u32,
    /// The attempt's stdout log.
    pub log: String,
    pub finished_at: Timestamp,
    /// The agent CLI's session, which a retry can continue (`claude --resume`).
    pub session_id: Option<String>,
}

/// Where finished attempts are kept.
pub trait AttemptLog: Send + Sync {
    /// Records (or, for the same issue and attempt number, replaces) a finished attempt.
    fn record_attempt(&self, record: &AttemptRecord) -> JournalResult<()>;
    /// The issue's attempts, first first.
    fn attempts(&self, issue: u64) -> JournalResult<Vec<AttemptRecord>>;
}
