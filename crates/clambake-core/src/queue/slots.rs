//! The agent slots and where each runs (this machine, or GitHub Actions runners), and whether
//! a slot may start an attempt: as many agents at most as there are slots, local and remote
//! together, and one attempt per slot at a time.

use miette::Diagnostic;

use crate::config::{AgentExecutor, AgentsConfig, Config, GithubActionsConfig};
use crate::queue::labels::agent_slot;

/// How many slots `config` has, local and remote: each has its label.
pub fn slot_count(config: &Config) -> u32 {
    SlotLayout::from_config(&config.agents, &config.github_actions).total()
}

/// How many slots there are and which run on GitHub Actions: the local ones first
/// (`agent001`...), the remote ones numbered after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLayout {
    pub local: u32,
    pub remote: u32,
}

impl SlotLayout {
    /// The slots the configuration asks for: with `github_actions.enabled` off (the rollback
    /// switch), only the `max_concurrent` local ones; with `agents.executor = "actions"`,
    /// `max_concurrent` remote ones; else `max_concurrent` local ones and `actions_slots`
    /// remote ones after them.
    pub fn from_config(agents: &AgentsConfig, actions: &GithubActionsConfig) -> Self {
        Self::with_slots(agents.max_concurrent, agents, actions)
    }

    /// As [`SlotLayout::from_config`] with `slots` in place of `agents.max_concurrent` (`run
    /// --agents N`).
    pub fn with_slots(slots: u32, agents: &AgentsConfig, actions: &GithubActionsConfig) -> Self {
        match (actions.enabled, agents.executor) {
            (false, _) => Self {
                local: slots,
                remote: 0,
            },
            (true, AgentExecutor::Actions) => Self {
                local: 0,
                remote: slots,
            },
            (true, AgentExecutor::Local) => Self {
                local: slots,
                remote: agents.actions_slots,
            },
        }
    }

    /// Every slot: the most agents working at once.
    pub fn total(self) -> u32 {
        self.local + self.remote
    }

    /// Whether `agent` (a slot's name, `agent005`) is one whose attempts run on GitHub Actions.
    pub fn is_remote(self, agent: &str) -> bool {
        agent_slot(agent).is_some_and(|slot| slot > self.local && slot <= self.total())
    }
}

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

    #[test]
    fn remote_slots_follow_the_local_ones_and_the_rollback_switch_makes_them_all_local() {
        let mut agents = AgentsConfig {
            max_concurrent: 2,
            actions_slots: 3,
            ..AgentsConfig::default()
        };
        let mut actions = GithubActionsConfig {
            enabled: true,
            ..GithubActionsConfig::default()
        };
        let mixed = SlotLayout::from_config(&agents, &actions);
        assert_eq!((mixed.local, mixed.remote, mixed.total()), (2, 3, 5));
        let remote: Vec<bool> = ["agent001", "agent002", "agent003", "agent005", "agent006"]
            .iter()
            .map(|a| mixed.is_remote(a))
            .collect();
        assert_eq!(remote, [false, false, true, true, false]);
        assert!(!mixed.is_remote("not-a-slot"));
        agents.executor = AgentExecutor::Actions;
        let all = SlotLayout::with_slots(4, &agents, &actions);
        assert_eq!((all.local, all.remote), (0, 4));
        assert!(all.is_remote("agent001") && all.is_remote("agent004"));
        actions.enabled = false;
        let rolled_back = SlotLayout::from_config(&agents, &actions);
        assert_eq!((rolled_back.local, rolled_back.remote), (2, 0));
        assert!(!rolled_back.is_remote("agent001"));
    }

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
