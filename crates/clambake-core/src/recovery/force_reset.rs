//! `agent force-reset`: a slot back to Idle whatever it was doing, its work preserved and its
//! labels cleaned. Two phases, because committing a worktree's leftovers moves its branch:
//! [`release`] stops the process and puts the worktrees away; then, on a fresh observation,
//! [`reset`] archives each branch tip, releases the claims and journals the reset.

use std::collections::BTreeSet;

use crate::branches::name::{parse_branch_name, parse_worktree_name};
use crate::lifecycle::machine::{Event, State};
use crate::queue::labels;
use crate::recovery::drift::{Inconsistency, RefFacts, Snapshot};
use crate::recovery::plans::{
    Policy, Step, archive, comment, delete, journal, plan, relabel, stop,
};

/// Phase one: `agent`'s live process stopped, its worktrees' changes committed (or a detached
/// head archived) and the worktrees removed.
pub fn release(agent: &str, snapshot: &Snapshot, policy: Policy) -> Vec<Step> {
    let mut steps = Vec::new();
    if snapshot
        .processes
        .iter()
        .any(|p| p.agent == agent && p.alive)
    {
        steps.push(stop(agent));
    }
    for worktree in &snapshot.worktrees {
        let by_branch = worktree.branch.as_deref().and_then(parse_branch_name);
        let by_path = worktree
            .path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_worktree_name);
        let owner = by_branch.map(|o| o.agent).or(by_path.map(|(a, _)| a));
        if owner == Some(agent) {
            let orphan = Inconsistency::OrphanWorktree {
                worktree: worktree.clone(),
            };
            steps.extend(plan(&orphan, policy).steps);
        }
    }
    steps
}

/// Phase two: every issue `agent` holds (by the journal or by label) released: its branch tip
/// archived, the agent's label removed, the issue back in the queue unless it already landed
/// (its work stays on the branch for the retry; an empty branch is deleted when the policy
/// says so), a comment left; then the slot journaled back to Idle.
pub fn reset(agent: &str, state: &State, snapshot: &Snapshot, policy: Policy) -> Vec<Step> {
    let mut held: BTreeSet<u64> = snapshot
        .issues
        .iter()
        .filter(|i| i.open && i.labels.iter().any(|l| l == agent))
        .map(|i| i.number)
        .collect();
    held.extend(state.claimed_issue());
    let mut steps = Vec::new();
    for issue in held {
        let facts = snapshot.issues.iter().find(|i| i.number == issue);
        let branch = agent_branch(snapshot, agent, issue);
        if let Some(branch) = branch {
            steps.push(archive(branch));
        }
        let landed = facts.is_some_and(|f| {
            f.labels
                .iter()
                .any(|l| l == labels::REVIEW || l == labels::BUNDLED)
        });
        // Work reaches review only when an agent called it done (or a person lands it): work
        // interrupted by a reset waits on its branch for the retry to continue.
        let stage: &[&str] = if landed { &[] } else { &[labels::READY] };
        if facts.is_some_and(|f| f.open) {
            steps.push(relabel(issue, stage, &[agent]));
        }
        if let Some(empty) = branch.filter(|b| b.commits_ahead == 0)
            && policy.cleanup_abandoned_branches
        {
            steps.push(delete(empty));
        }
        let done = match branch {
            Some(b) => format!("archived `{}` and released the issue", b.name),
            None => "released the issue".to_owned(),
        };
        steps.push(comment(issue, format!("{agent} was force-reset"), &done));
    }
    if *state != (State::Idle {}) {
        steps.push(journal(agent, Event::ForceReset));
    }
    steps
}

/// The agent's branch for the issue; with several, the one furthest ahead.
fn agent_branch<'a>(snapshot: &'a Snapshot, agent: &str, issue: u64) -> Option<&'a RefFacts> {
    snapshot
        .branches
        .iter()
        .filter(|b| {
            parse_branch_name(&b.name).is_some_and(|o| o.agent == agent && o.issue == issue)
        })
        .max_by_key(|b| b.commits_ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::drift::WorktreeFacts;
    use crate::recovery::drift::tests::{branch, open_issue, process, working};

    const CLEANUP: Policy = Policy {
        cleanup_abandoned_branches: true,
    };

    fn world() -> Snapshot {
        Snapshot {
            issues: vec![
                open_issue(12, &["agent001"]),
                open_issue(13, &["agent001", labels::REVIEW]),
                open_issue(14, &["agent002"]),
            ],
            branches: vec![branch("agent001/12-fix", 2), branch("agent001/13-fix", 0)],
            worktrees: vec![WorktreeFacts {
                path: "/w/agent001-12".into(),
                head: "abc".into(),
                branch: Some("agent001/12-fix".into()),
                dirty: true,
            }],
            processes: vec![process("agent001", 12, true, 1)],
            ..Snapshot::default()
        }
    }

    #[test]
    fn release_stops_the_process_and_commits_before_removing_worktrees() {
        let steps = release("agent001", &world(), CLEANUP);
        assert_eq!(
            steps,
            [
                stop("agent001"),
                Step::CommitLeftovers {
                    worktree: "/w/agent001-12".into()
                },
                Step::RemoveWorktree {
                    worktree: "/w/agent001-12".into()
                },
            ]
        );
        assert_eq!(release("agent002", &world(), CLEANUP), []);
    }

    #[test]
    fn reset_archives_every_held_branch_and_releases_every_claim() {
        let snapshot = world();
        let state = working("agent001", 12, 2);
        let steps: Vec<Step> = reset("agent001", &state, &snapshot, CLEANUP)
            .into_iter()
            .filter(|s| !matches!(s, Step::Comment { .. }))
            .collect();
        let work = &snapshot.branches[0];
        let empty = &snapshot.branches[1];
        assert_eq!(
            steps,
            [
                archive(work),
                relabel(12, &[labels::READY], &["agent001"]),
                archive(empty),
                relabel(13, &[], &["agent001"]),
                delete(empty),
                journal("agent001", Event::ForceReset),
            ]
        );
    }

    #[test]
    fn an_idle_slot_with_a_stray_label_is_only_cleaned() {
        let snapshot = Snapshot {
            issues: vec![open_issue(20, &["agent003"])],
            ..Snapshot::default()
        };
        let steps: Vec<Step> = reset("agent003", &State::Idle {}, &snapshot, CLEANUP)
            .into_iter()
            .filter(|s| !matches!(s, Step::Comment { .. }))
            .collect();
        assert_eq!(steps, [relabel(20, &[labels::READY], &["agent003"])]);
    }
}
