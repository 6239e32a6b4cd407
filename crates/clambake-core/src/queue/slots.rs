//! Whether an agent slot may start an attempt: `agents.max_concurrent` agents at most, and one
//! attempt per slot at a time.

use miette::Diagnostic;

/// An agent process that is running now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningSlot {
    pub agent: String,
    pub issue: u64,
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum SlotRefusal {
    #[error("{agent} is already working on issue #{issue} (pid {pid})")]
    #[diagnostic(help(
        "wait for it, or stop it with `clambake terminate --agent {agent}`; `clambake agent list` shows every running agent"
    ))]
    Busy { agent: String, issue: u64, pid: u32 },
    #[error("all {max} agent slots are busy ({running})")]
    #[diagnostic(help(
        "wait for one to finish, or raise the limit: `clambake config set agents.max_concurrent {}`",
        max + 1
    ))]
    Full { max: u32, running: String },
}

/// Decides whether `agent` may start while `running` agents work, with at most `max` at once.
pub fn check_slot(agent: &str, running: &[RunningSlot], max: u32) -> Result<(), SlotRefusal> {
    if let Some(busy) = running.iter().find(|r| r.agent == agent) {
        return Err(SlotRefusal::Busy {
            agent: busy.agent.clone(),
            issue: busy.issue,
            pid: busy.pid,
        });
    }
    if running.len() >= max as usize {
        let names: Vec<&str> = running.iter().map(|r| r.agent.as_str()).collect();
        return Err(SlotRefusal::Full {
            max,
            running: names.join(", "),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(agents: &[&str]) -> Vec<RunningSlot> {
        agents
            .iter()
            .zip(1..)
            .map(|(agent, n)| RunningSlot {
                agent: (*agent).to_owned(),
                issue: n,
                pid: 100 + n as u32,
            })
            .collect()
    }

    #[test]
    fn a_free_slot_under_the_limit_may_start() {
        assert_eq!(check_slot("agent001", &[], 1), Ok(()));
        assert_eq!(
            check_slot("agent003", &running(&["agent001", "agent002"]), 3),
            Ok(())
        );
    }

    #[test]
    fn the_limit_is_enforced() {
        assert_eq!(
            check_slot("agent003", &running(&["agent001", "agent002"]), 2),
            Err(SlotRefusal::Full {
                max: 2,
                running: "agent001, agent002".to_owned()
            })
        );
    }

    #[test]
    fn a_slot_runs_one_attempt_at_a_time() {
        assert_eq!(
            check_slot("agent002", &running(&["agent001", "agent002"]), 9),
            Err(SlotRefusal::Busy {
                agent: "agent002".to_owned(),
                issue: 2,
                pid: 102
            })
        );
    }
}
