//! Routing: which ready issues go to which free agent slots, highest priority first.

use std::collections::{BTreeMap, BTreeSet};

use crate::queue::labels::{agent_label, priority_rank};
use crate::queue::standing::{Stage, stage};

/// An open issue as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIssue {
    pub number: u64,
    pub labels: Vec<String>,
}

/// Give `issue` to the agent slot `agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub agent: String,
    pub issue: u64,
}

/// Pairs free slots (`agent001..agentN` not in `busy`) with ready issues, ordered by priority
/// label then issue number; `held_back` issues (waiting out a retry backoff, or on open
/// blockers: see [`crate::queue::blocking`]) are skipped. An
/// issue gets its `preferred` slot (the one that tried it before, so that the retry continues
/// on that slot's branch) when that slot is free, else the lowest free one.
/// Only issues whose labels put them at [`Stage::Ready`] qualify: claimed, landed, failed and
/// `human-only` issues never do.
pub fn plan_claims(
    open: &[OpenIssue],
    busy: &BTreeSet<String>,
    max_concurrent: u32,
    held_back: &BTreeSet<u64>,
    preferred: &BTreeMap<u64, String>,
) -> Vec<Claim> {
    let mut free: BTreeSet<String> = (1..=max_concurrent)
        .map(agent_label)
        .filter(|agent| !busy.contains(agent))
        .collect();
    let mut ready: Vec<&OpenIssue> = open
        .iter()
        .filter(|issue| stage(issue.labels.iter().map(String::as_str)) == Stage::Ready)
        .filter(|issue| !held_back.contains(&issue.number))
        .collect();
    ready.sort_by_key(|issue| {
        (
            priority_rank(issue.labels.iter().map(String::as_str)),
            issue.number,
        )
    });
    let mut claims = Vec::new();
    for issue in ready {
        let agent = match preferred.get(&issue.number) {
            Some(agent) if free.contains(agent) => agent.clone(),
            _ => match free.first() {
                Some(lowest) => lowest.clone(),
                None => break,
            },
        };
        free.remove(&agent);
        claims.push(Claim {
            agent,
            issue: issue.number,
        });
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(number: u64, labels: &[&str]) -> OpenIssue {
        OpenIssue {
            number,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn claims(plan: &[Claim]) -> Vec<(&str, u64)> {
        plan.iter().map(|c| (c.agent.as_str(), c.issue)).collect()
    }

    #[test]
    fn priority_then_age_fills_the_lowest_free_slots() {
        let open = [
            issue(1, &["route:ready"]),
            issue(2, &["route:ready", "route:priority-low"]),
            issue(3, &["route:ready", "route:priority-high"]),
            issue(4, &["route:ready"]),
        ];
        let busy = BTreeSet::from(["agent001".to_owned()]);
        let plan = plan_claims(&open, &busy, 3, &BTreeSet::new(), &BTreeMap::new());
        assert_eq!(claims(&plan), [("agent002", 3), ("agent003", 1)]);
    }

    #[test]
    fn only_ready_issues_are_routed() {
        let open = [
            issue(1, &["route:ready", "human-only"]),
            issue(2, &["route:ready", "agent005"]),
            issue(3, &["route:review"]),
            issue(4, &["route:failed", "route:ready"]),
            issue(5, &[]),
            issue(6, &["route:ready"]),
        ];
        let plan = plan_claims(
            &open,
            &BTreeSet::new(),
            4,
            &BTreeSet::new(),
            &BTreeMap::new(),
        );
        assert_eq!(claims(&plan), [("agent001", 6)]);
    }

    #[test]
    fn held_back_issues_wait_and_full_slots_take_nothing() {
        let open = [issue(1, &["route:ready"]), issue(2, &["route:ready"])];
        let plan = plan_claims(
            &open,
            &BTreeSet::new(),
            2,
            &BTreeSet::from([1]),
            &BTreeMap::new(),
        );
        assert_eq!(claims(&plan), [("agent001", 2)]);
        let busy = BTreeSet::from(["agent001".to_owned(), "agent002".to_owned()]);
        assert!(plan_claims(&open, &busy, 2, &BTreeSet::new(), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_retry_goes_back_to_its_slot_when_that_slot_is_free() {
        let open = [issue(1, &["route:ready"]), issue(2, &["route:ready"])];
        let preferred = BTreeMap::from([(2, "agent003".to_owned())]);
        let plan = plan_claims(&open, &BTreeSet::new(), 3, &BTreeSet::new(), &preferred);
        assert_eq!(claims(&plan), [("agent001", 1), ("agent003", 2)]);
        let busy = BTreeSet::from(["agent003".to_owned()]);
        let plan = plan_claims(&open, &busy, 3, &BTreeSet::new(), &preferred);
        assert_eq!(claims(&plan), [("agent001", 1), ("agent002", 2)]);
    }
}
