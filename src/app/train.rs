//! The git half of a train: the planner answered with trial merges that never touch a working
//! tree or the index, and the bundle written as a chain of real merge commits.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::adapters::git::{Git, GitResult, MergeSpec, TrialMerge};
use crate::core::bundle_plan::{BundlePlan, Candidate, Planner, Trial};

/// What a set-aside branch with no history in common with the base conflicts in.
pub const NO_COMMON_HISTORY: &str = "all of its history (it shares none with the base)";

/// Plans a bundle on `base_tip` by merging candidates (in boarding order) in memory with
/// `git merge-tree`. Nothing but objects is written: no commit, no reference, no index, no
/// working tree. Each member's `tip` in the plan is the merged tree; [`write_chain`] turns the
/// plan into commits.
///
/// Each branch is merged against its own merge base with the base branch (found for all of them
/// in one history walk), so the chain's tips can stay trees. For a branch built on another
/// member's branch that base is older than the true one; identical changes still merge cleanly,
/// and a later change to a member's lines shows as a conflict: the branch gets its own pull
/// request rather than a wrong merge.
pub async fn plan_on_git(
    git: &Git,
    base_tip: &str,
    candidates: Vec<Candidate>,
    max_size: usize,
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
        planner.set_aside_against_base(*index, vec![NO_COMMON_HISTORY.to_owned()]);
    }
    // One process checks every branch against the base alone; those that clash there are set
    // aside at once instead of costing a chain merge and its probes each.
    let related: Vec<usize> = (0..heads.len())
        .filter(|i| !unrelated.contains(i))
        .collect();
    let against_base: Vec<MergeSpec> = related
        .iter()
        .map(|index| MergeSpec {
            base: None,
            ours: base_tip,
            theirs: heads[*index],
        })
        .collect();
    let verdicts = git.trial_merges(&against_base).await?;
    for (index, verdict) in related.into_iter().zip(verdicts) {
        if let TrialMerge::Conflict(paths) = verdict {
            planner.set_aside_against_base(index, paths);
        }
    }
    // Every tip the chain has had, so that attribution probes for a set-aside branch can all
    // run in one batched process (the planner bisects; the answers come from this cache).
    let mut tips: Vec<String> = vec![base_tip.to_owned()];
    let mut probes: HashMap<(String, usize), TrialMerge> = HashMap::new();
    while let Some(question) = planner.next_question() {
        let index = question.candidate;
        let (head, merge_base) = (heads[index], merge_bases[index].as_str());
        let answer = if question.keep {
            git.trial_merge_onto(merge_base, &question.ours, head)
                .await?
        } else {
            let key = (question.ours.clone(), index);
            if !probes.contains_key(&key) {
                let batch: Vec<MergeSpec> = tips
                    .iter()
                    .map(|tip| MergeSpec {
                        base: Some(merge_base),
                        ours: tip,
                        theirs: head,
                    })
                    .collect();
                let answers = git.trial_merges(&batch).await?;
                for (tip, answer) in tips.iter().zip(answers) {
                    probes.insert((tip.clone(), index), answer);
                }
            }
            probes
                .remove(&key)
                .expect("every tip the planner probes is a tip of the chain")
        };
        let trial = match answer {
            TrialMerge::Conflict(paths) => Trial::Conflict(paths),
            TrialMerge::Clean(tree) => {
                if question.keep {
                    tips.push(tree.clone());
                }
                Trial::Clean(tree)
            }
        };
        planner.answer(trial);
    }
    Ok(planner.finish())
}

/// Writes a plan as the bundle's chain of merge commits and returns its head (the base when
/// the plan has no members). Each commit's parents are the previous one and the member's own
/// head, so the member's commits keep their SHAs and authors; Clambake commits, dated `at`, so
/// writing the same plan twice gives the same commits.
pub async fn write_chain(git: &Git, plan: &BundlePlan, at: Timestamp) -> GitResult<String> {
    let mut tip = plan.base.clone();
    for member in &plan.members {
        let candidate = &member.candidate;
        tip = git
            .commit_tree_at(
                &member.tip,
                &[&tip, &candidate.head],
                &merge_message(candidate),
                at,
            )
            .await?;
    }
    Ok(tip)
}

fn merge_message(candidate: &Candidate) -> String {
    format!(
        "Merge branch '{}' (#{}: {})",
        candidate.branch, candidate.issue, candidate.title
    )
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

/// Creates `branch` at `tip` only if it does not exist yet (compare and swap), never touching
/// a checkout.
pub async fn write_bundle_branch(git: &Git, branch: &str, tip: &str) -> GitResult<BranchWrite> {
    let reference = format!("refs/heads/{branch}");
    loop {
        if git
            .compare_and_swap_ref(&reference, tip, None, "clambake: bundle train")
            .await?
        {
            return Ok(BranchWrite::Created);
        }
        match git.branch_tip(branch).await? {
            Some(found) if found == tip => return Ok(BranchWrite::AlreadyThere),
            Some(found) => return Ok(BranchWrite::Elsewhere { found }),
            // Deleted between the two looks: try again.
            None => continue,
        }
    }
}
