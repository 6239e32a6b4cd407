//! Drift detection: what the journal believes about each agent slot, compared with what the
//! forge, git and the process registry say. Pure: the application gathers a [`Snapshot`] and
//! the journal's states, and gets back every [`Inconsistency`] with its evidence.

mod elsewhere;
pub mod finished_work;
mod inconsistency;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use crate::branches::name::{BranchOwner, parse_branch_name};
use crate::branches::refname::validate_branch_name;
use crate::lifecycle::machine::State;
use crate::queue::labels;
use crate::recovery::drift::finished_work::finished_work;

pub use elsewhere::leave_out;
pub use inconsistency::{Claim, Inconsistency};
pub use snapshot::{
    ARCHIVE_PREFIX, AttemptFacts, IssueFacts, ProcessFacts, PullRequestFacts, PullRequestStatus,
    RefFacts, Snapshot, WorktreeFacts, archive_ref, archived_branch,
};

/// What counts as stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub now: Timestamp,
    /// `recovery.max_stuck_time_minutes`.
    pub max_stuck: SignedDuration,
}

/// The snapshot, indexed for the checks.
struct World<'a> {
    snapshot: &'a Snapshot,
    believed: &'a BTreeMap<String, State>,
    /// Agent branches by (agent, issue).
    branches: BTreeMap<BranchOwner<'a>, Vec<&'a RefFacts>>,
}

impl<'a> World<'a> {
    fn new(snapshot: &'a Snapshot, believed: &'a BTreeMap<String, State>) -> Self {
        let mut branches: BTreeMap<BranchOwner<'a>, Vec<&'a RefFacts>> = BTreeMap::new();
        for branch in &snapshot.branches {
            if let Some(owner) = parse_branch_name(&branch.name)
                && validate_branch_name(&branch.name).is_ok()
            {
                branches.entry(owner).or_default().push(branch);
            }
        }
        Self {
            snapshot,
            believed,
            branches,
        }
    }

    /// The agent's branch for the issue; with several, the one furthest ahead.
    fn branch(&self, agent: &str, issue: u64) -> Option<&'a RefFacts> {
        self.branches
            .get(&BranchOwner { agent, issue })?
            .iter()
            .copied()
            .max_by_key(|b| (b.commits_ahead, std::cmp::Reverse(&b.name)))
    }

    fn any_branch_for(&self, issue: u64) -> bool {
        self.branches.keys().any(|owner| owner.issue == issue)
    }

    /// The issue the journal has `agent` holding, if it is busy.
    fn believed_claim(&self, agent: &str) -> Option<u64> {
        self.believed.get(agent).and_then(State::claimed_issue)
    }

    /// The live process working for `agent` on `issue`.
    fn live_process(&self, agent: &str, issue: u64) -> Option<&'a ProcessFacts> {
        self.snapshot
            .processes
            .iter()
            .filter(|p| p.agent == agent && p.issue == issue && p.alive)
            .max_by_key(|p| p.last_activity)
    }

    fn issue(&self, number: u64) -> Option<&'a IssueFacts> {
        self.snapshot.issues.iter().find(|i| i.number == number)
    }

    fn open_issues(&self) -> impl Iterator<Item = &'a IssueFacts> {
        self.snapshot.issues.iter().filter(|i| i.open)
    }
}

/// What the labels alone say about the slots, for when the state machine is disabled
/// (`[state_machine] enabled = false`): an agent labelled on an open issue that has its branch
/// is working on it. An agent on several issues holds the lowest; the rest are duplicates.
pub fn believed_from_labels(snapshot: &Snapshot) -> BTreeMap<String, State> {
    let empty = BTreeMap::new();
    let world = World::new(snapshot, &empty);
    let mut believed = BTreeMap::new();
    for issue in world.open_issues() {
        for agent in issue.agents() {
            if believed.contains_key(agent) {
                continue;
            }
            if let Some(branch) = world.branch(agent, issue.number) {
                let state = State::Working {
                    agent_id: agent.to_owned(),
                    issue: issue.number,
                    branch: branch.name.clone(),
                    commits_ahead: branch.commits_ahead,
                };
                believed.insert(agent.to_owned(), state);
            }
        }
    }
    believed
}

