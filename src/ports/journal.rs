//! The journal port: every lifecycle transition, kept so that a new process resumes each agent
//! slot where the last one left it, and so that `clambake agent history` can tell the story.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use miette::Diagnostic;
use serde::Serialize;

use crate::core::lifecycle::machine::{Event, EventKind, State, StateKind, Transition};
use crate::core::trains::check_log::CheckEvent;
use crate::core::trains::dispatched::DepartedFrom;
use crate::core::trains::pull_request::BundleRecord;

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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Damaged(#[from] crate::ports::database::DamagedDatabase),
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

    /// Keeps a transition that failed: the machine refused it, or the journal had moved on.
    fn record_failure(&self, failure: &TransitionFailure) -> JournalResult<()>;

    /// How many transitions failed, by event and reason.
    fn failures(&self) -> JournalResult<BTreeMap<(EventKind, String), u64>>;
}

/// A transition that did not happen, kept for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionFailure {
    pub agent: String,
    pub event: EventKind,
    /// The machine's [`Refusal`](crate::core::lifecycle::machine::Refusal) kind, or `stale`.
    pub reason: String,
    pub at: Timestamp,
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
    /// The runtime that made it (`claude`, `simulated`, ...); `None` if recorded before
    /// runtimes were.
    pub runtime: Option<String>,
    /// The agent CLI's session, which a retry can continue (`claude --resume`).
    pub session_id: Option<String>,
}

impl AttemptRecord {
    /// Whether the built-in simulated agent made this attempt: nobody really worked on it.
    pub fn simulated(&self) -> bool {
        self.runtime.as_deref() == Some(SIMULATED_RUNTIME)
    }
}

/// The simulated agent's runtime name, as attempts record it.
pub const SIMULATED_RUNTIME: &str = "simulated";

/// Where finished attempts are kept.
pub trait AttemptLog: Send + Sync {
    /// Records (or, for the same issue and attempt number, replaces) a finished attempt.
    fn record_attempt(&self, record: &AttemptRecord) -> JournalResult<()>;
    /// The issue's attempts, first first.
    fn attempts(&self, issue: u64) -> JournalResult<Vec<AttemptRecord>>;
    /// The attempt `agent` made last, whatever the issue.
    fn last_attempt_by(&self, agent: &str) -> JournalResult<Option<AttemptRecord>>;
    /// Every attempt that finished at `since` or later, whatever the issue: what a day's
    /// budget and the dashboard's spend today count.
    fn finished_since(&self, since: Timestamp) -> JournalResult<Vec<AttemptRecord>>;
}

/// What trains leave behind, kept whether or not the state machine journals transitions:
/// every departure, whatever it carried (a bundle, a lone branch's pull request, or nothing at
/// all), so that a departure no bundle branch shows still uses up its slot; and the record of
/// every bundle opened, which the record in its pull request's body is checked against.
pub trait TrainLog: Send + Sync {
    /// Records (or, for the same departure, replaces) a departure.
    fn record_departure(&self, departure: &DepartureRecord) -> JournalResult<()>;
    /// The latest departure recorded, if any.
    fn last_departure(&self) -> JournalResult<Option<DepartureRecord>>;

    /// Keeps the record of a bundle Clambake is about to open (replacing an earlier one for the
    /// same branch, which never got its pull request), so that the record read back from the
    /// pull request's body, which others can edit, is checked against what Clambake wrote.
    fn record_bundle(&self, record: &BundleRecord) -> JournalResult<()>;

    /// The record kept for the bundle on `branch`, if this journal opened it.
    fn bundle_record(&self, branch: &str) -> JournalResult<Option<BundleRecord>>;

    /// Records what happened to the checks of a bundle pull request, unless the journal has it
    /// already: an event with the same key ([`CheckEvent::key`]) for the same members is
    /// replaced in place (a step that finished). Returns whether anything changed.
    fn record_bundle_check(&self, entry: &BundleCheckEntry) -> JournalResult<bool>;

    /// What happened to the checks of bundle pull request `pull_request`, in order.
    fn bundle_checks(&self, pull_request: u64) -> JournalResult<Vec<BundleCheckEntry>>;
}

/// One event of a bundle's checks, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleCheckEntry {
    pub pull_request: u64,
    /// The bundle's members as they were checked, in bundle order.
    pub members: Vec<u64>,
    pub event: CheckEvent,
    /// When it was first recorded, or last changed.
    pub at: Timestamp,
}

/// The journal, its attempts and its trains: what one store keeps, handed out as one port.
pub trait Store: Journal + AttemptLog + TrainLog {}

impl<T: Journal + AttemptLog + TrainLog + ?Sized> Store for T {}

/// One departure of a train.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepartureRecord {
    /// The departure's slot (or, forced, its moment): the name of its first bundle.
    pub at: Timestamp,
    /// The pull requests it opened or found open; none when nothing was ready.
    pub pull_requests: Vec<u64>,
    /// Here, by the bundling workflow's run, or here because that run did not make it.
    pub made_by: DepartedFrom,
}
