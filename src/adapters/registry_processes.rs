//! The agent process port served by the persisted registry: every registered agent process,
//! alive only if its pid still names the process that started at the recorded time, with its
//! log's last write as its last sign of life.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::adapters::agents::process::{is_running, terminate};
use crate::ports::agent_registry::AgentRegistry;
use crate::ports::processes::{AgentProcesses, ObservedProcess, ProcessError, ProcessResult};

pub struct RegistryProcesses {
    registry: Arc<dyn AgentRegistry>,
    /// Between SIGTERM and SIGKILL when stopping an agent.
    grace: Duration,
}

impl RegistryProcesses {
    pub fn new(registry: Arc<dyn AgentRegistry>, grace: Duration) -> Self {
        Self { registry, grace }
    }
}

#[async_trait]
impl AgentProcesses for RegistryProcesses {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        let registered = self
            .registry
            .list()
            .map_err(|e| ProcessError::Registry(e.to_string()))?;
        Ok(registered
            .into_iter()
            .map(|agent| {
                let last_activity = std::fs::metadata(&agent.logs.stdout)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| Timestamp::try_from(t).ok());
                ObservedProcess {
                    alive: is_running(agent.pid, agent.start_time),
                    agent: agent.agent,
                    issue: agent.issue,
                    attempt: Some(agent.attempt),
                    pid: agent.pid,
                    last_activity,
                }
            })
            .collect())
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        let registered = self
            .registry
            .list()
            .map_err(|e| ProcessError::Registry(e.to_string()))?;
        for entry in registered.iter().filter(|e| e.agent == agent) {
            terminate(
                entry.pid,
                entry.start_time,
                entry.containment.as_ref(),
                self.grace,
            )
            .await;
            if is_running(entry.pid, entry.start_time) {
                return Err(ProcessError::Stop {
                    agent: agent.to_owned(),
                    pid: entry.pid,
                    message: "it survived SIGKILL".to_owned(),
                });
            }
        }
        Ok(())
    }
}