/// Every inconsistency between the journal's `believed` states (by agent) and `snapshot`.
pub fn detect(
    snapshot: &Snapshot,
    believed: &BTreeMap<String, State>,
    limits: Limits,
) -> Vec<Inconsistency> {
    let world = World::new(snapshot, believed);
    let mut found = Vec::new();
    let duplicates = duplicate_claims(&world, &mut found);
    label_checks(&world, &duplicates, &mut found);
    let finished: BTreeSet<Claim> = finished_work(snapshot, believed)
        .into_iter()
        .map(|work| claim(&work.agent, work.issue))
        .collect();
    busy_slot_checks(&world, limits, &finished, &mut found);
    free_slot_checks(&world, &mut found);
    branch_checks(&world, &mut found);
    worktree_checks(&world, &mut found);
    found
}

/// Two agent labels on one issue, or one agent on two issues (by label or by the journal).
/// Returns the claims that lose, so that the other checks leave them to this one's recovery plan.
fn duplicate_claims(world: &World<'_>, found: &mut Vec<Inconsistency>) -> BTreeSet<Claim> {
    let mut losing = BTreeSet::new();
    let mut by_agent: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for issue in world.open_issues() {
        let agents = issue.agents();
        for agent in &agents {
            by_agent.entry(agent).or_default().insert(issue.number);
        }
        if agents.len() > 1 {
            // Keep the claim the journal knows, else the one with a branch, else the first.
            let mut ranked: Vec<&str> = agents.iter().copied().collect();
            ranked.sort_by_key(|agent| {
                (
                    world.believed_claim(agent) != Some(issue.number),
                    world.branch(agent, issue.number).is_none(),
                    *agent,
                )
            });
            let keep_agent = ranked[0];
            let claims: Vec<Claim> = agents
                .iter()
                .map(|agent| claim(agent, issue.number))
                .collect();
            let keep = claim(keep_agent, issue.number);
            losing.extend(claims.iter().filter(|c| **c != keep).cloned());
            found.push(Inconsistency::DuplicateClaim { claims, keep });
        }
    }
    for (agent, state) in world.believed {
        if let Some(issue) = state.claimed_issue() {
            by_agent.entry(agent).or_default().insert(issue);
        }
    }
    for (agent, issues) in by_agent {
        if issues.len() < 2 {
            continue;
        }
        let mut ranked: Vec<u64> = issues.iter().copied().collect();
        ranked.sort_by_key(|issue| {
            (
                world.believed_claim(agent) != Some(*issue),
                world.branch(agent, *issue).is_none(),
                *issue,
            )
        });
        let keep_issue = ranked[0];
        let claims: Vec<Claim> = issues.iter().map(|i| claim(agent, *i)).collect();
        let keep = claim(agent, keep_issue);
        losing.extend(claims.iter().filter(|c| **c != keep).cloned());
        found.push(Inconsistency::DuplicateClaim { claims, keep });
    }
    losing
}

fn claim(agent: &str, issue: u64) -> Claim {
    Claim {
        agent: agent.to_owned(),
        issue,
    }
}

