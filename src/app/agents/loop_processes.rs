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

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's registrations: agent001's ended on #1, agent003's runs #3.
    struct Registered;

    #[async_trait]
    impl AgentProcesses for Registered {
        async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
            let process = |agent: &str, issue, alive| ObservedProcess {
                agent: agent.to_owned(),
                issue,
                attempt: Some(1),
                pid: Some(100 + issue as u32),
                alive,
                last_activity: Some("2026-11-21T07:00:00Z".parse().unwrap()),
            };
            Ok(vec![
                process("agent001", 1, false),
                process("agent003", 3, true),
            ])
        }

        async fn stop(&self, _agent: &str) -> ProcessResult<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn in_flight_attempts_are_alive_by_their_agents_own_pids_or_none() {
        let now: Timestamp = "2026-11-21T08:00:00Z".parse().unwrap();
        let processes = LoopProcesses {
            registered: &Registered,
            in_flight: [("agent001", 1), ("agent002", 2), ("agent003", 3)]
                .map(|(agent, issue)| (agent.to_owned(), issue))
                .into(),
            now,
        };
        let seen: Vec<_> = processes
            .processes()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.agent, p.pid, p.alive, p.last_activity))
            .collect();
        let earlier = "2026-11-21T07:00:00Z".parse().ok();
        assert_eq!(
            seen,
            [
                // Ended, and being judged now.
                ("agent001".to_owned(), Some(101), true, Some(now)),
                ("agent003".to_owned(), Some(103), true, earlier),
                // Still being set up: no process yet.
                ("agent002".to_owned(), None, true, Some(now)),
            ]
        );
        assert!(matches!(
            processes.stop("agent003").await,
            Err(ProcessError::InFlight { .. })
        ));
    }
}
