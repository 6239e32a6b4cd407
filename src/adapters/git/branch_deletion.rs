//! The one guarded way Clambake deletes a branch, and the archive that keeps a tip first.

use super::Git;
use crate::core::branches::name::is_clambake_branch;
use crate::core::recovery::drift::archive_ref;
use crate::ports::git::{BranchDeletion, GitError, GitResult, Refs};

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

    /// [`Refs::delete_branch`].
    pub(super) async fn delete_guarded(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion> {
        let refuse = |why: &str| {
            Err(GitError::DeletionRefused {
                branch: branch.to_owned(),
                why: why.to_owned(),
            })
        };
        if branch == base {
            return refuse("it is the base branch");
        }
        if !is_clambake_branch(branch) {
            return refuse("it is not one of Clambake's branches");
        }
        let Some(current) = self.branch_tip(branch).await? else {
            return Ok(BranchDeletion::Absent);
        };
        if current != expected_tip {
            return Ok(BranchDeletion::Moved { found: current });
        }
        let in_base = match self.branch_tip(base).await? {
            Some(base_tip) => self.is_ancestor(expected_tip, &base_tip).await?,
            None => false,
        };
        let archived = if in_base {
            None
        } else {
            match self.keep_archived(branch, expected_tip).await? {
                Some(archive) => Some(archive),
                None => return refuse("its archive reference exists and points elsewhere"),
            }
        };
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
