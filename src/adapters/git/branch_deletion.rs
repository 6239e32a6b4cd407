//! The one guarded way Clambake deletes a branch, and the archive that keeps a tip first.

use super::{Git, GitError, GitResult};
use crate::core::branches::name::is_clambake_branch;
use crate::core::recovery::drift::archive_ref;

/// What [`Git::delete_branch`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchDeletion {
    /// Deleted; `archived` names the archive reference that keeps a tip the base lacks.
    Deleted { archived: Option<String> },
    /// There was no such branch.
    Absent,
    /// The branch had moved to `found`, so it was kept.
    Moved { found: String },
}

impl Git {
    /// Keeps `tip` of `branch` under `refs/clambake/archive/<branch>/<tip>`, so that no
    /// commit of it is lost when the branch moves or goes. Returns the archive reference, or
    /// `None` if that reference exists and points elsewhere.
    pub async fn archive(&self, branch: &str, tip: &str) -> GitResult<Option<String>> {
        let archive = archive_ref(branch, tip);
        let kept = self.resolve(&archive).await?.as_deref() == Some(tip)
            || self
                .compare_and_swap_ref(&archive, tip, None, "clambake: archive")
                .await?;
        Ok(kept.then_some(archive))
    }

    /// The one way Clambake deletes a branch. It refuses `base` and any branch outside
    /// Clambake's namespaces (`agentNNN/...`, `clambake/...`), keeps a tip the base cannot
    /// reach under its archive reference (`refs/clambake/archive/<branch>/<tip>`) first, and
    /// deletes only while the branch still points at `expected_tip` (a compare and swap).
    pub async fn delete_branch(
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
            match self.archive(branch, expected_tip).await? {
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
