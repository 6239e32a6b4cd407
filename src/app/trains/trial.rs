//! The git half of a train: the planner answered with trial merges that never touch a working
//! tree or the index, and the bundle written as a chain of real merge commits.

use jiff::Timestamp;

use crate::core::trains::plan::{BundlePlan, Candidate, Planner, Trial, screen};
use crate::ports::git::{GitResult, MergeEngine, MergeSpec, Remote, Repository, TrialMerge};

/// An earlier train's pull request that is still open: its number and its head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTrainPullRequest {
    pub number: u64,
    pub head: String,
}

/// The base tip with the earlier trains' open pull requests merged in, in order, in memory: what
/// the base will be once they are merged, and what this train's bundle must merge onto too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingTip {
    /// The pull requests merged in, in merge order.
    pub pull_requests: Vec<u64>,
    /// The merged tree after each of them.
    trees: Vec<String>,
    /// Open pull requests left out, and why: they no longer merge onto the base (someone moved
    /// it) or onto those before them, so they cannot hold the next train back.
    pub left_out: Vec<(u64, String)>,
}

/// Merges each open pull request's head onto the base tip, in order, in memory (nothing but
/// objects is written). One that conflicts with the base, or with those before it, is left out.
pub async fn pending_tip(
    git: &dyn MergeEngine,
    base_tip: &str,
    open: &[OpenTrainPullRequest],
) -> GitResult<PendingTip> {
    let mut pending = PendingTip::default();
    for pr in open {
        pending.merge_in(git, base_tip, pr).await?;
    }
    Ok(pending)
}

impl PendingTip {
    /// How many tips a candidate is screened on: the base, and one per pending pull request.
    pub fn tips(&self) -> usize {
        self.trees.len() + 1
    }

    /// The tip to plan on besides the base, if any pull request is pending.
    fn tip(&self) -> Option<&str> {
        self.trees.last().map(String::as_str)
    }

