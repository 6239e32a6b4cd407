//! The bundle planner: which finished branches ride the next train together.
//!
//! Pure: the planner asks questions ("merge this branch into that tip") and is told the answers,
//! so the same logic runs against real git in the application and against a fake in tests.
//! Start from the base tip and merge each candidate in order; a clean merge is kept and becomes
//! the new tip; a conflicting one is set aside. Set-aside branches are retried against the final
//! tip until nothing more fits, so the bundle is maximal: no set-aside branch merges cleanly
//! into it. Each set-aside branch is then traced to the member it conflicts with (or the base).
//!
//! Earlier trains' pull requests that are still open are merged after the base before this
//! train's bundle is: a branch that merges onto the base but conflicts with one of them waits
//! for it rather than riding (or getting a pull request of its own) that could not be merged
//! once the open one is. The chain's questions are then asked of the base with those pull
//! requests merged in as well, so every member fits both.

use jiff::Timestamp;
use serde::Serialize;

/// A finished branch waiting for a train.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub issue: u64,
    pub title: String,
    pub branch: String,
    /// The branch's tip when the plan was made.
    pub head: String,
    /// `labels::priority_rank`: lower rides first.
    pub priority: u8,
    /// When the work landed (moved to review).
    pub landed_at: Timestamp,
}

/// Puts candidates in boarding order: priority, then landing time, then issue number.
pub fn order(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        (a.priority, a.landed_at, a.issue).cmp(&(b.priority, b.landed_at, b.issue))
    });
}

/// The answer to a trial merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trial {
    /// Merged cleanly; the new tip (a merge commit, when the question asked to keep it).
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

/// A trial merge the planner needs answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The tip to merge into.
    pub ours: String,
    /// Index into [`Planner::candidates`].
    pub candidate: usize,
    /// Whether a clean result becomes the new tip (write the merge commit) or is only a probe.
    pub keep: bool,
}

/// What a set-aside branch conflicts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConflictsWith {
    /// The base branch alone: the branch needs rebasing whatever else rides.
    Base,
    /// A member of this bundle.
    Member { issue: u64, branch: String },
}

/// Why a candidate is not in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SetAsideReason {
    Conflict {
        paths: Vec<String>,
        with: ConflictsWith,
    },
    /// The bundle reached `max_bundle_size` before this branch was tried.
    BundleFull,
    /// It shares no history with the base (a root commit of its own): no merge, and no pull
    /// request, can ever take it.
    NoCommonHistory,
    /// It merges onto the base but conflicts with an earlier train's pull request that is still
    /// open: it waits for that one to be merged or closed.
    WaitsForPullRequest {
        pull_request: u64,
        paths: Vec<String>,
    },
}

impl SetAsideReason {
    /// One sentence for pull request bodies and `--diagnose`.
    pub fn describe(&self) -> String {
        self.describe_paths(|path| path.to_owned())
    }

    /// [`Self::describe`] for a pull request or comment: the paths, which agents chose, are
    /// code spans (see [`crate::text::inert`]), so that no path is read as a reference or as HTML.
    pub fn describe_inert(&self) -> String {
        self.describe_paths(crate::text::inert::code_span)
    }

    fn describe_paths(&self, path: impl Fn(&str) -> String) -> String {
        let paths = |paths: &[String]| paths.iter().map(|p| path(p)).collect::<Vec<_>>().join(", ");
        match self {
            Self::BundleFull => {
                "the bundle was full; it rides in the next bundle of this departure".to_owned()
            }
            Self::NoCommonHistory => "it shares no history with the base branch, so it can \
                                      never merge: rebase its work onto the base"
                .to_owned(),
            Self::Conflict {
                paths: conflicting,
                with,
            } => {
                let with = match with {
                    ConflictsWith::Base => "the base branch".to_owned(),
                    ConflictsWith::Member { issue, branch } => format!("#{issue} (`{branch}`)"),
                };
                format!("conflicts with {with} in {}", paths(conflicting))
            }
            Self::WaitsForPullRequest {
                pull_request,
                paths: conflicting,
            } => format!(
                "waits for #{pull_request} to merge: conflicts with it in {}",
                paths(conflicting)
            ),
        }
    }
}

/// What a candidate's independent trial merges, made before the chain, say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screening {
    /// It may ride.
    Clean,
    /// It conflicts with the base alone, in these paths.
    Base(Vec<String>),
    /// It merges onto the base but conflicts once this open pull request is merged in.
    Waits {
        pull_request: u64,
        paths: Vec<String>,
    },
}

