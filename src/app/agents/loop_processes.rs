//! The agent processes as the run loop sees them: the registry's, plus the in-process agents
//! (the simulated one) this loop is running, which no registry lists but which are alive.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ports::processes::{AgentProcesses, ObservedProcess, ProcessError, ProcessResult};

pub struct LoopProcesses<'a> {
    pub registered: &'a dyn AgentProcesses,
    /// Agent to issue, for every attempt this loop has in flight.
    pub in_flight: BTreeMap<String, u64>,
    pub now: Timestamp,
}

#[async_trait]
impl AgentProcesses for LoopProcesses<'_> {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        let mut processes = self.registered.processes().await?;
        for (agent, issue) in &self.in_flight {
            if !processes.iter().any(|p| &p.agent == agent && p.alive) {
                processes.push(ObservedProcess {
                    agent: agent.clone(),
                    issue: *issue,
                    attempt: None,
                    pid: std::process::id(),
                    alive: true,
                    last_activity: Some(self.now),
                });
            }
        }
        Ok(processes)
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        if self.in_flight.contains_key(agent) {
            return Err(ProcessError::Stop {
                agent: agent.to_owned(),
                pid: std::process::id(),
                message: "its attempt is in flight in this run; stop the run first".to_owned(),
            });
        }
        self.registered.stop(agent).await
    }
}
