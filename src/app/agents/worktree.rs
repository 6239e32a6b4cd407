//! An attempt's worktree as an agent leaves it: half made by an interrupted `git worktree add`,
//! or holding work the agent did not commit.

use std::path::Path;

use crate::app::{AppResult, AttemptError, Workspace};
use crate::ports::git::Removal;
use crate::ports::git::Worktrees;

/// Whether `git worktree add` was stopped while making `worktree` (a killed run): git keeps
/// a new worktree locked as "initializing" until its checkout is complete, and a half
/// checked-out worktree would make its missing files look like the agent's work.
pub(crate) async fn creation_interrupted(worktree: &Path) -> bool {
    let Ok(link) = tokio::fs::read_to_string(worktree.join(".git")).await else {
        return false;
    };
    let Some(admin) = link.trim().strip_prefix("gitdir: ") else {
        return false;
    };
    tokio::fs::read_to_string(Path::new(admin).join("locked"))
        .await
        .is_ok_and(|reason| reason.trim() == "initializing")
}

/// Commits whatever the agent left uncommitted, tracked or not, as Clambake. Hooks are skipped:
/// saving the agent's work must not depend on them. Returns whether there was anything.
pub(crate) async fn commit_leftovers(
    worktrees: &dyn Worktrees,
    worktree: &Path,
    issue: u64,
    agent: &str,
) -> Result<bool, AttemptError> {
    let message = format!(
        "Work left uncommitted by {agent} on issue #{issue}\n\n\
         Committed by Clambake after the agent exited."
    );
    // A git the agent ran, killed mid-write, would make this commit fail, and every later one.
    worktrees.clear_stale_lock(worktree).await?;
    Ok(worktrees.commit_leftovers(worktree, &message).await?)
}

/// Removes an attempt's worktree; its branch and commits stay.
pub async fn remove_worktree(workspace: &Workspace, worktree: &Path) -> AppResult<()> {
    if worktree.exists() {
        let _removing = workspace.lock_worktrees().await;
        workspace
            .worktrees()
            .remove(worktree, Removal::Discard)
            .await?;
    }
    Ok(())
}
