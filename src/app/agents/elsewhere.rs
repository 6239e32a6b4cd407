//! The local side of an attempt that runs elsewhere (on a GitHub Actions runner): before it
//! starts, the branch it continues published and the claim it works under named; once it has
//! ended, the branch it pushed brought back into this clone (the branch and its worktree moved
//! forward), so that its commits are counted and it lands exactly as a local attempt's would.

use std::path::Path;

use crate::app::Workspace;
use crate::app::error::AttemptError;
use crate::core::queue::claims::claim_ref;
use crate::ports::git::Removal;

/// Publishes `branch` where this clone has work on it that the remote lacks (a handover from
/// another slot, an attempt whose publication had not happened yet), so that the runner
/// continues from it. A branch with no work past `base`, or one the remote has more of, is
/// left alone: the runner starts from the remote's.
pub async fn publish_for_runner(
    workspace: &Workspace,
    branch: &str,
    base: &str,
) -> Result<(), AttemptError> {
    let Some(local) = workspace.refs().branch_tip(branch).await? else {
        return Ok(());
    };
    if workspace.commits_ahead(base, branch).await? == 0 {
        return Ok(());
    }
    let remote = workspace.remote();
    let theirs = remote.tip(branch).await?;
    if let Some(theirs) = &theirs
        && (*theirs == local || !workspace.refs().is_ancestor(theirs, &local).await?)
    {
        return Ok(());
    }
    let reason = "clambake: the work a runner continues";
    if !remote
        .publish(branch, &local, theirs.as_deref(), reason)
        .await?
    {
        tracing::warn!(
            branch,
            "the remote's branch moved meanwhile; the runner continues from it"
        );
    }
    Ok(())
}

/// The claim `issue`'s attempt works under: the commit its claim reference points at on the
/// remote, which the runner's side checks still stands. Empty if there is none (the runner
/// then refuses to work).
pub async fn claim_id(workspace: &Workspace, issue: u64) -> Result<String, AttemptError> {
    let reference = claim_ref(issue);
    let mut claims = workspace.remote().fetch_refs(&reference).await?;
    Ok(claims.remove(&reference).unwrap_or_default())
}

/// Moves `branch` (and its `worktree`, if there is one) forward to what the runner pushed to
/// the remote. A local branch that has diverged from it is left as it is, and said.
pub async fn fetch_pushed(
    workspace: &Workspace,
    branch: &str,
    worktree: &Path,
) -> Result<(), AttemptError> {
    let Some(pushed) = workspace.remote().tip(branch).await? else {
        return Ok(());
    };
    let refs = workspace.refs();
    let local = refs.branch_tip(branch).await?;
    if local.as_deref() == Some(pushed.as_str()) {
        return Ok(());
    }
    if let Some(local) = &local
        && !refs.is_ancestor(local, &pushed).await?
    {
        tracing::warn!(
            branch,
            "the branch here has work the runner's lacks; it stays as it is"
        );
        return Ok(());
    }
    let git = workspace.worktrees();
    let _adding = workspace.lock_worktrees().await;
    // Nothing ran in it here: it holds the branch's old tip, and is made again at the new.
    let checked_out = worktree.is_dir() && git.is_worktree(worktree).await;
    if checked_out {
        git.remove(worktree, Removal::Clean).await?;
    }
    match &local {
        Some(local) => {
            let name = format!("refs/heads/{branch}");
            let reason = "clambake: the work a runner pushed";
            if !refs
                .compare_and_swap_ref(&name, &pushed, Some(local), reason)
                .await?
            {
                tracing::warn!(branch, "the branch moved here meanwhile; it stays as it is");
            }
        }
        None => refs.create_branch(branch, &pushed).await?,
    }
    if checked_out {
        git.add(worktree, branch, None).await?;
    }
    Ok(())
}