/// Screens a candidate: `trials[0]` merges it onto the base, `trials[i]` onto the base with the
/// first `i` of the `pending` pull requests (open, in merge order) merged in. The first tip it
/// conflicts with decides: the base, or the pull request that turned clean into conflict.
///
/// # Panics
/// If `trials` does not hold one answer for the base and one per pending pull request.
pub fn screen(pending: &[u64], trials: Vec<Trial>) -> Screening {
    assert_eq!(
        trials.len(),
        pending.len() + 1,
        "one trial for the base and one per pending pull request"
    );
    let first_conflict = trials
        .into_iter()
        .enumerate()
        .find_map(|(index, trial)| match trial {
            Trial::Clean(_) => None,
            Trial::Conflict(paths) => Some((index, paths)),
        });
    match first_conflict {
        None => Screening::Clean,
        Some((0, paths)) => Screening::Base(paths),
        Some((index, paths)) => Screening::Waits {
            pull_request: pending[index - 1],
            paths,
        },
    }
}

/// A branch in the bundle and the tip after merging it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub candidate: Candidate,
    /// What the oracle answered for the clean merge (the git planner: the merged tree).
    pub tip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAside {
    pub candidate: Candidate,
    #[serde(flatten)]
    pub reason: SetAsideReason,
}

/// The planner's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundlePlan {
    pub base: String,
    /// In merge order.
    pub members: Vec<Member>,
    /// In boarding order.
    pub set_aside: Vec<SetAside>,
}

#[derive(Debug, Clone)]
struct Conflicted {
    candidate: usize,
    paths: Vec<String>,
    /// How many members the tip it conflicted with held. During attribution, the shortest
    /// prefix of members known to conflict.
    against: usize,
    /// Attribution: prefixes of members shorter than this merged cleanly.
    clean_below: usize,
    with: Option<ConflictsWith>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Trying candidates in order.
    Chain { next: usize },
    /// Retrying set-aside candidates against a tip that grew since they conflicted.
    Retry,
    /// Finding, for each set-aside candidate, the first member it conflicts with.
    Attribute,
}

/// The chain planner as a state machine: call [`Planner::next_question`], answer with
/// [`Planner::answer`], until there is no question; then [`Planner::finish`].
#[derive(Debug, Clone)]
pub struct Planner {
    candidates: Vec<Candidate>,
    max_size: usize,
    /// `tips[0]` is the base; `tips[i]` the tip after member `i`.
    tips: Vec<String>,
    members: Vec<usize>,
    conflicted: Vec<Conflicted>,
    full: Vec<usize>,
    /// Candidates waiting for an open pull request: `(candidate, pull request, paths)`.
    waiting: Vec<(usize, u64, Vec<String>)>,
    /// Candidates that share no history with the base.
    unrelated: Vec<usize>,
    phase: Phase,
    asked: Option<Question>,
}

impl Planner {
    /// `candidates` in boarding order (see [`order`]); `max_size` at least 1.
    pub fn new(base: String, candidates: Vec<Candidate>, max_size: usize) -> Self {
        Self {
            candidates,
            max_size: max_size.max(1),
            tips: vec![base],
            members: Vec::new(),
            conflicted: Vec::new(),
            full: Vec::new(),
            waiting: Vec::new(),
            unrelated: Vec::new(),
            phase: Phase::Chain { next: 0 },
            asked: None,
        }
    }

    /// Records, before planning, that a candidate conflicts with the base alone (found by a
    /// batch of independent trial merges): it is never tried in the chain.
    pub fn set_aside_against_base(&mut self, candidate: usize, paths: Vec<String>) {
        self.conflicted.push(Conflicted {
            candidate,
            paths,
            against: 0,
            clean_below: 0,
            with: Some(ConflictsWith::Base),
        });
    }

    /// Records, before planning, that a candidate shares no history with the base: it is never
    /// tried, and never gets a pull request of its own.
    pub fn set_aside_unrelated(&mut self, candidate: usize) {
        self.unrelated.push(candidate);
    }

    /// Records a candidate's [`screen`]ing: one that is not clean is never tried in the chain.
    pub fn screened(&mut self, candidate: usize, screening: Screening) {
        match screening {
            Screening::Clean => {}
            Screening::Base(paths) => self.set_aside_against_base(candidate, paths),
            Screening::Waits {
                pull_request,
                paths,
            } => self.waiting.push((candidate, pull_request, paths)),
        }
    }