    /// Merges one more open pull request in, after those already in (or leaves it out, with
    /// why, when it conflicts).
    pub async fn merge_in(
        &mut self,
        git: &dyn MergeEngine,
        base_tip: &str,
        pr: &OpenTrainPullRequest,
    ) -> GitResult<()> {
        let Some(merge_base) = git.merge_base(base_tip, &pr.head).await? else {
            self.left_out
                .push((pr.number, "it shares no history with the base".to_owned()));
            return Ok(());
        };
        let ours = self.tip().unwrap_or(base_tip).to_owned();
        match git.trial_merge_onto(&merge_base, &ours, &pr.head).await? {
            TrialMerge::Clean(tree) => {
                self.pull_requests.push(pr.number);
                self.trees.push(tree);
            }
            TrialMerge::Conflict(paths) => {
                let with = match git.trial_merge(base_tip, &pr.head).await? {
                    TrialMerge::Conflict(_) => "the base".to_owned(),
                    TrialMerge::Clean(_) => self
                        .pull_requests
                        .iter()
                        .map(|n| format!("#{n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                self.left_out.push((
                    pr.number,
                    format!("it conflicts with {with} in {}", paths.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// Plans a bundle on `base_tip` by merging candidates (in boarding order) in memory with
/// `git merge-tree`. Nothing but objects is written: no commit, no reference, no index, no
/// working tree. Each member's `tip` in the plan is the merged tree; [`write_chain`] turns the
/// plan into commits.
///
/// With `pending` pull requests, each candidate is first merged onto every pending prefix
/// (one batched process) to find those that wait for one, and the chain runs twice in step:
/// on the base, which the bundle is written from, and on the pending tip, which a member must
/// fit as well.
///
/// Each branch is merged against its own merge base with the base branch (found for all of them
/// in one history walk), so the chain's tips can stay trees. For a branch built on another
/// member's branch that base is older than the true one; identical changes still merge cleanly,
/// and a later change to a member's lines shows as a conflict: the branch gets its own pull
/// request rather than a wrong merge.
pub async fn plan_on_git(
    git: &dyn MergeEngine,
    base_tip: &str,
    pending: &PendingTip,
    candidates: Vec<Candidate>,
    max_size: usize,
) -> GitResult<BundlePlan> {
    plan_screened_on_git(git, base_tip, pending, candidates, max_size, 0).await
}

/// As [`plan_on_git`], for candidates already known to merge cleanly onto the first `screened`
/// tips they are screened on (the base, then the base with each pending pull request merged
/// in): a departure's later bundles take the branches an earlier one turned away, and screen
/// them only on the bundles opened since.
pub async fn plan_screened_on_git(
    git: &dyn MergeEngine,
    base_tip: &str,
    pending: &PendingTip,
    candidates: Vec<Candidate>,
    max_size: usize,
    screened: usize,
) -> GitResult<BundlePlan> {
    let heads: Vec<&str> = candidates.iter().map(|c| c.head.as_str()).collect();
    let mut merge_bases = Vec::with_capacity(heads.len());
    // Branches that share no history with the base cannot be merged at all.
    let mut unrelated = Vec::new();
    for (index, (found, head)) in git
        .merge_bases(base_tip, &heads)
        .await?
        .into_iter()
        .zip(&heads)
        .enumerate()
    {
        merge_bases.push(match found {
            Some(base) => base,
            None => match git.merge_base(base_tip, head).await? {
                Some(base) => base,
                None => {
                    unrelated.push(index);
                    base_tip.to_owned()
                }
            },
        });
    }
    let mut planner = Planner::new(base_tip.to_owned(), candidates.clone(), max_size);
    for index in &unrelated {
        planner.set_aside_unrelated(*index);
    }
    // One process checks every branch against the base alone and each pending prefix; those
    // that clash there are set aside at once instead of costing a chain merge and its probes.
    let related: Vec<usize> = (0..heads.len())
        .filter(|i| !unrelated.contains(i))
        .collect();
    let prefixes = pending.tips();
    let screened = screened.min(prefixes);
    let screenings: Vec<MergeSpec> = related
        .iter()
        .flat_map(|&index| {
            let head = heads[index];
            let merge_base = merge_bases[index].as_str();
            std::iter::once(MergeSpec {
                base: None,
                ours: base_tip,
                theirs: head,
            })
            .chain(pending.trees.iter().map(move |tree| MergeSpec {
                base: Some(merge_base),
                ours: tree,
                theirs: head,
            }))
            .skip(screened)
        })
        .collect();
    let mut verdicts = git.trial_merges(&screenings).await?.into_iter();
    for index in related {
        let known = std::iter::repeat_with(|| Trial::Clean(String::new())).take(screened);
        let trials = known
            .chain(verdicts.by_ref().take(prefixes - screened).map(trial))
            .collect();
        planner.screened(index, screen(&pending.pull_requests, trials));
    }
    // Every tip the chain has had, on the base and on the pending tip: attribution probes
    // bisect over them, one merge each (a handful per set-aside branch, where a batch over
    // every tip would merge them all).
    let mut tips: Vec<String> = vec![base_tip.to_owned()];
    let mut pending_tips: Vec<String> = pending.tip().map(str::to_owned).into_iter().collect();
    while let Some(question) = planner.next_question() {
        let index = question.candidate;
        let (head, merge_base) = (heads[index], merge_bases[index].as_str());
        let answer = if question.keep {
            let on_base = git
                .trial_merge_onto(merge_base, &question.ours, head)
                .await?;
            let on_pending = match (&on_base, pending_tips.last()) {
                (TrialMerge::Clean(_), Some(pending_tip)) => {
                    Some(git.trial_merge_onto(merge_base, pending_tip, head).await?)
                }
                _ => None,
            };
            match (on_base, on_pending) {
                (TrialMerge::Clean(tree), None) => {
                    tips.push(tree.clone());
                    Trial::Clean(tree)
                }
                (TrialMerge::Clean(tree), Some(TrialMerge::Clean(pending_tree))) => {
                    tips.push(tree.clone());
                    pending_tips.push(pending_tree);
                    Trial::Clean(tree)
                }
                (TrialMerge::Conflict(paths), _) | (_, Some(TrialMerge::Conflict(paths))) => {
                    Trial::Conflict(paths)
                }
            }
        } else {
            let position = tips
                .iter()
                .position(|tip| *tip == question.ours)
                .expect("every tip the planner probes is a tip of the chain");
            let on_base = git
                .trial_merge_onto(merge_base, &question.ours, head)
                .await?;
            // A prefix conflicts if it does on the base or on the pending tip.
            match (&on_base, pending_tips.get(position)) {
                (TrialMerge::Clean(_), Some(pending_tip)) => {
                    trial(git.trial_merge_onto(merge_base, pending_tip, head).await?)
                }
                _ => trial(on_base),
            }
        };
        planner.answer(answer);
    }
    Ok(planner.finish())
}

fn trial(merge: TrialMerge) -> Trial {
    match merge {
        TrialMerge::Clean(tree) => Trial::Clean(tree),
        TrialMerge::Conflict(paths) => Trial::Conflict(paths),
    }
}

/// Writes a plan as the bundle's chain of merge commits and returns its head (the base when
/// the plan has no members). Each commit's parents are the previous one and the member's own
/// head, so the member's commits keep their SHAs and authors; Clambake commits, dated `at`, so
/// writing the same plan twice gives the same commits.
pub async fn write_chain(
    git: &dyn MergeEngine,
    plan: &BundlePlan,
    at: Timestamp,
) -> GitResult<String> {
    let mut tip = plan.base.clone();
    for member in &plan.members {
        let candidate = &member.candidate;
        tip = git
            .write_commit(
                &member.tip,
                &[&tip, &candidate.head],
                &merge_message(candidate),
                at,
            )
            .await?;
    }
    Ok(tip)
}

/// Names the branch and issue, not the title: a commit that reaches the default branch closes
/// the issues its message names with a closing keyword, and a title is text anyone wrote.
fn merge_message(candidate: &Candidate) -> String {
    format!("Merge branch '{}' (#{})", candidate.branch, candidate.issue)
}

/// What writing a bundle branch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchWrite {
    Created,
    /// The branch already pointed at this tip (a re-run after a crash).
    AlreadyThere,
    /// The branch exists and points elsewhere.
    Elsewhere {
        found: String,
    },
}

/// Puts `branch` on the remote at its tip here, before a pull request names it as its head:
/// a forge elsewhere (GitHub) sees only what was pushed, while on the local forge the remote
/// is this repository and it is there already. The remote's branch only ever moves forward:
/// one holding work this tip lacks (another orchestrator's, a reviewer's) is kept as it is.
pub async fn publish_head(git: &Repository, branch: &str) -> GitResult<()> {
    let Some(tip) = git.refs.branch_tip(branch).await? else {
        return Ok(());
    };
    let published = git.remote.tip(branch).await?;
    if published.as_deref() == Some(tip.as_str()) {
        return Ok(());
    }
    if let Some(theirs) = &published
        && !git.refs.is_ancestor(theirs, &tip).await?
    {
        tracing::warn!(
            branch,
            "the remote's branch holds work this one lacks: it is kept, and not overwritten"
        );
        return Ok(());
    }
    let lease = published.as_deref();
    if !git
        .remote
        .publish(branch, &tip, lease, "clambake: for review")
        .await?
    {
        tracing::warn!(
            branch,
            "the remote's branch moved while it was published: kept"
        );
    }
    Ok(())
}

/// Publishes `branch` at `tip` only if the remote has no such branch yet (compare and swap),
/// never touching a checkout.
pub async fn write_bundle_branch(
    remote: &dyn Remote,
    branch: &str,
    tip: &str,
) -> GitResult<BranchWrite> {
    loop {
        if remote
            .publish(branch, tip, None, "clambake: bundle train")
            .await?
        {
            return Ok(BranchWrite::Created);
        }
        match remote.tip(branch).await? {
            Some(found) if found == tip => return Ok(BranchWrite::AlreadyThere),
            Some(found) => return Ok(BranchWrite::Elsewhere { found }),
            // Deleted between the two looks: try again.
            None => continue,
        }
    }
}
