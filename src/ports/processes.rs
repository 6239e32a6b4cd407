//! The agent process port: which agent processes exist, alive or not, and how to stop one.
//! Observation and recovery read it; the agent host's registrations serve it.

use async_trait::async_trait;
use jiff::Timestamp;
use miette::Diagnostic;
use serde::Serialize;

/// An agent process as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedProcess {
    pub agent: String,
    pub issue: u64,
    /// The attempt it runs, when known.
    pub attempt: Option<u32>,
    /// The agent's own process, if it has one yet: an attempt still being set up, or one the
    /// in-process simulated agent makes, has none.
    pub pid: Option<u32>,
    /// Still running (and still the same process, not a reused pid).
    pub alive: bool,
    /// The last sign of life the registry keeps (an output event), if it keeps one.
    pub last_activity: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ProcessError {
    #[error("the agent process registry: {0}")]
    #[diagnostic(help("check that .clambake/ is readable and writable"))]
    Registry(String),
    #[error("could not stop {agent}'s process {pid}: {message}")]
    #[diagnostic(help(
        "stop its process group by hand (`kill -KILL -- -{group}`) and run the command again"
    ))]
    Stop {
        agent: String,
        pid: u32,
        /// The process group the attempt runs in, led by the process its handle names.
        group: u32,
        message: String,
    },
    #[error("{agent}'s attempt is in flight in this run; stop the run first")]
    InFlight { agent: String },
}

pub type ProcessResult<T> = Result<T, ProcessError>;

/// The agent processes of this repository.
#[async_trait]
pub trait AgentProcesses: Send + Sync {
    /// Every agent process known, alive or not.
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>>;
    /// Terminates `agent`'s live processes and waits for them to exit; none is not an error.
    async fn stop(&self, agent: &str) -> ProcessResult<()>;
}
