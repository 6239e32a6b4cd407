//! Finished work waiting to land: a slot that holds an issue whose agent has ended, with a
//! successful verdict recorded that nothing has acted on yet (`clambake spawn` leaves its
//! work for `clambake land`; a run killed between judging an attempt and landing it leaves
//! the same). This is not drift to repair: `land`, or the next run, lands it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::branches::name::parse_branch_name;
use crate::lifecycle::machine::State;
use crate::recovery::drift::Snapshot;

/// A busy slot's work that succeeded and waits for `land`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinishedWork {
    pub agent: String,
    pub issue: u64,
    /// The attempt whose success is recorded.
    pub attempt: u32,
    pub branch: String,
    pub commits_ahead: u32,
}

/// Every slot the `believed` states have busy whose agent is gone, whose issue's last recorded
/// attempt is its own success, with no later attempt registered since (one that a dead
/// process left unjudged), and whose branch still has the commits to land.
pub fn finished_work(snapshot: &Snapshot, believed: &BTreeMap<String, State>) -> Vec<FinishedWork> {
    believed
        .iter()
        .filter_map(|(agent, state)| finished(snapshot, agent, state.claimed_issue()?))
        .collect()
}

fn finished(snapshot: &Snapshot, agent: &str, issue: u64) -> Option<FinishedWork> {
    let verdict = snapshot
        .last_attempts
        .iter()
        .find(|a| a.issue == issue && a.agent == agent && a.succeeded)?;
    let mut processes = snapshot
        .processes
        .iter()
        .filter(|p| p.agent == agent && p.issue == issue);
    // A process still running, or one whose attempt is unknown or later than the verdict,
    // may have more to say.
    let superseded = processes.any(|p| p.alive || p.attempt.is_none_or(|a| a > verdict.attempt));
    if superseded {
        return None;
    }
    let branch = snapshot
        .branches
        .iter()
        .filter(|b| {
            parse_branch_name(&b.name)
                .is_some_and(|owner| owner.agent == agent && owner.issue == issue)
        })
        .max_by_key(|b| b.commits_ahead)
        .filter(|b| b.commits_ahead > 0)?;
    Some(FinishedWork {
        agent: agent.to_owned(),
        issue,
        attempt: verdict.attempt,
        branch: branch.name.clone(),
        commits_ahead: branch.commits_ahead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::drift::tests::{branch, now, open_issue, working};
    use crate::recovery::drift::{AttemptFacts, ProcessFacts};

    fn verdict(agent: &str, attempt: u32, succeeded: bool) -> AttemptFacts {
        AttemptFacts {
            issue: 12,
            agent: agent.to_owned(),
            attempt,
            succeeded,
        }
    }

    fn process(attempt: Option<u32>, alive: bool) -> ProcessFacts {
        ProcessFacts {
            agent: "agent001".into(),
            issue: 12,
            attempt,
            alive,
            last_activity: now(),
        }
    }

    /// agent001 holds #12, its branch 2 ahead, its agent gone.
    fn world(last: AttemptFacts, processes: Vec<ProcessFacts>) -> Vec<FinishedWork> {
        let snapshot = Snapshot {
            issues: vec![open_issue(12, &["agent001"])],
            branches: vec![branch("agent001/12-fix", 2)],
            processes,
            last_attempts: vec![last],
            ..Snapshot::default()
        };
        let believed = BTreeMap::from([("agent001".to_owned(), working("agent001", 12, 2))]);
        finished_work(&snapshot, &believed)
    }

    #[test]
    fn a_recorded_success_with_no_process_is_finished_work() {
        let found = world(verdict("agent001", 3, true), vec![]);
        assert_eq!(
            found,
            [FinishedWork {
                agent: "agent001".into(),
                issue: 12,
                attempt: 3,
                branch: "agent001/12-fix".into(),
                commits_ahead: 2,
            }]
        );
        let judged = world(verdict("agent001", 3, true), vec![process(Some(3), false)]);
        assert_eq!(
            judged.len(),
            1,
            "the registration of the judged attempt itself"
        );
    }

    #[test]
    fn anything_that_may_have_more_to_say_is_not_finished_work() {
        assert_eq!(world(verdict("agent001", 3, false), vec![]), []);
        assert_eq!(
            world(verdict("agent002", 3, true), vec![]),
            [],
            "another slot's"
        );
        let later = world(verdict("agent001", 3, true), vec![process(Some(4), false)]);
        assert_eq!(later, [], "a later attempt ended unjudged");
        let unknown = world(verdict("agent001", 3, true), vec![process(None, false)]);
        assert_eq!(unknown, []);
        let running = world(verdict("agent001", 3, true), vec![process(Some(3), true)]);
        assert_eq!(running, []);
    }

    #[test]
    fn a_branch_with_nothing_left_to_land_is_not_finished_work() {
        let snapshot = Snapshot {
            branches: vec![branch("agent001/12-fix", 0)],
            last_attempts: vec![verdict("agent001", 1, true)],
            ..Snapshot::default()
        };
        let believed = BTreeMap::from([("agent001".to_owned(), working("agent001", 12, 0))]);
        assert_eq!(finished_work(&snapshot, &believed), []);
    }
}
