//! The agent processes as the run loop sees them: the host's, each attempt this loop has in
//! flight alive by definition (an ended one is being judged), plus the ones with no process
//! yet (still being set up, or made by the in-process simulated agent).

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
            if processes.iter().any(|p| &p.agent == agent && p.alive) {
                continue;
            }
            let ended = processes
                .iter_mut()
                .find(|p| &p.agent == agent && p.issue == *issue);
            match ended {
                // Its agent has ended and the loop is judging the attempt right now.
                Some(ended) => {
                    ended.alive = true;
                    ended.last_activity = Some(self.now);
                }
                None => processes.push(ObservedProcess {
                    agent: agent.clone(),
                    issue: *issue,
                    attempt: None,
                    pid: None,
                    alive: true,
                    last_activity: Some(self.now),
                }),
            }
        }
        Ok(processes)
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        if self.in_flight.contains_key(agent) {
            return Err(ProcessError::InFlight {
                agent: agent.to_owned(),
            });
        }
        self.registered.stop(agent).await
    }
}
