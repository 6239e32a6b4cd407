//! The agent host port: the one service that owns an attempt's processes from its start to
//! its registration being forgotten. It watches a started agent, registers it under an opaque
//! handle the registry persists, adopts it again after a restart, says whether it is alive,
//! what it said last and which pid it runs as, stops it, and reports what it left behind.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::core::agents::events::{AgentEvent, AttemptTotals};
use crate::core::agents::outcome::{ExitStatus, Termination};
use crate::core::config::Usd;
use crate::ports::actions::{Conclusion, RunId, RunStatus};
use crate::ports::agent::RunningAgent;
pub use crate::ports::agent::Stray;
pub use crate::ports::agent_registry::AgentHandle;
use crate::ports::agent_registry::{RegisteredAgent, RegistryError};

/// When Clambake gives up on an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest silence on stdout before the agent counts as stalled.
    pub stall: Duration,
    /// The longest an attempt may run.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The most the attempt may cost (`[budget]`): it is stopped, judged `budget`, once the
    /// cost it reports reaches this. `None`: no cap.
    pub budget: Option<Usd>,
}

/// What the host saw of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub exit: ExitStatus,
    pub terminated: Option<Termination>,
    pub totals: AttemptTotals,
    /// The heartbeat: when the last stdout line arrived.
    pub last_event_at: Option<Timestamp>,
    /// When the main process's exit was seen (before leftovers were cleaned up).
    pub exited_at: Instant,
    /// What the agent left running when it ended, all stopped since.
    pub strays: Vec<Stray>,
}

/// How [`AgentHost::stop`] stopped an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// It ended within the grace period after SIGTERM.
    Gracefully,
    /// It outlived the grace period and was sent SIGKILL.
    Killed,
    /// It was no longer running (or its handle now names another process).
    AlreadyGone,
}

/// Which of an agent's events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventWindow {
    /// Only events numbered this or higher.
    pub from: u64,
    /// At most this many, the latest.
    pub latest: usize,
}

/// One event of an agent's stream, numbered from 0 in the order the agent said it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberedEvent {
    pub number: u64,
    pub event: AgentEvent,
    /// The line as the agent wrote it, for rendering what `event` leaves out (a tool call's
    /// command); not in `--json`, which has `event`.
    #[serde(skip)]
    pub line: String,
}

/// What an agent has said so far: what all its events add up to, and those asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Said {
    pub totals: AttemptTotals,
    /// The events in the window asked for, in the order they were said.
    pub events: Vec<NumberedEvent>,
}

/// What was last seen of the workflow run an attempt on GitHub Actions is: its heartbeat,
/// kept with its registration so that every Clambake process (`monitor`, `terminate`, the
/// drift checks) reads the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunProgress {
    pub run_id: RunId,
    pub url: String,
    pub status: RunStatus,
    pub conclusion: Option<Conclusion>,
    /// The step running now (or the last one), by name.
    pub step: Option<String>,
    pub steps_done: u32,
    pub steps_total: u32,
    /// When the run, its job or a step last moved, as GitHub says.
    pub last_activity: Option<Timestamp>,
    /// When Clambake last asked.
    pub seen_at: Timestamp,
    /// The requests to GitHub the attempt has cost so far (dispatch, polls, cancel, artifact).
    pub requests: u32,
}

/// Where agents run, and who answers for them.
#[async_trait]
pub trait AgentHost: Send + Sync {
    /// The handle of an agent just started; `None` for one that has no process of its own (the
    /// in-process simulated agent) or one that ended before it could be seen.
    fn handle(&self, running: &RunningAgent) -> Option<AgentHandle>;
    /// Records a started agent, replacing what its slot had.
    fn register(&self, agent: &RegisteredAgent) -> Result<(), RegistryError>;
    /// Forgets the agent in `slot`, once its attempt's verdict has been acted on.
    fn forget(&self, slot: &str) -> Result<(), RegistryError>;
    /// Every registered agent, by slot.
    fn list(&self) -> Result<Vec<RegisteredAgent>, RegistryError>;
    /// Whether the agent `handle` names is still running.
    fn is_alive(&self, handle: &AgentHandle) -> bool;
    /// The pid of the agent's own process, as it would see itself (not the process that
    /// waits for it); once it has ended, the pid its handle names.
    fn pid(&self, handle: &AgentHandle) -> u32;
    /// When the agent last said something: the last write to its log (for a run on GitHub
    /// Actions, when it last moved).
    fn last_activity(&self, agent: &RegisteredAgent) -> Option<Timestamp>;
    /// What was last seen of the workflow run `handle` names, if it names one.
    fn run_progress(&self, _handle: &AgentHandle) -> Option<RunProgress> {
        None
    }
    /// Asks again where the agents running elsewhere stand (their runs' status), so that
    /// [`AgentHost::is_alive`], [`AgentHost::last_activity`] and
    /// [`AgentHost::run_progress`] answer from now, not from when their watcher last looked
    /// (a process that watches none of them, or a watcher that died). Local agents need none.
    async fn refresh(&self, _agents: &[RegisteredAgent]) {}
    /// What the agent whose output went to `log` (its registered or recorded stdout log) has
    /// said so far, alive or ended, registered or forgotten: the events in `window`. An agent
    /// that has not written yet has said nothing.
    async fn said(&self, log: &Path, window: EventWindow) -> std::io::Result<Said>;
    /// Watches a started agent until it has ended, its leftovers are stopped and its output
    /// is read. Sending `()` on `stop` terminates it; dropping `stop` does nothing.
    async fn watch(
        &self,
        running: RunningAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport>;
    /// Takes over an agent a previous Clambake process registered: a live one is watched
    /// again from its log until it ends, a dead one is judged from its log at once.
    async fn adopt(
        &self,
        agent: &RegisteredAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport>;
    /// Stops the agent and everything it started, whoever watches it: asked to end, `grace`
    /// to do so, then killed.
    async fn stop(&self, agent: &RegisteredAgent, grace: Duration) -> Stopped;
    /// Stops the agent processes still working in `worktree` that no registration knows (their
    /// orchestrator was killed between starting and registering them).
    async fn stop_unregistered(&self, worktree: &Path, grace: Duration);
}
