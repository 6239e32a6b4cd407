//! The git half of a train: the planner answered with trial merges that never touch a working
//! tree or the index, and the bundle branch written as a chain of real merge commits.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::adapters::git::{Git, GitResult, TrialMerge};
use crate::core::bundle_plan::{BundlePlan, Candidate, Planner, Trial};

/// Plans a bundle on `base_tip` by merging candidates in memory with `git merge-tree`.
///
/// `candidates` in boarding order.
/// Every clean merge the planner keeps is written as a merge commit (Clambake as committer,
/// dated `at`, so planning twice gives the same commits); its parents are the previous tip and
/// the member's own head, so the member's commits keep their SHAs and authors. Nothing but
/// objects is written: no reference, no index, no working tree.
pub async fn plan_on_git(
    git: &Git,
    base_tip: &str,
    candidates: Vec<Candidate>,
    max_size: usize,
    at: Timestamp,
) -> GitResult<BundlePlan> {
    // One process checks every branch against the base alone; those that clash there are set
    // aside at once instead of costing a chain merge and its probes each.
    let against_base: Vec<(&str, &str)> = candidates
        .iter()
        .map(|c| (base_tip, c.head.as_str()))
        .collect();
    let verdicts = git.trial_merges(&against_base).await?;
    let mut planner = Planner::new(base_tip.to_owned(), candidates, max_size);
    for (index, verdict) in verdicts.into_iter().enumerate() {
        if let TrialMerge::Conflict(paths) = verdict {
            planner.set_aside_against_base(index, paths);
        }
    }
    // Every tip the chain has had, so that attribution probes for a set-aside branch can all
    // run in one batched process (the planner bisects; the answers come from this cache).
    let mut tips: Vec<String> = vec![base_tip.to_owned()];
    let mut probes: HashMap<(String, String), TrialMerge> = HashMap::new();
    while let Some(question) = planner.next_question() {
        let candidate = &planner.candidates()[question.candidate];
        let head = candidate.head.as_str();
        let answer = if question.keep {
            git.trial_merge(&question.ours, head).await?
        } else {
            let key = (question.ours.clone(), head.to_owned());
            if !probes.contains_key(&key) {
                let pairs: Vec<(&str, &str)> =
                    tips.iter().map(|tip| (tip.as_str(), head)).collect();
                let answers = git.trial_merges(&pairs).await?;
                for (tip, answer) in tips.iter().zip(answers) {
                    probes.insert((tip.clone(), head.to_owned()), answer);
                }
            }
            probes
                .remove(&key)
                .expect("every tip the planner probes is a tip of the chain")
        };
        let trial = match answer {
            TrialMerge::Conflict(paths) => Trial::Conflict(paths),
            TrialMerge::Clean(tree) if question.keep => {
                let commit = git
                    .commit_tree_at(
                        &tree,
                        &[&question.ours, head],
                        &merge_message(candidate),
                        at,
                    )
                    .await?;
                tips.push(commit.clone());
                Trial::Clean(commit)
            }
            TrialMerge::Clean(tree) => Trial::Clean(tree),
        };
        planner.answer(trial);
    }
    Ok(planner.finish())
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
