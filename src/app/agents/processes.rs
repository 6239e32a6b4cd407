//! The agent process port served by the agent host: every registered agent, alive or not,
//! with its own pid and its last sign of life, and a way to stop one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::agent_host::{AgentHandle, AgentHost};
use crate::ports::processes::{AgentProcesses, ObservedProcess, ProcessError, ProcessResult};

pub struct HostProcesses {
    host: Arc<dyn AgentHost>,
    /// Between SIGTERM and SIGKILL when stopping an agent.
    grace: Duration,
}

impl HostProcesses {
    pub fn new(host: Arc<dyn AgentHost>, grace: Duration) -> Self {
        Self { host, grace }
    }
}

#[async_trait]
impl AgentProcesses for HostProcesses {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        let registered = self
            .host
            .list()
            .map_err(|e| ProcessError::Registry(e.to_string()))?;
        // Runs on GitHub Actions are alive while GitHub says they are not completed.
        self.host.refresh(&registered).await;
        Ok(registered
            .into_iter()
            .map(|agent| ObservedProcess {
                alive: self.host.is_alive(&agent.handle),
                // A run on GitHub Actions has no process here.
                pid: matches!(agent.handle, AgentHandle::Local { .. })
                    .then(|| self.host.pid(&agent.handle)),
                last_activity: self.host.last_activity(&agent),
                agent: agent.agent,
                issue: agent.issue,
                attempt: Some(agent.attempt),
            })
            .collect())
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        let registered = self
            .host
            .list()
            .map_err(|e| ProcessError::Registry(e.to_string()))?;
        for entry in registered.iter().filter(|e| e.agent == agent) {
            self.host.stop(entry, self.grace).await;
            // A run on GitHub Actions was asked to cancel: GitHub ends it, its watcher sees it.
            if let AgentHandle::Local { pid: group, .. } = entry.handle
                && self.host.is_alive(&entry.handle)
            {
                return Err(ProcessError::Stop {
                    agent: agent.to_owned(),
                    pid: self.host.pid(&entry.handle),
                    group,
                    message: "it survived SIGKILL".to_owned(),
                });
            }
        }
        Ok(())
    }
}
