//! Work that shares no history with the base branch (a root commit of its own, as when its
//! branch was deleted under a running agent) can never merge: landing refuses it, keeps its tip
//! under an archive reference, opens no pull request, and marks the issue `route:failed` with a
//! comment that says why and what to do.

use serde::Serialize;

use crate::app::AppResult;
use crate::app::trains::comment::comment_unless_locked;
use crate::core::forge_text::comments::{UnrelatedWork, refused_unrelated};
use crate::core::queue::labels;
use crate::core::recovery::drift::archive_ref;
use crate::ports::Forge;
use crate::ports::git::Repository;

/// Work refused because it has no merge base with the base branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unrelated {
    pub branch: String,
    pub base: String,
    pub tip: String,
    /// Where its tip is kept.
    pub archive: String,
}

impl Unrelated {
    /// The verdict in one sentence.
    pub fn describe(&self) -> String {
        self.text().verdict()
    }

    fn text(&self) -> UnrelatedWork<'_> {
        UnrelatedWork {
            branch: &self.branch,
            base: &self.base,
            tip: &self.tip,
            archive: &self.archive,
        }
    }
}

/// `Some` when `branch` has no merge base with `base` (its tip archived first); `None` when it
/// is related, or when either is missing (landing's own checks speak to that).
pub async fn find_unrelated(
    git: &Repository,
    base: &str,
    branch: &str,
) -> AppResult<Option<Unrelated>> {
    let (Some(base_tip), Some(tip)) = (
        git.remote.tip(base).await?,
        git.refs.branch_tip(branch).await?,
    ) else {
        return Ok(None);
    };
    if git.merges.merge_base(&base_tip, &tip).await?.is_some() {
        return Ok(None);
    }
    // One reference per tip: one written already keeps this tip.
    let archive = git
        .refs
        .archive(branch, &tip)
        .await?
        .unwrap_or_else(|| archive_ref(branch, &tip));
    Ok(Some(Unrelated {
        branch: branch.to_owned(),
        base: base.to_owned(),
        tip,
        archive,
    }))
}

/// Marks the issue `route:failed` (its claim and any review label gone) and says why, so a
/// person sees it: nothing Clambake does can land this work.
pub async fn refuse(
    forge: &dyn Forge,
    issue: u64,
    agent: &str,
    unrelated: &Unrelated,
) -> AppResult<()> {
    forge
        .edit_labels(
            issue,
            &[labels::FAILED.to_owned()],
            &[
                agent.to_owned(),
                labels::READY.to_owned(),
                labels::REVIEW.to_owned(),
            ],
        )
        .await?;
    comment_unless_locked(forge, issue, &refused_unrelated(&unrelated.text())).await?;
    Ok(())
}
