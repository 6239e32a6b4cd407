//! The one guarded way Clambake deletes a branch, and the archive that keeps a tip first.

use super::Git;
use crate::core::branches::name::is_clambake_branch;
use crate::core::recovery::drift::archive_ref;
use crate::ports::git::{BranchDeletion, GitError, GitResult, Refs};

/// The checks before `branch` is deleted, wherever it is (here, or on a remote whose tip of it
/// is `current`): never the base nor a branch not Clambake's, and only at `expected_tip`.
/// `Some` settles the deletion without one: the branch is gone or moved.
pub(super) fn settle_before_deletion(
    branch: &str,
    expected_tip: &str,
    base: &str,
    current: Option<String>,
) -> GitResult<Option<BranchDeletion>> {
    if branch == base {
        return Err(refusal(branch, "it is the base branch"));
    }
    if !is_clambake_branch(branch) {
        return Err(refusal(branch, "it is not one of Clambake's branches"));
    }
    Ok(match current {
        None => Some(BranchDeletion::Absent),
        Some(found) if found != expected_tip => Some(BranchDeletion::Moved { found }),
        Some(_) => None,
    })
}

/// A deletion refused, and why.
pub(super) fn refusal(branch: &str, why: &str) -> GitError {
    GitError::DeletionRefused {
        branch: branch.to_owned(),
        why: why.to_owned(),
    }
}

impl Git {
    /// [`Refs::archive`].
    pub(super) async fn keep_archived(&self, branch: &str, tip: &str) -> GitResult<Option<String>> {
        let archive = archive_ref(branch, tip);
        let kept = self.resolve(&archive).await?.as_deref() == Some(tip)
            || self
                .compare_and_swap_ref(&archive, tip, None, "clambake: archive")
                .await?;
        Ok(kept.then_some(archive))
    }

    /// Archives `tip` of `branch` here unless the base (at `base_tip` where the deletion
    /// happens) holds it; returns the archive. Refuses if the archive points elsewhere.
    pub(super) async fn archive_unless_in_base(
        &self,
        branch: &str,
        tip: &str,
        base_tip: Option<String>,
    ) -> GitResult<Option<String>> {
        let in_base = match base_tip {
            Some(base_tip) => self.is_ancestor(tip, &base_tip).await?,
            None => false,
        };
        if in_base {
            return Ok(None);
        }
        match self.keep_archived(branch, tip).await? {
            Some(archive) => Ok(Some(archive)),
            None => Err(refusal(
                branch,
                "its archive reference exists and points elsewhere",
            )),
        }
    }

    /// [`Refs::delete_branch`].
    pub(super) async fn delete_guarded(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion> {
        let current = self.branch_tip(branch).await?;
        if let Some(settled) = settle_before_deletion(branch, expected_tip, base, current)? {
            return Ok(settled);
        }
        let base_tip = self.branch_tip(base).await?;
        let archived = self
            .archive_unless_in_base(branch, expected_tip, base_tip)
            .await?;
        let reference = format!("refs/heads/{branch}");
        let args = [
            "update-ref",
            "-m",
            "clambake: delete",
            "-d",
            &reference,
            expected_tip,
        ];
        let output = self.output(&args).await?;
        if output.status.success() {
            return Ok(BranchDeletion::Deleted { archived });
        }
        match self.branch_tip(branch).await? {
            None => Ok(BranchDeletion::Absent),
            Some(found) if found != expected_tip => Ok(BranchDeletion::Moved { found }),
            Some(_) => Err(self.failure(&args, &output)),
        }
    }
}
