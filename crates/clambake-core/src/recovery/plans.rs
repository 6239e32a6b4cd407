//! Recovery plans: for each [`Inconsistency`], the steps that repair it, decided purely.
//!
//! The rule above every other: no work is lost. A branch tip is archived under
//! `refs/clambake/archive/...` before any step that could drop commits (resetting or abandoning
//! a slot that has a branch, deleting a branch), branches are deleted only when they have no
//! commits ahead of the base, and a worktree is removed only with its changes committed or its
//! detached head archived. The application executes the steps in order; each is idempotent.

use std::path::PathBuf;

use serde::Serialize;

use crate::lifecycle::machine::{Event, State};
use crate::queue::labels;
use crate::recovery::drift::{Inconsistency, RefFacts, archive_ref, archived_branch};

/// One thing to do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Terminate the agent's process group.
    StopProcess {
        agent: String,
    },
    /// Commit whatever the worktree has uncommitted, onto its branch.
    CommitLeftovers {
        worktree: PathBuf,
    },
    /// Keep `tip` under `archive_ref` (creating it again is harmless).
    ArchiveBranch {
        branch: String,
        tip: String,
        archive_ref: String,
    },
    /// Keep a detached worktree's head under `archive_ref`.
    ArchiveHead {
        worktree: PathBuf,
        head: String,
        archive_ref: String,
    },
    /// Recreate `branch` at `tip` from its archive.
    RestoreBranch {
        branch: String,
        tip: String,
        archive_ref: String,
    },
    /// Delete `branch` if it is still at `tip` (which has no commits ahead of the base).
    DeleteBranch {
        branch: String,
        tip: String,
    },
    /// `git worktree remove`: the branch stays.
    RemoveWorktree {
        worktree: PathBuf,
    },
    EditLabels {
        issue: u64,
        add: Vec<String>,
        remove: Vec<String>,
    },
    CloseIssue {
        issue: u64,
    },
    /// Apply `event` to the slot through the lifecycle and journal it.
    Journal {
        agent: String,
        event: Event,
    },
    /// Tell the issue what was found and done.
    Comment {
        issue: u64,
        body: String,
    },
    /// Nothing safe to do automatically.
    LeaveForHuman {
        reason: String,
    },
}

/// An inconsistency and how to repair it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryPlan {
    pub inconsistency: Inconsistency,
    pub steps: Vec<Step>,
}

/// The configuration the planner obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `recovery.cleanup_abandoned_branches`: delete agent branches with no commits ahead.
    pub cleanup_abandoned_branches: bool,
}

