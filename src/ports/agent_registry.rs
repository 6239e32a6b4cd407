//! What an agent host registers of each agent it starts, kept on disk so that an orchestrator
//! that restarts can find its agents again: re-adopt the live ones, classify the dead ones.

use std::path::PathBuf;

use jiff::Timestamp;
use miette::Diagnostic;

use serde::Serialize;

use super::agent::{Containment, LogFiles};

/// Names one agent for as long as anyone may ask about it, across restarts of Clambake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentHandle {
    /// A process on this machine: its pid, and its start time (from `/proc/<pid>/stat`),
    /// which together name this process and no later one that reuses the pid.
    Local { pid: u32, start_time: u64 },
    /// A workflow run on GitHub Actions, where the attempt runs on a runner: its run id.
    Actions { run_id: u64 },
}

/// One agent process, as registered when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredAgent {
    /// The slot, `agent001`: a slot runs one process at a time.
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    /// Which agent this is, wherever it runs.
    pub handle: AgentHandle,
    pub runtime: String,
    /// Whether the runtime ends with a `result` event (see `AgentRuntime::reports_result`).
    pub reports_result: bool,
    pub branch: String,
    /// The branch the work is counted against.
    pub base: String,
    pub worktree: PathBuf,
    pub logs: LogFiles,
    pub started_at: Timestamp,
    /// How the attempt's other processes are found; `None` in registrations from before
    /// Clambake recorded it.
    pub containment: Option<Containment>,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("could not {action} the agent registry {}: {source}", path.display())]
#[diagnostic(help(
    "the registry only lists running agents: if it is damaged, stop the agents and move it aside"
))]
pub struct RegistryError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}
