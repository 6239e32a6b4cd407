//! A bisection trial's commit: the selected members' chain merged onto the bundle's base, and
//! on top a commit naming its members and run, all dated at the bundle's departure, so the
//! same trial always is the same commit (a restart or a fresh checkout finds its checks again)
//! and a rerun is a new one.

use crate::core::trains::bisect::Trial;
use crate::core::trains::pull_request::BundleRecord;
use crate::ports::git::{GitResult, MergeEngine, TrialMerge};

/// The trial's commit, or the member whose merge conflicts without the members left out.
pub enum TrialCommit {
    Written(String),
    Conflict { member: u64, paths: Vec<String> },
}

/// The chain of some of a bundle's members merged onto its base, as [`write_chain`] writes a
/// bundle's.
///
/// [`write_chain`]: crate::app::trains::trial::write_chain
pub enum Chain {
    /// Its tip, and the tree there.
    Written {
        tip: String,
        tree: String,
    },
    Conflict {
        member: u64,
        paths: Vec<String>,
    },
}

/// Merges the members of `record` that `keep` names, in bundle order, onto its base: commits
/// dated at its departure, so the same members always make the same chain.
pub async fn write_members_chain(
    git: &dyn MergeEngine,
    record: &BundleRecord,
    keep: &[u64],
) -> GitResult<Chain> {
    let at = record.departure;
    let mut tip = record.base_tip.clone();
    let mut tree = None;
    for member in record.members.iter().filter(|m| keep.contains(&m.issue)) {
        let merge_base = git
            .merge_base(&record.base_tip, &member.head)
            .await?
            .unwrap_or_else(|| record.base_tip.clone());
        match git
            .trial_merge_onto(&merge_base, &tip, &member.head)
            .await?
        {
            TrialMerge::Clean(merged) => {
                let message = format!("Merge branch '{}' (#{})", member.branch, member.issue);
                tip = git
                    .write_commit(&merged, &[&tip, &member.head], &message, at)
                    .await?;
                tree = Some(merged);
            }
            TrialMerge::Conflict(paths) => {
                return Ok(Chain::Conflict {
                    member: member.issue,
                    paths,
                });
            }
        }
    }
    let tree = match tree {
        Some(tree) => tree,
        None => match git.trial_merge(&record.base_tip, &record.base_tip).await? {
            TrialMerge::Clean(tree) => tree,
            TrialMerge::Conflict(paths) => {
                unreachable!("a commit merged with itself conflicts in {paths:?}")
            }
        },
    };
    Ok(Chain::Written { tip, tree })
}

/// Writes `trial`'s commit for the bundle of `record`.
pub async fn write_trial_commit(
    git: &dyn MergeEngine,
    record: &BundleRecord,
    trial: &Trial,
) -> GitResult<TrialCommit> {
    let (tip, tree) = match write_members_chain(git, record, &trial.members).await? {
        Chain::Written { tip, tree } => (tip, tree),
        Chain::Conflict { member, paths } => return Ok(TrialCommit::Conflict { member, paths }),
    };
    let message = format!(
        "Clambake check of {} on {}: run {}",
        members_text(&trial.members),
        record.branch,
        trial.run + 1
    );
    Ok(TrialCommit::Written(
        git.write_commit(&tree, &[&tip], &message, record.departure)
            .await?,
    ))
}

/// `#1 #2 #3`, or `the base alone`.
pub fn members_text(members: &[u64]) -> String {
    if members.is_empty() {
        return "the base alone".to_owned();
    }
    members
        .iter()
        .map(|m| format!("#{m}"))
        .collect::<Vec<_>>()
        .join(" ")
}