/// The repair for `inconsistency`.
pub fn plan(inconsistency: &Inconsistency, policy: Policy) -> RecoveryPlan {
    let mut steps = Vec::new();
    match inconsistency {
        Inconsistency::LabeledButNoBranch {
            issue,
            agent,
            believed,
            process_alive,
        } => {
            if *believed {
                if *process_alive {
                    steps.push(stop(agent));
                }
                steps.push(journal(agent, Event::ForceReset));
            }
            steps.push(relabel(*issue, &[labels::READY], &[agent]));
            steps.push(comment(
                *issue,
                format!("{agent} was labelled on this issue but has no branch for it"),
                "removed the label and put the issue back in the queue",
            ));
        }
        Inconsistency::BranchButNoLabel {
            agent,
            issue,
            branch,
            believed,
        } => {
            let found = format!(
                "branch `{}` exists but the issue lost its label",
                branch.name
            );
            if *believed {
                steps.push(relabel(*issue, &[agent], &[labels::READY]));
                steps.push(comment(*issue, found, &format!("restored `{agent}`")));
            } else if branch.commits_ahead > 0 {
                steps.push(archive(branch));
                steps.push(relabel(*issue, &[labels::REVIEW], &[labels::READY]));
                steps.push(comment(
                    *issue,
                    found,
                    &format!(
                        "archived its {} commit(s) and sent it to review",
                        branch.commits_ahead
                    ),
                ));
            } else if policy.cleanup_abandoned_branches {
                steps.push(archive(branch));
                steps.push(delete(branch));
                steps.push(comment(
                    *issue,
                    found,
                    "archived its tip and deleted it, as it had no commits",
                ));
            } else {
                steps.push(leave(format!(
                    "`{}` has no commits and recovery.cleanup_abandoned_branches is off",
                    branch.name
                )));
            }
        }
        Inconsistency::WorkingButNoCommits {
            agent,
            issue,
            branch,
        } => requeue(
            &mut steps,
            agent,
            *issue,
            branch.as_ref(),
            policy,
            format!("{agent} held this issue but its process was gone"),
        ),
        Inconsistency::LandedButNotFreed {
            agent,
            issue,
            state,
        } => {
            let stage: &[&str] = match state {
                State::Landed { .. } => &[labels::REVIEW],
                State::Bundled { .. } => &[labels::BUNDLED],
                _ => &[],
            };
            steps.push(relabel(*issue, stage, &[agent]));
            steps.push(comment(
                *issue,
                format!("{agent} finished here but still carried the issue's label"),
                "freed the slot's label",
            ));
        }
        // Nobody saw the attempt end, so nobody knows whether its work is done: it is kept
        // for the retry to continue, never sent to review unjudged.
        Inconsistency::ProcessDeadButWorking {
            agent,
            issue,
            branch,
        } => requeue(
            &mut steps,
            agent,
            *issue,
            Some(branch),
            policy,
            format!("{agent}'s process was gone before it reported a result"),
        ),
        Inconsistency::StaleClaim {
            agent,
            issue,
            branch,
            idle_minutes,
        } => {
            steps.push(stop(agent));
            requeue(
                &mut steps,
                agent,
                *issue,
                branch.as_ref(),
                policy,
                format!("{agent} showed no activity for {idle_minutes} minutes and was stopped"),
            );
        }
        Inconsistency::OrphanWorktree { worktree } => match (&worktree.branch, worktree.dirty) {
            (Some(_), dirty) => {
                if dirty {
                    steps.push(Step::CommitLeftovers {
                        worktree: worktree.path.clone(),
                    });
                }
                steps.push(Step::RemoveWorktree {
                    worktree: worktree.path.clone(),
                });
            }
            (None, false) => {
                steps.push(Step::ArchiveHead {
                    worktree: worktree.path.clone(),
                    head: worktree.head.clone(),
                    archive_ref: archive_ref("detached", &worktree.head),
                });
                steps.push(Step::RemoveWorktree {
                    worktree: worktree.path.clone(),
                });
            }
            (None, true) => steps.push(leave(format!(
                "{} has uncommitted changes on a detached head",
                worktree.path.display()
            ))),
        },
        Inconsistency::DuplicateClaim { claims, keep } => {
            for lost in claims.iter().filter(|c| *c != keep) {
                let add: &[&str] = if lost.issue == keep.issue {
                    &[]
                } else {
                    &[labels::READY]
                };
                steps.push(relabel(lost.issue, add, &[&lost.agent]));
                steps.push(comment(
                    lost.issue,
                    format!(
                        "{} held #{} while {} held #{}: one claim too many",
                        lost.agent, lost.issue, keep.agent, keep.issue
                    ),
                    &format!("removed `{}` from #{}", lost.agent, lost.issue),
                ));
            }
        }
        Inconsistency::ReviewButBranchMissing { issue, archive } => match archive
            .as_ref()
            .and_then(|a| Some((a, archived_branch(&a.name)?)))
        {
            Some((archive, branch)) => {
                steps.push(Step::RestoreBranch {
                    branch: branch.to_owned(),
                    tip: archive.tip.clone(),
                    archive_ref: archive.name.clone(),
                });
                steps.push(comment(
                    *issue,
                    "the issue waits for review but its branch was gone".to_owned(),
                    &format!("restored `{branch}` from `{}`", archive.name),
                ));
            }
            None => {
                steps.push(relabel(*issue, &[labels::READY], &[labels::REVIEW]));
                steps.push(comment(
                    *issue,
                    "the issue waits for review but no branch or archive exists".to_owned(),
                    "put the issue back in the queue",
                ));
            }
        },
        Inconsistency::BundledButPrClosedUnmerged {
            agent,
            issues,
            bundle_pr,
            branches,
        } => {
            steps.extend(branches.iter().map(archive));
            steps.push(journal(agent, Event::ForceReset));
            for issue in issues {
                steps.push(relabel(*issue, &[labels::REVIEW], &[labels::BUNDLED]));
                steps.push(comment(
                    *issue,
                    format!("bundle pull request #{bundle_pr} was closed without merging"),
                    "sent the issue back to review for the next train",
                ));
            }
        }
        Inconsistency::MergedButIssueOpen { agent, issue } => {
            steps.push(Step::CloseIssue { issue: *issue });
            steps.push(relabel(
                *issue,
                &[],
                &[labels::REVIEW, labels::BUNDLED, agent.as_str()],
            ));
            steps.push(comment(
                *issue,
                "the work merged but the issue stayed open".to_owned(),
                "closed it",
            ));
        }
        Inconsistency::UnjournaledClaim {
            agent,
            issue,
            branch,
        } => {
            steps.push(journal(
                agent,
                Event::Assign {
                    agent_id: agent.clone(),
                    issue: *issue,
                    branch: branch.name.clone(),
                },
            ));
            steps.push(journal(
                agent,
                Event::StartWork {
                    commits_ahead: branch.commits_ahead,
                },
            ));
        }
    }
    RecoveryPlan {
        inconsistency: inconsistency.clone(),
        steps,
    }
}

