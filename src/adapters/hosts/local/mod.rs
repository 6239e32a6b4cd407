//! The local agent host: agents as processes of this machine, each under a waiter that records
//! its exit, in process groups and (where Linux allows) a cgroup of its own, registered in
//! `.clambake/agents.db` under their pid and start time.

pub mod attempt_processes;
pub mod cgroup;
pub mod orphans;
pub mod process;
pub mod procfs;
pub mod registry;
pub mod said;
pub mod strays;
pub mod supervisor;
pub mod tree_usage;
pub mod waiter;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::oneshot;

use crate::core::agents::outcome::ExitStatus;
use crate::ports::agent::{LogFiles, RunningAgent};
use crate::ports::agent_host::{
    AgentHandle, AgentHost, AttemptReport, EventWindow, Limits, Said, Stopped, Stray,
};
use crate::ports::agent_registry::{RegisteredAgent, RegistryError};
use attempt_processes::AttemptProcesses;
use registry::SqliteAgentRegistry;

/// The agents of one workspace, run on this machine.
pub struct LocalHost {
    registry: SqliteAgentRegistry,
}

impl LocalHost {
    /// The host whose registry is the file `registry` (created if missing).
    pub fn open(registry: &Path) -> Result<Self, RegistryError> {
        Ok(Self {
            registry: SqliteAgentRegistry::open(registry)?,
        })
    }
}

/// The pid and start time a local handle names; a handle of another host names nothing
/// running here (pid 0).
fn local(handle: &AgentHandle) -> (u32, u64) {
    match *handle {
        AgentHandle::Local { pid, start_time } => (pid, start_time),
        AgentHandle::Actions { .. } => (0, 0),
    }
}

#[async_trait]
impl AgentHost for LocalHost {
    fn handle(&self, running: &RunningAgent) -> Option<AgentHandle> {
        let stat = procfs::stat(running.pid?)?;
        Some(AgentHandle::Local {
            pid: stat.pid,
            start_time: stat.start_time,
        })
    }

    fn register(&self, agent: &RegisteredAgent) -> Result<(), RegistryError> {
        self.registry.register(agent)
    }

    fn forget(&self, slot: &str) -> Result<(), RegistryError> {
        self.registry.remove(slot)
    }

    fn list(&self) -> Result<Vec<RegisteredAgent>, RegistryError> {
        self.registry.list()
    }

    fn is_alive(&self, handle: &AgentHandle) -> bool {
        let (pid, start_time) = local(handle);
        process::is_running(pid, start_time)
    }

    fn pid(&self, handle: &AgentHandle) -> u32 {
        // The handle names the agent's waiter, whose one child is the agent itself.
        let (pid, _) = local(handle);
        match self.is_alive(handle) {
            true => procfs::child_of(pid).unwrap_or(pid),
            false => pid,
        }
    }

    fn last_activity(&self, agent: &RegisteredAgent) -> Option<Timestamp> {
        let modified = std::fs::metadata(&agent.logs.stdout)
            .and_then(|m| m.modified())
            .ok()?;
        Timestamp::try_from(modified).ok()
    }

    async fn said(&self, log: &Path, window: EventWindow) -> std::io::Result<Said> {
        said::read(log, window).await
    }

    async fn watch(
        &self,
        running: RunningAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport> {
        supervisor::supervise(running, limits, stop).await
    }

    async fn adopt(
        &self,
        agent: &RegisteredAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport> {
        let (pid, start_time) = local(&agent.handle);
        if process::is_running(pid, start_time) {
            tracing::info!(agent = %agent.agent, pid, "re-adopting a live agent");
            let running = process::adopt(pid, start_time, &agent.logs, agent.containment.clone());
            return supervisor::supervise(running, limits, stop).await;
        }
        // Whatever it left running goes with it.
        let strays = AttemptProcesses::new(pid, Some(start_time), agent.containment.as_ref())
            .clean_up_escaped()
            .await;
        report_from_log(&agent.logs, strays).await
    }

    async fn stop(&self, agent: &RegisteredAgent, grace: Duration) -> Stopped {
        let (pid, start_time) = local(&agent.handle);
        process::terminate(pid, start_time, agent.containment.as_ref(), grace).await
    }

    async fn stop_unregistered(&self, worktree: &Path, grace: Duration) {
        strays::stop_strays(worktree, grace).await;
    }
}

/// What the log of an agent that ended unwatched says.
async fn report_from_log(logs: &LogFiles, strays: Vec<Stray>) -> std::io::Result<AttemptReport> {
    let nothing = EventWindow { from: 0, latest: 0 };
    Ok(AttemptReport {
        exit: waiter::recorded_exit(logs).unwrap_or(ExitStatus::Unknown),
        terminated: None,
        totals: said::read(&logs.stdout, nothing).await?.totals,
        last_event_at: None,
        exited_at: tokio::time::Instant::now(),
        strays,
    })
}