/// Agent labels on open issues against branches and the journal.
fn label_checks(world: &World<'_>, losing: &BTreeSet<Claim>, found: &mut Vec<Inconsistency>) {
    for issue in world.open_issues() {
        if issue.has(labels::REVIEW) && !world.any_branch_for(issue.number) {
            let archive = world
                .snapshot
                .archives
                .iter()
                .filter(|a| {
                    archived_branch(&a.name)
                        .and_then(parse_branch_name)
                        .is_some_and(|owner| owner.issue == issue.number)
                })
                .max_by_key(|a| a.commits_ahead)
                .cloned();
            found.push(Inconsistency::ReviewButBranchMissing {
                issue: issue.number,
                archive,
            });
        }
        for agent in issue.agents() {
            if losing.contains(&claim(agent, issue.number)) {
                continue;
            }
            let state = world.believed.get(agent);
            let believed = world.believed_claim(agent) == Some(issue.number);
            match world.branch(agent, issue.number) {
                None => found.push(Inconsistency::LabeledButNoBranch {
                    issue: issue.number,
                    agent: agent.to_owned(),
                    believed,
                    process_alive: world.live_process(agent, issue.number).is_some(),
                }),
                Some(_) if believed => {}
                Some(branch) => match state {
                    Some(state) if freed_work(state).contains(&issue.number) => {
                        found.push(Inconsistency::LandedButNotFreed {
                            agent: agent.to_owned(),
                            issue: issue.number,
                            state: state.clone(),
                        });
                    }
                    Some(state) if state.claimed_issue().is_some() => {}
                    _ => found.push(Inconsistency::UnjournaledClaim {
                        agent: agent.to_owned(),
                        issue: issue.number,
                        branch: branch.clone(),
                    }),
                },
            }
        }
    }
}

/// The issues of a free slot's last work.
fn freed_work(state: &State) -> Vec<u64> {
    match state {
        State::Landed { issue } => vec![*issue],
        State::Bundled { issues, .. } | State::Merged { issues } => issues.clone(),
        _ => Vec::new(),
    }
}

/// Busy slots against their processes and branches; `finished` ones wait for `land`.
fn busy_slot_checks(
    world: &World<'_>,
    limits: Limits,
    finished: &BTreeSet<Claim>,
    found: &mut Vec<Inconsistency>,
) {
    for (agent, state) in world.believed {
        let Some(issue) = state.claimed_issue() else {
            continue;
        };
        if finished.contains(&claim(agent, issue)) {
            continue;
        }
        let branch = world.branch(agent, issue);
        match world.live_process(agent, issue) {
            Some(process) => {
                let idle = limits.now.duration_since(process.last_activity);
                if idle > limits.max_stuck {
                    found.push(Inconsistency::StaleClaim {
                        agent: agent.clone(),
                        issue,
                        idle_minutes: idle.as_mins(),
                        branch: branch.cloned(),
                    });
                }
            }
            None => match branch {
                Some(branch) if branch.commits_ahead > 0 => {
                    found.push(Inconsistency::ProcessDeadButWorking {
                        agent: agent.clone(),
                        issue,
                        branch: branch.clone(),
                    });
                }
                _ => found.push(Inconsistency::WorkingButNoCommits {
                    agent: agent.clone(),
                    issue,
                    branch: branch.cloned(),
                }),
            },
        }
    }
}