/// The attempt ended unjudged: archive whatever tip there is, free the slot, requeue. Work on
/// the branch stays there for the retry to continue; an empty branch goes if the policy says.
fn requeue(
    steps: &mut Vec<Step>,
    agent: &str,
    issue: u64,
    branch: Option<&RefFacts>,
    policy: Policy,
    found: String,
) {
    if let Some(branch) = branch {
        steps.push(archive(branch));
    }
    steps.push(journal(agent, Event::Abandon));
    steps.push(relabel(issue, &[labels::READY], &[agent]));
    let done = match branch {
        Some(branch) if branch.commits_ahead > 0 => format!(
            "freed the slot and put the issue back in the queue; its {} commit(s) stay on `{}` \
             (archived too) for the retry to continue",
            branch.commits_ahead, branch.name
        ),
        Some(branch) if policy.cleanup_abandoned_branches => {
            steps.push(delete(branch));
            "freed the slot, deleted its empty branch and put the issue back in the queue"
                .to_owned()
        }
        _ => "freed the slot and put the issue back in the queue; it left no commits".to_owned(),
    };
    steps.push(comment(issue, found, &done));
}

pub(super) fn archive(branch: &RefFacts) -> Step {
    Step::ArchiveBranch {
        branch: branch.name.clone(),
        tip: branch.tip.clone(),
        archive_ref: archive_ref(&branch.name, &branch.tip),
    }
}

pub(super) fn delete(branch: &RefFacts) -> Step {
    Step::DeleteBranch {
        branch: branch.name.clone(),
        tip: branch.tip.clone(),
    }
}

pub(super) fn stop(agent: &str) -> Step {
    Step::StopProcess {
        agent: agent.to_owned(),
    }
}

pub(super) fn journal(agent: &str, event: Event) -> Step {
    Step::Journal {
        agent: agent.to_owned(),
        event,
    }
}

pub(super) fn relabel(issue: u64, add: &[&str], remove: &[&str]) -> Step {
    Step::EditLabels {
        issue,
        add: add.iter().map(|l| (*l).to_owned()).collect(),
        remove: remove.iter().map(|l| (*l).to_owned()).collect(),
    }
}

fn leave(reason: String) -> Step {
    Step::LeaveForHuman { reason }
}