    fn is_set_aside(&self, candidate: usize) -> bool {
        self.conflicted.iter().any(|c| c.candidate == candidate)
            || self.waiting.iter().any(|(c, _, _)| *c == candidate)
            || self.unrelated.contains(&candidate)
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    fn tip(&self) -> &str {
        self.tips.last().expect("the base is always there")
    }

    fn is_full(&self) -> bool {
        self.members.len() >= self.max_size
    }

    /// The next trial merge to run, or `None` when the plan is complete.
    pub fn next_question(&mut self) -> Option<Question> {
        let question = self.advance();
        self.asked = question.clone();
        question
    }

    fn advance(&mut self) -> Option<Question> {
        loop {
            match self.phase {
                Phase::Chain { next } if next < self.candidates.len() => {
                    if self.is_set_aside(next) {
                        self.phase = Phase::Chain { next: next + 1 };
                        continue;
                    }
                    if self.is_full() {
                        self.full.push(next);
                        self.phase = Phase::Chain { next: next + 1 };
                        continue;
                    }
                    return Some(Question {
                        ours: self.tip().to_owned(),
                        candidate: next,
                        keep: true,
                    });
                }
                Phase::Chain { .. } => self.phase = Phase::Retry,
                Phase::Retry => {
                    let stale = self
                        .conflicted
                        .iter()
                        .find(|c| c.with.is_none() && c.against < self.members.len());
                    match stale {
                        Some(stale) if !self.is_full() => {
                            return Some(Question {
                                ours: self.tip().to_owned(),
                                candidate: stale.candidate,
                                keep: true,
                            });
                        }
                        _ => self.phase = Phase::Attribute,
                    }
                }
                Phase::Attribute => {
                    // Bisect the members for the one whose merge turned clean into conflict.
                    let unattributed = self.conflicted.iter_mut().find(|c| c.with.is_none())?;
                    if unattributed.clean_below >= unattributed.against {
                        let culprit = unattributed.against.checked_sub(1);
                        unattributed.with = Some(match culprit {
                            None => ConflictsWith::Base,
                            Some(index) => member_ref(&self.candidates[self.members[index]]),
                        });
                        continue;
                    }
                    let middle = (unattributed.clean_below + unattributed.against) / 2;
                    return Some(Question {
                        ours: self.tips[middle].clone(),
                        candidate: unattributed.candidate,
                        keep: false,
                    });
                }
            }
        }
    }

    /// Records the answer to the last question.
    ///
    /// # Panics
    /// If no question is outstanding: answering twice is a bug in the caller.
    pub fn answer(&mut self, trial: Trial) {
        let question = self.asked.take().expect("answer() follows next_question()");
        let candidate = question.candidate;
        match self.phase {
            Phase::Chain { next } => {
                self.phase = Phase::Chain { next: next + 1 };
                match trial {
                    Trial::Clean(tip) => self.admit(candidate, tip),
                    Trial::Conflict(paths) => self.conflicted.push(Conflicted {
                        candidate,
                        paths,
                        against: self.members.len(),
                        clean_below: 0,
                        with: None,
                    }),
                }
            }
            Phase::Retry => match trial {
                Trial::Clean(tip) => {
                    self.conflicted.retain(|c| c.candidate != candidate);
                    self.admit(candidate, tip);
                }
                Trial::Conflict(paths) => {
                    let against = self.members.len();
                    let entry = self.entry(candidate);
                    entry.paths = paths;
                    entry.against = against;
                }
            },
            Phase::Attribute => {
                let entry = self.entry(candidate);
                let middle = (entry.clean_below + entry.against) / 2;
                match trial {
                    Trial::Clean(_) => entry.clean_below = middle + 1,
                    Trial::Conflict(_) => entry.against = middle,
                }
            }
        }
    }

    fn admit(&mut self, candidate: usize, tip: String) {
        self.members.push(candidate);
        self.tips.push(tip);
    }

    fn entry(&mut self, candidate: usize) -> &mut Conflicted {
        self.conflicted
            .iter_mut()
            .find(|c| c.candidate == candidate)
            .expect("only set-aside candidates are retried or attributed")
    }

    /// The plan. Call once [`Planner::next_question`] has returned `None`.
    pub fn finish(self) -> BundlePlan {
        let mut set_aside: Vec<(usize, SetAsideReason)> = self
            .conflicted
            .into_iter()
            .map(|c| {
                (
                    c.candidate,
                    SetAsideReason::Conflict {
                        paths: c.paths,
                        with: c.with.expect("finish() follows the last question"),
                    },
                )
            })
            .chain(
                self.full
                    .into_iter()
                    .map(|i| (i, SetAsideReason::BundleFull)),
            )
            .chain(
                self.unrelated
                    .into_iter()
                    .map(|i| (i, SetAsideReason::NoCommonHistory)),
            )
            .chain(self.waiting.into_iter().map(|(i, pull_request, paths)| {
                (
                    i,
                    SetAsideReason::WaitsForPullRequest {
                        pull_request,
                        paths,
                    },
                )
            }))
            .collect();
        set_aside.sort_by_key(|(index, _)| *index);
        BundlePlan {
            base: self.tips[0].clone(),
            members: self
                .members
                .iter()
                .zip(&self.tips[1..])
                .map(|(&index, tip)| Member {
                    candidate: self.candidates[index].clone(),
                    tip: tip.clone(),
                })
                .collect(),
            set_aside: set_aside
                .into_iter()
                .map(|(index, reason)| SetAside {
                    candidate: self.candidates[index].clone(),
                    reason,
                })
                .collect(),
        }
    }
}

fn member_ref(candidate: &Candidate) -> ConflictsWith {
    ConflictsWith::Member {
        issue: candidate.issue,
        branch: candidate.branch.clone(),
    }
}

/// Runs the planner to completion with a synchronous merge oracle.
pub fn plan(
    base: String,
    candidates: Vec<Candidate>,
    max_size: usize,
    mut merge: impl FnMut(&Question, &Candidate) -> Trial,
) -> BundlePlan {
    let mut planner = Planner::new(base, candidates, max_size);
    while let Some(question) = planner.next_question() {
        let trial = merge(&question, &planner.candidates()[question.candidate]);
        planner.answer(trial);
    }
    planner.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// A fake repository: each branch writes some paths; the base changed some paths too. Two
    /// writes to one path conflict unless they agree, as git's three-way merge would. `pending`
    /// names the earlier trains' open pull requests (their writes are in `writes` too) that
    /// merge onto the base, in merge order.
    #[derive(Debug, Clone)]
    struct World {
        base: BTreeMap<String, u8>,
        writes: BTreeMap<u64, BTreeMap<String, u8>>,
        pending: Vec<u64>,
    }

    impl World {
        fn conflicts(&self, a: u64, b: u64) -> BTreeSet<String> {
            let (wa, wb) = (&self.writes[&a], &self.writes[&b]);
            wa.iter()
                .filter(|(path, value)| wb.get(*path).is_some_and(|v| v != *value))
                .map(|(path, _)| path.clone())
                .collect()
        }

        fn base_conflicts(&self, a: u64) -> BTreeSet<String> {
            self.writes[&a]
                .iter()
                .filter(|(path, value)| self.base.get(*path).is_some_and(|v| v != *value))
                .map(|(path, _)| path.clone())
                .collect()
        }

        /// Conflicts with the base and the first `count` pending pull requests.
        fn pending_conflicts(&self, a: u64, count: usize) -> BTreeSet<String> {
            let mut paths = self.base_conflicts(a);
            for &pr in &self.pending[..count] {
                paths.extend(self.conflicts(pr, a));
            }
            paths
        }

        /// Tips are written `base+3+5`: the members merged so far, onto the base and every
        /// pending pull request.
        fn merge(&self, question: &Question, candidate: &Candidate) -> Trial {
            let mut paths = self.pending_conflicts(candidate.issue, self.pending.len());
            for member in question.ours.split('+').skip(1) {
                paths.extend(self.conflicts(member.parse().unwrap(), candidate.issue));
            }
            if paths.is_empty() {
                Trial::Clean(format!("{}+{}", question.ours, candidate.issue))
            } else {
                Trial::Conflict(paths.into_iter().collect())
            }
        }

        /// The trials [`screen`] takes: onto the base, then onto each pending prefix.
        fn screen(&self, issue: u64) -> Screening {
            let trials = (0..=self.pending.len())
                .map(|count| {
                    let paths = self.pending_conflicts(issue, count);
                    if paths.is_empty() {
                        Trial::Clean(format!("pending{count}+{issue}"))
                    } else {
                        Trial::Conflict(paths.into_iter().collect())
                    }
                })
                .collect();
            screen(&self.pending, trials)
        }

        fn compatible(&self, set: &[u64]) -> bool {
            set.iter()
                .all(|&a| self.pending_conflicts(a, self.pending.len()).is_empty())
                && set.iter().enumerate().all(|(i, &a)| {
                    set[i + 1..]
                        .iter()
                        .all(|&b| self.conflicts(a, b).is_empty())
                })
        }
    }

    fn candidate(issue: u64, priority: u8, landed_minute: i64) -> Candidate {
        Candidate {
            issue,
            title: format!("issue {issue}"),
            branch: format!("agent001/{issue}-work"),
            head: format!("head{issue}"),
            priority,
            landed_at: Timestamp::from_second(1_800_000_000 + landed_minute * 60).unwrap(),
        }
    }

    fn world(base: &[(&str, u8)], writes: &[(u64, &[(&str, u8)])]) -> World {
        World {
            pending: Vec::new(),
            base: base.iter().map(|(p, v)| ((*p).to_owned(), *v)).collect(),
            writes: writes
                .iter()
                .map(|(issue, w)| {
                    (
                        *issue,
                        w.iter().map(|(p, v)| ((*p).to_owned(), *v)).collect(),
                    )
                })
                .collect(),
        }
    }

    fn run(world: &World, issues: &[u64], max: usize) -> BundlePlan {
        let candidates = issues.iter().map(|&i| candidate(i, 2, 0)).collect();
        plan("base".to_owned(), candidates, max, |q, c| world.merge(q, c))
    }

    /// Screens every candidate against the base and the pending pull requests first, as the
    /// application does.
    fn run_screened(world: &World, issues: &[u64], max: usize) -> BundlePlan {
        let candidates = issues.iter().map(|&i| candidate(i, 2, 0)).collect();
        let mut planner = Planner::new("base".to_owned(), candidates, max);
        for (index, &issue) in issues.iter().enumerate() {
            planner.screened(index, world.screen(issue));
        }
        while let Some(question) = planner.next_question() {
            let trial = world.merge(&question, &planner.candidates()[question.candidate]);
            planner.answer(trial);
        }
        planner.finish()
    }

    fn member_issues(plan: &BundlePlan) -> Vec<u64> {
        plan.members.iter().map(|m| m.candidate.issue).collect()
    }

    #[test]
    fn boarding_order_is_priority_then_landing_then_number() {
        let mut candidates = vec![
            candidate(5, 2, 1),
            candidate(9, 0, 9),
            candidate(3, 2, 1),
            candidate(1, 3, 0),
            candidate(7, 2, 0),
        ];
        order(&mut candidates);
        let issues: Vec<u64> = candidates.iter().map(|c| c.issue).collect();
        assert_eq!(issues, vec![9, 7, 3, 5, 1]);
    }

    #[test]
    fn branches_that_do_not_overlap_all_ride_in_order() {
        let world = world(&[], &[(1, &[("a", 1)]), (2, &[("b", 1)]), (3, &[("c", 1)])]);
        let plan = run(&world, &[1, 2, 3], 8);
        assert_eq!(member_issues(&plan), vec![1, 2, 3]);
        assert!(plan.set_aside.is_empty());
        assert_eq!(plan.members[2].tip, "base+1+2+3");
        assert_eq!(plan.members[0].tip, "base+1");
    }

    #[test]
    fn a_conflict_names_the_member_and_the_paths() {
        let world = world(
            &[],
            &[
                (1, &[("a", 1)]),
                (2, &[("b", 1), ("c", 1)]),
                (3, &[("b", 2), ("c", 2), ("d", 1)]),
                (4, &[("d", 1)]),
            ],
        );
        let plan = run(&world, &[1, 2, 3, 4], 8);
        assert_eq!(member_issues(&plan), vec![1, 2, 4]);
        assert_eq!(plan.set_aside.len(), 1);
        assert_eq!(plan.set_aside[0].candidate.issue, 3);
        assert_eq!(
            plan.set_aside[0].reason,
            SetAsideReason::Conflict {
                paths: vec!["b".to_owned(), "c".to_owned()],
                with: ConflictsWith::Member {
                    issue: 2,
                    branch: "agent001/2-work".to_owned()
                },
            }
        );
        assert_eq!(
            plan.set_aside[0].reason.describe(),
            "conflicts with #2 (`agent001/2-work`) in b, c"
        );
    }

    #[test]
    fn identical_edits_do_not_conflict() {
        let world = world(&[], &[(1, &[("a", 1)]), (2, &[("a", 1)])]);
        assert_eq!(member_issues(&run(&world, &[1, 2], 8)), vec![1, 2]);
    }

    #[test]
    fn a_conflict_with_the_base_names_the_base() {
        let world = world(&[("a", 7)], &[(1, &[("a", 1)]), (2, &[("b", 1)])]);
        let plan = run(&world, &[1, 2], 8);
        assert_eq!(member_issues(&plan), vec![2]);
        assert_eq!(
            plan.set_aside[0].reason,
            SetAsideReason::Conflict {
                paths: vec!["a".to_owned()],
                with: ConflictsWith::Base,
            }
        );
        assert_eq!(
            plan.set_aside[0].reason.describe(),
            "conflicts with the base branch in a"
        );
    }

    #[test]
    fn a_full_bundle_leaves_the_rest_for_the_next_train() {
        let world = world(
            &[],
            &[
                (1, &[("a", 1)]),
                (2, &[("a", 2)]),
                (3, &[("c", 1)]),
                (4, &[("d", 1)]),
            ],
        );
        let plan = run(&world, &[1, 2, 3, 4], 2);
        assert_eq!(member_issues(&plan), vec![1, 3]);
        let reasons: Vec<(u64, &SetAsideReason)> = plan
            .set_aside
            .iter()
            .map(|s| (s.candidate.issue, &s.reason))
            .collect();
        assert!(matches!(reasons[0], (2, SetAsideReason::Conflict { .. })));
        assert_eq!(reasons[1], (4, &SetAsideReason::BundleFull));
    }

    #[test]
    fn no_candidates_make_an_empty_plan() {
        let plan = run(&world(&[], &[]), &[], 8);
        assert!(plan.members.is_empty() && plan.set_aside.is_empty());
        assert_eq!(plan.base, "base");
    }

    #[test]
    fn a_branch_that_fits_only_after_a_later_one_is_retried() {
        // Branch 1 merges only once branch 2 (boarding after it) is in: git can resolve some
        // conflicts once a later change is present, and the bundle must still take it.
        let candidates = vec![candidate(1, 2, 0), candidate(2, 2, 1)];
        let mut asked = Vec::new();
        let plan = plan("base".to_owned(), candidates, 8, |q, c| {
            asked.push((q.ours.clone(), c.issue, q.keep));
            if c.issue == 1 && !q.ours.contains("+2") {
                Trial::Conflict(vec!["x".to_owned()])
            } else {
                Trial::Clean(format!("{}+{}", q.ours, c.issue))
            }
        });
        assert_eq!(member_issues(&plan), vec![2, 1]);
        assert!(plan.set_aside.is_empty());
        assert_eq!(
            asked,
            vec![
                ("base".to_owned(), 1, true),
                ("base".to_owned(), 2, true),
                ("base+2".to_owned(), 1, true),
            ]
        );
    }

    #[test]
    fn attribution_bisects_the_members_without_keeping_probes() {
        // Eight clean members, then one that clashes with the sixth.
        let mut writes: Vec<(u64, Vec<(String, u8)>)> =
            (1..=8).map(|i| (i, vec![(format!("own{i}"), 1)])).collect();
        writes.push((9, vec![("own6".to_owned(), 2)]));
        let world = World {
            base: BTreeMap::new(),
            pending: Vec::new(),
            writes: writes
                .into_iter()
                .map(|(i, w)| (i, w.into_iter().collect()))
                .collect(),
        };
        let candidates: Vec<Candidate> = (1..=9).map(|i| candidate(i, 2, 0)).collect();
        let mut probes = Vec::new();
        let plan = plan("base".to_owned(), candidates, 9, |q, c| {
            if !q.keep {
                probes.push(q.ours.matches('+').count());
            }
            world.merge(q, c)
        });
        // Prefixes 4, 6, 5 of 8: three probes instead of six.
        assert_eq!(probes, vec![4, 6, 5]);
        assert_eq!(
            plan.set_aside[0].reason,
            SetAsideReason::Conflict {
                paths: vec!["own6".to_owned()],
                with: ConflictsWith::Member {
                    issue: 6,
                    branch: "agent001/6-work".to_owned()
                },
            }
        );
    }

    #[test]
    fn branches_known_to_clash_with_the_base_are_never_tried() {
        let candidates: Vec<Candidate> = [1, 2, 3].iter().map(|&i| candidate(i, 2, 0)).collect();
        let mut planner = Planner::new("base".to_owned(), candidates, 1);
        planner.set_aside_against_base(1, vec!["a".to_owned()]);
        let mut asked = Vec::new();
        while let Some(question) = planner.next_question() {
            asked.push(question.candidate);
            planner.answer(Trial::Clean(format!(
                "{}+{}",
                question.ours, question.candidate
            )));
        }
        assert_eq!(asked, vec![0]);
        let plan = planner.finish();
        assert_eq!(member_issues(&plan), vec![1]);
        let reasons: Vec<(u64, SetAsideReason)> = plan
            .set_aside
            .into_iter()
            .map(|s| (s.candidate.issue, s.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    2,
                    SetAsideReason::Conflict {
                        paths: vec!["a".to_owned()],
                        with: ConflictsWith::Base
                    }
                ),
                (3, SetAsideReason::BundleFull),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "answer() follows next_question()")]
    fn answering_without_a_question_is_a_bug() {
        Planner::new("base".to_owned(), Vec::new(), 8).answer(Trial::Clean("x".to_owned()));
    }

    #[test]
    fn screening_is_clean_when_every_tip_takes_the_branch() {
        let clean = |tip: &str| Trial::Clean(tip.to_owned());
        assert_eq!(
            screen(&[7, 9], vec![clean("b"), clean("b7"), clean("b79")]),
            Screening::Clean
        );
        assert_eq!(screen(&[], vec![clean("b")]), Screening::Clean);
    }

    #[test]
    fn screening_names_the_base_before_any_pull_request() {
        let conflict = |path: &str| Trial::Conflict(vec![path.to_owned()]);
        assert_eq!(
            screen(&[7], vec![conflict("a"), conflict("a")]),
            Screening::Base(vec!["a".to_owned()])
        );
    }

    #[test]
    fn screening_names_the_pull_request_that_turned_clean_into_conflict() {
        let conflict = |path: &str| Trial::Conflict(vec![path.to_owned()]);
        assert_eq!(
            screen(
                &[7, 9, 12],
                vec![
                    Trial::Clean("b".to_owned()),
                    Trial::Clean("b7".to_owned()),
                    conflict("x"),
                    conflict("x")
                ]
            ),
            Screening::Waits {
                pull_request: 9,
                paths: vec!["x".to_owned()]
            }
        );
    }

    #[test]
    #[should_panic(expected = "one trial for the base and one per pending pull request")]
    fn screening_needs_a_trial_per_tip() {
        screen(&[7], vec![Trial::Clean("b".to_owned())]);
    }

    #[test]
    fn a_waiting_branch_is_never_tried_and_leaves_room_in_the_bundle() {
        let candidates: Vec<Candidate> = [1, 2, 3].iter().map(|&i| candidate(i, 2, 0)).collect();
        let mut planner = Planner::new("base".to_owned(), candidates, 2);
        planner.screened(0, Screening::Clean);
        planner.screened(
            1,
            Screening::Waits {
                pull_request: 40,
                paths: vec!["a".to_owned(), "b".to_owned()],
            },
        );
        let mut asked = Vec::new();
        while let Some(question) = planner.next_question() {
            asked.push(question.candidate);
            planner.answer(Trial::Clean(format!(
                "{}+{}",
                question.ours, question.candidate
            )));
        }
        assert_eq!(asked, vec![0, 2]);
        let plan = planner.finish();
        assert_eq!(member_issues(&plan), vec![1, 3]);
        let waits = SetAsideReason::WaitsForPullRequest {
            pull_request: 40,
            paths: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(plan.set_aside.len(), 1);
        assert_eq!(plan.set_aside[0].candidate.issue, 2);
        assert_eq!(plan.set_aside[0].reason, waits);
        assert_eq!(
            waits.describe(),
            "waits for #40 to merge: conflicts with it in a, b"
        );
        assert_eq!(
            serde_json::to_value(&plan.set_aside[0]).unwrap()["reason"],
            "waits_for_pull_request"
        );
    }

    #[test]
    fn members_must_fit_the_open_pull_requests_as_well_as_the_base() {
        // #40 is open and edits `shared`; #1 edits it too and waits. #2 fits both and rides;
        // #3 fits both too but clashes with #2, which the chain still finds.
        let mut world = world(
            &[],
            &[
                (40, &[("shared", 1), ("near", 1)]),
                (1, &[("shared", 2)]),
                (2, &[("own", 1)]),
                (3, &[("own", 2)]),
            ],
        );
        world.pending = vec![40];
        let plan = run_screened(&world, &[1, 2, 3], 8);
        assert_eq!(member_issues(&plan), vec![2]);
        let reasons: Vec<(u64, SetAsideReason)> = plan
            .set_aside
            .into_iter()
            .map(|s| (s.candidate.issue, s.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    1,
                    SetAsideReason::WaitsForPullRequest {
                        pull_request: 40,
                        paths: vec!["shared".to_owned()]
                    }
                ),
                (
                    3,
                    SetAsideReason::Conflict {
                        paths: vec!["own".to_owned()],
                        with: ConflictsWith::Member {
                            issue: 2,
                            branch: "agent001/2-work".to_owned()
                        }
                    }
                ),
            ]
        );
    }

    /// A world of up to six branches and up to three open pull requests from earlier trains;
    /// those that clash with the base or an earlier one are left out of the pending tip, as the
    /// application leaves them out.
    fn arbitrary_world() -> impl proptest::strategy::Strategy<Value = (World, usize, usize)> {
        use proptest::prelude::*;
        let writes = proptest::collection::btree_map(0u8..4, 0u8..2, 1..3);
        let pending = proptest::collection::btree_map(0u8..5, 0u8..2, 1..3);
        let base = proptest::collection::btree_map(0u8..4, 2u8..3, 0..2);
        (
            proptest::collection::vec(writes, 1..7),
            proptest::collection::vec(pending, 0..4),
            base,
            1usize..8,
        )
            .prop_map(|(writes, pending, base, max)| {
                let name = |p: u8| format!("p{p}");
                let n = writes.len();
                let mut world = World {
                    base: base.into_iter().map(|(p, v)| (name(p), v)).collect(),
                    writes: writes
                        .into_iter()
                        .enumerate()
                        .map(|(i, w)| {
                            (
                                i as u64 + 1,
                                w.into_iter().map(|(p, v)| (name(p), v)).collect(),
                            )
                        })
                        .collect(),
                    pending: Vec::new(),
                };
                for (i, w) in pending.into_iter().enumerate() {
                    let number = 100 + i as u64;
                    world
                        .writes
                        .insert(number, w.into_iter().map(|(p, v)| (name(p), v)).collect());
                    if world
                        .pending_conflicts(number, world.pending.len())
                        .is_empty()
                    {
                        world.pending.push(number);
                    }
                }
                (world, n, max)
            })
    }

    proptest::proptest! {
        #[test]
        fn plans_are_maximal_by_brute_force((world, n, max) in arbitrary_world()) {
            let issues: Vec<u64> = (1..=n as u64).collect();
            let plan = run_screened(&world, &issues, max);
            let members = member_issues(&plan);

            // Every candidate is placed exactly once, and the members merge together, onto the
            // base and every pending pull request.
            let mut placed: Vec<u64> = members.clone();
            placed.extend(plan.set_aside.iter().map(|s| s.candidate.issue));
            placed.sort_unstable();
            proptest::prop_assert_eq!(&placed, &issues);
            proptest::prop_assert!(world.compatible(&members));
            proptest::prop_assert!(members.len() <= max);

            // Maximal: no conflict-free set of branches strictly contains the bundle,
            // unless the bundle is full.
            if members.len() < max {
                for mask in 0u32..(1 << n) {
                    let subset: Vec<u64> =
                        issues.iter().copied().filter(|i| mask & (1 << (i - 1)) != 0).collect();
                    let superset = members.iter().all(|m| subset.contains(m))
                        && subset.len() > members.len();
                    proptest::prop_assert!(
                        !(superset && world.compatible(&subset)),
                        "{:?} could have carried {:?}", members, subset
                    );
                }
            }

            // Reasons name paths that really conflict with the named member, pull request or
            // the base.
            for set_aside in &plan.set_aside {
                let issue = set_aside.candidate.issue;
                match &set_aside.reason {
                    SetAsideReason::BundleFull => proptest::prop_assert_eq!(members.len(), max),
                    SetAsideReason::NoCommonHistory => {
                        proptest::prop_assert!(false, "this world has no unrelated branches")
                    }
                    SetAsideReason::WaitsForPullRequest { pull_request, paths } => {
                        let position = world.pending.iter().position(|p| p == pull_request);
                        proptest::prop_assert!(position.is_some());
                        let position = position.unwrap_or_default();
                        proptest::prop_assert!(
                            world.pending_conflicts(issue, position).is_empty()
                        );
                        let real = world.conflicts(*pull_request, issue);
                        proptest::prop_assert!(paths.iter().any(|p| real.contains(p)));
                    }
                    SetAsideReason::Conflict { paths, with } => {
                        proptest::prop_assert!(!paths.is_empty());
                        let real = match with {
                            ConflictsWith::Base => world.base_conflicts(issue),
                            ConflictsWith::Member { issue: other, .. } => {
                                proptest::prop_assert!(members.contains(other));
                                proptest::prop_assert!(world
                                    .pending_conflicts(issue, world.pending.len())
                                    .is_empty());
                                world.conflicts(*other, issue)
                            }
                        };
                        proptest::prop_assert!(paths.iter().any(|p| real.contains(p)));
                    }
                }
            }
        }
    }
}