/// Free slots whose work the world moved past the journal.
fn free_slot_checks(world: &World<'_>, found: &mut Vec<Inconsistency>) {
    for (agent, state) in world.believed {
        match state {
            State::Bundled { issues, bundle_pr } => {
                let closed =
                    world.snapshot.pull_requests.iter().any(|pr| {
                        pr.number == *bundle_pr && pr.status == PullRequestStatus::Closed
                    });
                if closed {
                    found.push(Inconsistency::BundledButPrClosedUnmerged {
                        agent: agent.clone(),
                        issues: issues.clone(),
                        bundle_pr: *bundle_pr,
                        branches: issues
                            .iter()
                            .filter_map(|i| world.branch(agent, *i).cloned())
                            .collect(),
                    });
                }
            }
            State::Merged { issues } => {
                for issue in issues {
                    if world.issue(*issue).is_some_and(|i| i.open) {
                        found.push(Inconsistency::MergedButIssueOpen {
                            agent: agent.clone(),
                            issue: *issue,
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Agent branches of open issues that nothing claims.
fn branch_checks(world: &World<'_>, found: &mut Vec<Inconsistency>) {
    for (owner, branches) in &world.branches {
        let Some(issue) = world.issue(owner.issue).filter(|i| i.open) else {
            continue;
        };
        // Landed work waits on review or bundled; a failed issue keeps its branch for a
        // person, and so does one a person took over (human-only); a ready one keeps an
        // earlier attempt's branch for the retry to continue, and a claimed one for the
        // retrying slot to take over.
        let believed = world.believed_claim(owner.agent) == Some(owner.issue);
        let retried_elsewhere = !believed && !issue.agents().is_empty();
        let accounted_for = issue.has(owner.agent)
            || retried_elsewhere
            || [
                labels::REVIEW,
                labels::BUNDLED,
                labels::FAILED,
                labels::READY,
                labels::HUMAN_ONLY,
            ]
            .iter()
            .any(|label| issue.has(label));
        if accounted_for {
            continue;
        }
        for branch in branches {
            found.push(Inconsistency::BranchButNoLabel {
                agent: owner.agent.to_owned(),
                issue: owner.issue,
                branch: (*branch).clone(),
                believed,
            });
        }
    }
}

/// Agent worktrees whose branch no busy slot holds.
fn worktree_checks(world: &World<'_>, found: &mut Vec<Inconsistency>) {
    for worktree in &world.snapshot.worktrees {
        let owner = worktree.branch.as_deref().and_then(parse_branch_name);
        // In use by the slot the journal has on it, or by a live agent the journal lags
        // behind (one a run is adopting): removing it would pull it from under that agent.
        let in_use = owner.is_some_and(|owner| {
            world.believed_claim(owner.agent) == Some(owner.issue)
                || world.live_process(owner.agent, owner.issue).is_some()
        });
        // A failed attempt's worktree is kept on purpose, for a person to look at.
        let kept_for_inspection = owner.is_some_and(|owner| {
            world
                .issue(owner.issue)
                .is_some_and(|i| i.open && i.has(labels::FAILED))
        });
        if !in_use && !kept_for_inspection {
            found.push(Inconsistency::OrphanWorktree {
                worktree: worktree.clone(),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn open_issue(number: u64, labels: &[&str]) -> IssueFacts {
        IssueFacts {
            number,
            open: true,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    pub fn branch(name: &str, commits_ahead: u32) -> RefFacts {
        RefFacts {
            name: name.to_owned(),
            tip: format!("{:040x}", name.len() as u32 * 7919 + commits_ahead),
            commits_ahead,
        }
    }

    pub fn now() -> Timestamp {
        "2026-11-21T12:00:00Z".parse().unwrap()
    }

    pub fn process(agent: &str, issue: u64, alive: bool, minutes_ago: i64) -> ProcessFacts {
        ProcessFacts {
            agent: agent.to_owned(),
            issue,
            attempt: Some(1),
            alive,
            last_activity: now() - SignedDuration::from_mins(minutes_ago),
        }
    }

    pub fn working(agent: &str, issue: u64, commits_ahead: u32) -> State {
        State::Working {
            agent_id: agent.to_owned(),
            issue,
            branch: format!("{agent}/{issue}-fix"),
            commits_ahead,
        }
    }

    pub fn limits() -> Limits {
        Limits {
            now: now(),
            max_stuck: SignedDuration::from_mins(90),
        }
    }

    fn believed(states: &[(&str, State)]) -> BTreeMap<String, State> {
        states
            .iter()
            .map(|(agent, state)| ((*agent).to_owned(), state.clone()))
            .collect()
    }

    /// agent001 works on #12; agent002 landed #13; agent003 merged #14 (closed).
    fn healthy() -> (Snapshot, BTreeMap<String, State>) {
        let snapshot = Snapshot {
            issues: vec![
                open_issue(12, &["agent001"]),
                open_issue(13, &[labels::REVIEW]),
                IssueFacts {
                    number: 14,
                    open: false,
                    labels: vec![],
                },
            ],
            pull_requests: vec![PullRequestFacts {
                number: 40,
                status: PullRequestStatus::Merged,
            }],
            branches: vec![
                branch("main", 0),
                branch("agent001/12-fix", 2),
                branch("agent002/13-fix", 1),
            ],
            archives: vec![],
            worktrees: vec![WorktreeFacts {
                path: "/w/agent001".into(),
                head: "abc".into(),
                branch: Some("agent001/12-fix".into()),
                dirty: true,
            }],
            processes: vec![
                process("agent001", 12, true, 5),
                process("agent002", 13, false, 60),
            ],
            last_attempts: vec![],
        };
        let believed = believed(&[
            ("agent001", working("agent001", 12, 2)),
            ("agent002", State::Landed { issue: 13 }),
            ("agent003", State::Merged { issues: vec![14] }),
        ]);
        (snapshot, believed)
    }

    #[test]
    fn a_healthy_world_has_no_inconsistency() {
        let (snapshot, believed) = healthy();
        assert_eq!(detect(&snapshot, &believed, limits()), []);
    }

    #[test]
    fn agent_branches_are_parsed_exactly() {
        let owner = |name| parse_branch_name(name).map(|o| (o.agent, o.issue));
        assert_eq!(owner("agent001/12-fix"), Some(("agent001", 12)));
        assert_eq!(owner("agent001/123-fix-12"), Some(("agent001", 123)));
        assert_eq!(owner("agent010/7-a-b-c"), Some(("agent010", 7)));
        for name in [
            "agent001/12",
            "agent001/12-",
            "agent001/012-x",
            "agent001/x12-y",
            "agent001/-x",
            "robot/12-x",
            "agent000/12-x",
            "main",
            "clambake/bundle-20261121",
        ] {
            assert_eq!(owner(name), None, "{name}");
        }
    }

    #[test]
    fn issue_12_never_matches_branch_123() {
        let (mut snapshot, believed) = healthy();
        snapshot.branches = vec![branch("agent001/123-fix", 2)];
        let found = detect(&snapshot, &believed, limits());
        assert!(
            found.contains(&Inconsistency::LabeledButNoBranch {
                issue: 12,
                agent: "agent001".into(),
                believed: true,
                process_alive: true,
            }),
            "{found:#?}"
        );
    }

    #[test]
    fn labeled_but_no_branch() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues.push(open_issue(20, &["agent004"]));
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::LabeledButNoBranch {
                issue: 20,
                agent: "agent004".into(),
                believed: false,
                process_alive: false,
            }]
        );
    }

    #[test]
    fn branch_but_no_label() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues[0].labels.clear();
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::BranchButNoLabel {
                agent: "agent001".into(),
                issue: 12,
                branch: branch("agent001/12-fix", 2),
                believed: true,
            }]
        );
    }

    #[test]
    fn a_branch_of_an_issue_a_person_took_over_is_theirs() {
        let (mut snapshot, _) = healthy();
        snapshot.issues[0].labels = vec![labels::HUMAN_ONLY.to_owned()];
        snapshot.processes.clear();
        snapshot.worktrees.clear();
        let idle = believed(&[("agent001", State::Idle {})]);
        assert_eq!(detect(&snapshot, &idle, limits()), []);
    }

    #[test]
    fn a_retry_on_another_slot_accounts_for_the_earlier_attempts_branch() {
        let (mut snapshot, _) = healthy();
        snapshot.issues[0].labels = vec!["agent004".to_owned()];
        snapshot.branches.push(branch("agent004/12-fix", 0));
        snapshot.worktrees.clear();
        snapshot.processes = vec![process("agent004", 12, true, 1)];
        let retrying = believed(&[
            ("agent001", State::Idle {}),
            ("agent004", working("agent004", 12, 0)),
        ]);
        let found = detect(&snapshot, &retrying, limits());
        assert!(
            !found
                .iter()
                .any(|i| matches!(i, Inconsistency::BranchButNoLabel { .. })),
            "{found:#?}"
        );
        // The slot that still believes it holds the issue has lost its label: that is drift.
        let both = believed(&[
            ("agent001", working("agent001", 12, 2)),
            ("agent004", working("agent004", 12, 0)),
        ]);
        let found = detect(&snapshot, &both, limits());
        assert!(
            found.contains(&Inconsistency::BranchButNoLabel {
                agent: "agent001".into(),
                issue: 12,
                branch: branch("agent001/12-fix", 2),
                believed: true,
            }),
            "{found:#?}"
        );
    }

    #[test]
    fn a_failed_or_requeued_issue_keeps_its_branch_and_a_failed_one_its_worktree() {
        for label in [labels::FAILED, labels::READY] {
            let (mut snapshot, _) = healthy();
            snapshot.issues[0].labels = vec![label.to_owned()];
            snapshot.processes.clear();
            let idle = believed(&[("agent001", State::Idle {})]);
            let found = detect(&snapshot, &idle, limits());
            let expected_orphan = label == labels::READY;
            assert_eq!(
                found.iter().map(Inconsistency::kind).collect::<Vec<_>>(),
                if expected_orphan {
                    vec!["OrphanWorktree"]
                } else {
                    vec![]
                },
                "{label}: {found:?}"
            );
        }
    }

    #[test]
    fn a_worktree_whose_agent_is_alive_is_no_orphan_while_the_journal_lags() {
        let (snapshot, _) = healthy();
        let idle = believed(&[("agent001", State::Idle {}), ("agent002", State::Idle {})]);
        let found = detect(&snapshot, &idle, limits());
        assert!(
            !found.iter().any(|f| f.kind() == "OrphanWorktree"),
            "{found:?}"
        );
    }

    #[test]
    fn a_branch_of_a_landed_or_closed_issue_needs_no_label() {
        let (mut snapshot, believed) = healthy();
        snapshot.branches.push(branch("agent005/14-old", 3));
        assert_eq!(detect(&snapshot, &believed, limits()), []);
    }

    #[test]
    fn working_but_no_commits() {
        let (mut snapshot, believed) = healthy();
        snapshot.processes[0].alive = false;
        snapshot.branches[1].commits_ahead = 0;
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::WorkingButNoCommits {
                agent: "agent001".into(),
                issue: 12,
                branch: Some(snapshot.branches[1].clone()),
            }]
        );
    }

    #[test]
    fn process_dead_but_working() {
        let (mut snapshot, believed) = healthy();
        snapshot.processes[0].alive = false;
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::ProcessDeadButWorking {
                agent: "agent001".into(),
                issue: 12,
                branch: branch("agent001/12-fix", 2),
            }]
        );
    }

    #[test]
    fn landed_but_not_freed() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues[1].labels.push("agent002".into());
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::LandedButNotFreed {
                agent: "agent002".into(),
                issue: 13,
                state: State::Landed { issue: 13 },
            }]
        );
    }

    #[test]
    fn orphan_worktree() {
        let (mut snapshot, believed) = healthy();
        let orphan = WorktreeFacts {
            path: "/w/agent002".into(),
            head: "def".into(),
            branch: Some("agent002/13-fix".into()),
            dirty: false,
        };
        snapshot.worktrees.push(orphan.clone());
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(found, [Inconsistency::OrphanWorktree { worktree: orphan }]);
    }

    #[test]
    fn duplicate_claim_two_agents_on_one_issue() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues[0].labels.push("agent002".into());
        let found = detect(&snapshot, &believed, limits());
        let expected = Inconsistency::DuplicateClaim {
            claims: vec![claim("agent001", 12), claim("agent002", 12)],
            keep: claim("agent001", 12),
        };
        assert_eq!(found, [expected]);
    }

    #[test]
    fn duplicate_claim_one_agent_on_two_issues() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues.push(open_issue(21, &["agent001"]));
        let found = detect(&snapshot, &believed, limits());
        let expected = Inconsistency::DuplicateClaim {
            claims: vec![claim("agent001", 12), claim("agent001", 21)],
            keep: claim("agent001", 12),
        };
        assert_eq!(found, [expected], "the journal's claim is kept");
    }

    #[test]
    fn review_but_branch_missing_finds_the_archive() {
        let (mut snapshot, believed) = healthy();
        snapshot.branches.remove(2);
        let kept = branch(&archive_ref("agent002/13-fix", "abc"), 1);
        snapshot.archives = vec![kept.clone(), branch(&archive_ref("agent002/131-x", "d"), 1)];
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::ReviewButBranchMissing {
                issue: 13,
                archive: Some(kept),
            }]
        );
        snapshot.archives.remove(0);
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::ReviewButBranchMissing {
                issue: 13,
                archive: None,
            }]
        );
    }

    #[test]
    fn bundled_but_pr_closed_unmerged() {
        let (mut snapshot, mut believed) = healthy();
        snapshot.issues[1].labels = vec![labels::BUNDLED.into()];
        believed.insert(
            "agent002".into(),
            State::Bundled {
                issues: vec![13],
                bundle_pr: 41,
            },
        );
        snapshot.pull_requests.push(PullRequestFacts {
            number: 41,
            status: PullRequestStatus::Open,
        });
        assert_eq!(detect(&snapshot, &believed, limits()), []);
        snapshot.pull_requests[1].status = PullRequestStatus::Closed;
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::BundledButPrClosedUnmerged {
                agent: "agent002".into(),
                issues: vec![13],
                bundle_pr: 41,
                branches: vec![branch("agent002/13-fix", 1)],
            }]
        );
    }

    #[test]
    fn merged_but_issue_open() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues[2].open = true;
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::MergedButIssueOpen {
                agent: "agent003".into(),
                issue: 14,
            }]
        );
    }

    #[test]
    fn stale_claim_after_the_configured_quiet_time() {
        let (mut snapshot, believed) = healthy();
        snapshot.processes[0] = process("agent001", 12, true, 90);
        assert_eq!(
            detect(&snapshot, &believed, limits()),
            [],
            "90 minutes is the limit"
        );
        snapshot.processes[0] = process("agent001", 12, true, 91);
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::StaleClaim {
                agent: "agent001".into(),
                issue: 12,
                idle_minutes: 91,
                branch: Some(branch("agent001/12-fix", 2)),
            }]
        );
    }

    #[test]
    fn unjournaled_claim() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues.push(open_issue(22, &["agent004"]));
        snapshot.branches.push(branch("agent004/22-new", 1));
        let found = detect(&snapshot, &believed, limits());
        assert_eq!(
            found,
            [Inconsistency::UnjournaledClaim {
                agent: "agent004".into(),
                issue: 22,
                branch: branch("agent004/22-new", 1),
            }]
        );
    }

    #[test]
    fn labels_and_branches_alone_make_a_belief() {
        let (snapshot, _) = healthy();
        let believed = believed_from_labels(&snapshot);
        assert_eq!(
            believed,
            BTreeMap::from([("agent001".to_owned(), working("agent001", 12, 2))]),
            "agent002's landed issue carries no agent label"
        );
        assert_eq!(detect(&snapshot, &believed, limits()), []);
        let mut drifted = snapshot.clone();
        drifted.issues.push(open_issue(30, &["agent001"]));
        drifted.branches.push(branch("agent001/30-more", 1));
        let believed = believed_from_labels(&drifted);
        assert_eq!(
            believed["agent001"],
            working("agent001", 12, 2),
            "the lowest issue"
        );
        assert!(matches!(
            detect(&drifted, &believed, limits()).as_slice(),
            [Inconsistency::DuplicateClaim { .. }]
        ));
    }

    #[test]
    fn an_inconsistency_serializes_with_its_kind() {
        let (mut snapshot, believed) = healthy();
        snapshot.issues[2].open = true;
        let found = detect(&snapshot, &believed, limits());
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"kind": "MergedButIssueOpen", "agent": "agent003", "issue": 14}])
        );
    }
}