pub(super) fn comment(issue: u64, found: String, done: &str) -> Step {
    Step::Comment {
        issue,
        body: crate::forge_text::comments::recovery(&found, done),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::lifecycle::machine::Lifecycle;
    use crate::recovery::drift::tests::{branch, limits, open_issue, process, working};
    use crate::recovery::drift::{
        Claim, IssueFacts, PullRequestFacts, PullRequestStatus, Snapshot, WorktreeFacts, detect,
    };

    const CLEANUP: Policy = Policy {
        cleanup_abandoned_branches: true,
    };
    const KEEP: Policy = Policy {
        cleanup_abandoned_branches: false,
    };

    fn steps(inconsistency: Inconsistency, policy: Policy) -> Vec<Step> {
        plan(&inconsistency, policy).steps
    }

    /// The steps without their comments, for comparison.
    fn actions(inconsistency: Inconsistency, policy: Policy) -> Vec<Step> {
        steps(inconsistency, policy)
            .into_iter()
            .filter(|s| !matches!(s, Step::Comment { .. }))
            .collect()
    }

    fn labels_step(issue: u64, add: &[&str], remove: &[&str]) -> Step {
        relabel(issue, add, remove)
    }

    #[test]
    fn labeled_but_no_branch_resets_a_believed_slot_and_requeues() {
        let found = Inconsistency::LabeledButNoBranch {
            issue: 12,
            agent: "agent001".into(),
            believed: true,
            process_alive: true,
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                stop("agent001"),
                journal("agent001", Event::ForceReset),
                labels_step(12, &[labels::READY], &["agent001"]),
            ]
        );
    }

    #[test]
    fn branch_but_no_label_restores_the_label_or_sends_work_to_review() {
        let believed = Inconsistency::BranchButNoLabel {
            agent: "agent001".into(),
            issue: 12,
            branch: branch("agent001/12-fix", 2),
            believed: true,
        };
        assert_eq!(
            actions(believed, CLEANUP),
            [labels_step(12, &["agent001"], &[labels::READY])]
        );
        let work = branch("agent001/12-fix", 2);
        let unclaimed = Inconsistency::BranchButNoLabel {
            agent: "agent001".into(),
            issue: 12,
            branch: work.clone(),
            believed: false,
        };
        assert_eq!(
            actions(unclaimed, CLEANUP),
            [
                archive(&work),
                labels_step(12, &[labels::REVIEW], &[labels::READY])
            ]
        );
        let empty = branch("agent001/12-fix", 0);
        let abandoned = || Inconsistency::BranchButNoLabel {
            agent: "agent001".into(),
            issue: 12,
            branch: empty.clone(),
            believed: false,
        };
        assert_eq!(
            actions(abandoned(), CLEANUP),
            [archive(&empty), delete(&empty)]
        );
        assert!(matches!(
            actions(abandoned(), KEEP).as_slice(),
            [Step::LeaveForHuman { .. }]
        ));
    }

    #[test]
    fn working_but_no_commits_archives_abandons_and_requeues() {
        let empty = branch("agent001/12-fix", 0);
        let found = || Inconsistency::WorkingButNoCommits {
            agent: "agent001".into(),
            issue: 12,
            branch: Some(empty.clone()),
        };
        let mut expected = vec![
            archive(&empty),
            journal("agent001", Event::Abandon),
            labels_step(12, &[labels::READY], &["agent001"]),
            delete(&empty),
        ];
        assert_eq!(actions(found(), CLEANUP), expected);
        expected.pop();
        assert_eq!(actions(found(), KEEP), expected, "the branch stays");
    }

    #[test]
    fn landed_but_not_freed_swaps_the_agent_label_for_the_stage() {
        let found = Inconsistency::LandedButNotFreed {
            agent: "agent002".into(),
            issue: 13,
            state: State::Landed { issue: 13 },
        };
        assert_eq!(
            actions(found, CLEANUP),
            [labels_step(13, &[labels::REVIEW], &["agent002"])]
        );
    }

    #[test]
    fn process_dead_but_working_archives_and_requeues_keeping_the_branch() {
        let work = branch("agent001/12-fix", 2);
        let found = Inconsistency::ProcessDeadButWorking {
            agent: "agent001".into(),
            issue: 12,
            branch: work.clone(),
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                archive(&work),
                journal("agent001", Event::Abandon),
                labels_step(12, &[labels::READY], &["agent001"]),
            ],
            "never sent to review unjudged, never deleted"
        );
    }

    #[test]
    fn a_stale_claim_with_work_is_stopped_and_requeued_keeping_the_branch() {
        let work = branch("agent001/12-fix", 3);
        let found = Inconsistency::StaleClaim {
            agent: "agent001".into(),
            issue: 12,
            idle_minutes: 100,
            branch: Some(work.clone()),
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                stop("agent001"),
                archive(&work),
                journal("agent001", Event::Abandon),
                labels_step(12, &[labels::READY], &["agent001"]),
            ]
        );
    }

    #[test]
    fn stale_claim_stops_the_process_first() {
        let found = Inconsistency::StaleClaim {
            agent: "agent001".into(),
            issue: 12,
            idle_minutes: 100,
            branch: None,
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                stop("agent001"),
                journal("agent001", Event::Abandon),
                labels_step(12, &[labels::READY], &["agent001"]),
            ]
        );
    }

    #[test]
    fn orphan_worktrees_keep_their_changes() {
        let worktree = |branch: Option<&str>, dirty| Inconsistency::OrphanWorktree {
            worktree: WorktreeFacts {
                path: "/w/a".into(),
                head: "abc".into(),
                branch: branch.map(str::to_owned),
                dirty,
            },
        };
        let path = PathBuf::from("/w/a");
        assert_eq!(
            actions(worktree(Some("agent001/12-fix"), true), CLEANUP),
            [
                Step::CommitLeftovers {
                    worktree: path.clone()
                },
                Step::RemoveWorktree {
                    worktree: path.clone()
                },
            ]
        );
        assert_eq!(
            actions(worktree(None, false), CLEANUP),
            [
                Step::ArchiveHead {
                    worktree: path.clone(),
                    head: "abc".into(),
                    archive_ref: "refs/clambake/archive/detached/abc".into(),
                },
                Step::RemoveWorktree { worktree: path },
            ]
        );
        assert!(matches!(
            actions(worktree(None, true), CLEANUP).as_slice(),
            [Step::LeaveForHuman { .. }]
        ));
    }

    #[test]
    fn duplicate_claims_drop_every_claim_but_the_kept_one() {
        let claim = |agent: &str, issue| Claim {
            agent: agent.into(),
            issue,
        };
        let two_agents = Inconsistency::DuplicateClaim {
            claims: vec![claim("agent001", 12), claim("agent002", 12)],
            keep: claim("agent001", 12),
        };
        assert_eq!(
            actions(two_agents, CLEANUP),
            [labels_step(12, &[], &["agent002"])]
        );
        let two_issues = Inconsistency::DuplicateClaim {
            claims: vec![claim("agent001", 12), claim("agent001", 21)],
            keep: claim("agent001", 12),
        };
        assert_eq!(
            actions(two_issues, CLEANUP),
            [labels_step(21, &[labels::READY], &["agent001"])]
        );
    }

    #[test]
    fn review_but_branch_missing_restores_from_the_archive_or_requeues() {
        let kept = branch("refs/clambake/archive/agent002/13-fix/abc", 1);
        let found = Inconsistency::ReviewButBranchMissing {
            issue: 13,
            archive: Some(kept.clone()),
        };
        assert_eq!(
            actions(found, CLEANUP),
            [Step::RestoreBranch {
                branch: "agent002/13-fix".into(),
                tip: kept.tip,
                archive_ref: kept.name,
            }]
        );
        let lost = Inconsistency::ReviewButBranchMissing {
            issue: 13,
            archive: None,
        };
        assert_eq!(
            actions(lost, CLEANUP),
            [labels_step(13, &[labels::READY], &[labels::REVIEW])]
        );
    }

    #[test]
    fn bundled_but_pr_closed_unmerged_goes_back_to_review() {
        let work = branch("agent002/13-fix", 1);
        let found = Inconsistency::BundledButPrClosedUnmerged {
            agent: "agent002".into(),
            issues: vec![13],
            bundle_pr: 41,
            branches: vec![work.clone()],
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                archive(&work),
                journal("agent002", Event::ForceReset),
                labels_step(13, &[labels::REVIEW], &[labels::BUNDLED]),
            ]
        );
    }

    #[test]
    fn merged_but_issue_open_closes_it() {
        let found = Inconsistency::MergedButIssueOpen {
            agent: "agent003".into(),
            issue: 14,
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                Step::CloseIssue { issue: 14 },
                labels_step(14, &[], &[labels::REVIEW, labels::BUNDLED, "agent003"]),
            ]
        );
    }

    #[test]
    fn unjournaled_claims_are_adopted() {
        let found = Inconsistency::UnjournaledClaim {
            agent: "agent004".into(),
            issue: 22,
            branch: branch("agent004/22-new", 1),
        };
        assert_eq!(
            actions(found, CLEANUP),
            [
                journal(
                    "agent004",
                    Event::Assign {
                        agent_id: "agent004".into(),
                        issue: 22,
                        branch: "agent004/22-new".into(),
                    }
                ),
                journal("agent004", Event::StartWork { commits_ahead: 1 }),
            ]
        );
    }

    #[test]
    fn every_issue_touched_gets_a_comment_saying_what_was_done() {
        let found = Inconsistency::MergedButIssueOpen {
            agent: "agent003".into(),
            issue: 14,
        };
        let last = steps(found, CLEANUP).pop().unwrap();
        assert_eq!(
            last,
            Step::Comment {
                issue: 14,
                body: "Clambake recovery: the work merged but the issue stayed open; it closed it."
                    .into()
            }
        );
    }

    const AGENTS: [&str; 2] = ["agent001", "agent002"];
    const ISSUES: [u64; 2] = [12, 123];

    fn any_state() -> impl Strategy<Value = State> {
        let agent = prop::sample::select(&AGENTS[..]);
        let issue = prop::sample::select(&ISSUES[..]);
        prop_oneof![
            Just(State::Idle {}),
            (agent.clone(), issue.clone(), 0..3u32).prop_map(|(a, i, n)| working(a, i, n)),
            (agent, issue.clone()).prop_map(|(a, i)| State::Assigned {
                agent_id: a.into(),
                issue: i,
                branch: format!("{a}/{i}-fix"),
            }),
            issue.clone().prop_map(|issue| State::Landed { issue }),
            issue.clone().prop_map(|i| State::Bundled {
                issues: vec![i],
                bundle_pr: 40,
            }),
            issue.prop_map(|i| State::Merged { issues: vec![i] }),
        ]
    }

    prop_compose! {
        fn any_world()(
            labels in prop::collection::vec(
                prop::sample::subsequence(vec!["agent001", "agent002", labels::REVIEW, labels::READY], 0..3), 2),
            open in prop::collection::vec(any::<bool>(), 2),
            branches in prop::sample::subsequence(vec!["agent001/12-fix", "agent001/123-fix", "agent002/12-fix"], 0..3),
            ahead in prop::collection::vec(0..3u32, 3),
            states in prop::collection::vec(any_state(), 2),
            alive in prop::collection::vec(any::<bool>(), 2),
            quiet in prop::collection::vec(0..200i64, 2),
            pr in prop::sample::select(vec![PullRequestStatus::Open, PullRequestStatus::Closed, PullRequestStatus::Merged]),
            worktree in (any::<bool>(), any::<bool>()),
        ) -> (Snapshot, BTreeMap<String, State>) {
            let snapshot = Snapshot {
                issues: ISSUES.iter().zip(&labels).zip(&open).map(|((n, l), o)| IssueFacts {
                    open: *o,
                    ..open_issue(*n, l)
                }).collect(),
                pull_requests: vec![PullRequestFacts { number: 40, status: pr }],
                branches: branches.iter().zip(&ahead).map(|(b, a)| branch(b, *a)).collect(),
                archives: vec![],
                worktrees: vec![WorktreeFacts {
                    path: "/w/agent001".into(),
                    head: "abc".into(),
                    branch: worktree.0.then(|| "agent001/12-fix".to_owned()),
                    dirty: worktree.1,
                }],
                processes: AGENTS.iter().zip(&alive).zip(&quiet)
                    .map(|((a, l), q)| process(a, 12, *l, *q)).collect(),
                last_attempts: vec![],
            };
            // A slot's own state names its own agent.
            let believed = AGENTS.iter().zip(states).map(|(agent, state)| {
                let state = match state {
                    State::Working { issue, commits_ahead, .. } => working(agent, issue, commits_ahead),
                    State::Assigned { issue, .. } => State::Assigned {
                        agent_id: (*agent).into(),
                        issue,
                        branch: format!("{agent}/{issue}-fix"),
                    },
                    other => other,
                };
                ((*agent).to_owned(), state)
            }).collect();
            (snapshot, believed)
        }
    }

    proptest! {
        #[test]
        fn plans_never_drop_commits_and_the_lifecycle_accepts_their_events(
            (snapshot, believed) in any_world(),
            cleanup in any::<bool>(),
        ) {
            let policy = Policy { cleanup_abandoned_branches: cleanup };
            for found in detect(&snapshot, &believed, limits()) {
                let steps = plan(&found, policy).steps;
                let mut archived: Vec<(&str, &str)> = Vec::new();
                let mut slots: BTreeMap<&str, Lifecycle> = BTreeMap::new();
                let mut committed = false;
                for step in &steps {
                    match step {
                        Step::ArchiveBranch { branch, tip, archive_ref: name } => {
                            prop_assert_eq!(name, &archive_ref(branch, tip));
                            archived.push((branch, tip));
                        }
                        Step::ArchiveHead { head, .. } => archived.push(("", head)),
                        Step::CommitLeftovers { .. } => committed = true,
                        Step::DeleteBranch { branch, tip } => {
                            prop_assert!(archived.contains(&(branch.as_str(), tip.as_str())));
                            let facts = snapshot.branches.iter().find(|b| &b.name == branch);
                            prop_assert_eq!(facts.map(|b| b.commits_ahead), Some(0));
                            prop_assert!(cleanup);
                        }
                        Step::RemoveWorktree { .. } => {
                            let Inconsistency::OrphanWorktree { worktree } = &found else {
                                panic!("only orphan worktrees are removed");
                            };
                            prop_assert!(!worktree.dirty || committed);
                            prop_assert!(worktree.branch.is_some() || archived.contains(&("", worktree.head.as_str())));
                        }
                        Step::Journal { agent, event } => {
                            if matches!(event, Event::ForceReset | Event::Abandon) {
                                let held = believed.get(agent).and_then(State::claimed_issue);
                                if let Some(issue) = held {
                                    let branch = snapshot.branches.iter().find(|b| {
                                        b.name.starts_with(&format!("{agent}/{issue}-"))
                                    });
                                    if let Some(b) = branch {
                                        prop_assert!(archived.contains(&(b.name.as_str(), b.tip.as_str())),
                                            "{:?} resets {} without archiving {}", found, agent, b.name);
                                    }
                                }
                            }
                            let slot = slots.entry(agent).or_insert_with(|| Lifecycle::resume(
                                agent,
                                believed.get(agent).cloned().unwrap_or(State::Idle {}),
                            ));
                            let outcome = slot.apply(event);
                            prop_assert!(outcome.is_ok(), "{:?}: {:?}", found, outcome);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
