//! An attempt that starts on a branch other than the issue's earlier attempts (another slot
//! retries it, or the title changed) takes their work over: its branch starts at their tip,
//! and their worktrees and branches go, archived first. An issue keeps one line of work and
//! one branch, which is the one its train takes.

use std::time::Duration;

use crate::adapters::git::{Git, GitError};
use crate::core::branch::{earlier_attempts, parse_branch_name};
use crate::core::reconcile::archive_ref;

use super::attempt::{AttemptError, commit_leftovers, creation_interrupted, stop_strays};

/// Makes `branch` (for `issue`) carry the work of the issue's earlier attempt branches, then
/// archives and deletes them. Safe to run again after being interrupted at any point: nothing
/// is deleted before it is archived. `branch` continues the newest earlier work; an earlier
/// branch that diverged from it (two attempts that never saw each other, which one line of
/// attempts does not make) is not merged in: it is deleted with a warning, its work kept only
/// under its archive reference.
pub(crate) async fn take_over_earlier_attempts(
    git: &Git,
    issue: u64,
    branch: &str,
    base: &str,
    grace: Duration,
) -> Result<(), AttemptError> {
    let tips = git.branch_tips().await?;
    let earlier: Vec<String> = earlier_attempts(tips.keys().map(String::as_str), issue, branch)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if earlier.is_empty() {
        return Ok(());
    }
    for worktree in git.worktrees().await? {
        if worktree
            .branch
            .as_ref()
            .is_some_and(|b| earlier.contains(b))
        {
            retire_worktree(git, &worktree.path, grace).await?;
        }
    }
    // Committing leftovers moved some tips.
    let tips = git.branch_tips().await?;
    let kept_in = match tips.get(branch) {
        Some(tip) => tip.clone(),
        None => {
            let start = match latest_work(git, &earlier, &tips, base).await? {
                Some(tip) => tip,
                None => base.to_owned(),
            };
            git.run(&["branch", "--no-track", branch, &start]).await?;
            tracing::info!(issue, branch, from = %start, "the attempt continues earlier work");
            start
        }
    };
    for name in &earlier {
        let Some(tip) = tips.get(name) else { continue };
        if !git.is_ancestor(tip, &kept_in).await? {
            tracing::warn!(
                issue,
                earlier = %name,
                branch,
                "an earlier attempt's work diverged from the one continued; it stays archived"
            );
        }
        let archive = archive_ref(name, tip);
        if git.resolve(&archive).await?.as_deref() != Some(tip.as_str()) {
            git.run(&[
                "update-ref",
                "-m",
                "clambake: archive before a retry takes over",
                &archive,
                tip,
                "",
            ])
            .await?;
        }
        git.run(&["update-ref", "-d", &format!("refs/heads/{name}"), tip])
            .await?;
    }
    Ok(())
}

/// Stops whatever still runs in an earlier attempt's worktree, commits what it left, and
/// removes it. A worktree whose creation was interrupted holds no work and goes as it is.
async fn retire_worktree(
    git: &Git,
    worktree: &std::path::Path,
    grace: Duration,
) -> Result<(), AttemptError> {
    let path = worktree.display().to_string();
    if creation_interrupted(worktree).await {
        git.run(&["worktree", "remove", "--force", "--force", &path])
            .await?;
        return Ok(());
    }
    stop_strays(worktree, grace).await;
    let here = Git::new(worktree);
    if let Some(owner) = here
        .current_branch()
        .await?
        .as_deref()
        .and_then(parse_branch_name)
    {
        commit_leftovers(&here, owner.issue, owner.agent).await?;
    }
    git.run(&["worktree", "remove", &path]).await?;
    Ok(())
}

/// The tip of the earlier branch with the newest commit among those with work the base lacks.
async fn latest_work(
    git: &Git,
    earlier: &[String],
    tips: &std::collections::BTreeMap<String, String>,
    base: &str,
) -> Result<Option<String>, AttemptError> {
    let mut latest: Option<(i64, String)> = None;
    for name in earlier {
        let Some(tip) = tips.get(name) else { continue };
        if git.is_ancestor(tip, base).await? {
            continue;
        }
        let output = git.run(&["log", "-1", "--format=%ct", tip]).await?;
        let seconds: i64 = output.parse().map_err(|_| GitError::Unparsable {
            args: format!("log -1 --format=%ct {tip}"),
            output: output.clone(),
        })?;
        if latest.as_ref().is_none_or(|(newest, _)| seconds >= *newest) {
            latest = Some((seconds, tip.clone()));
        }
    }
    Ok(latest.map(|(_, tip)| tip))
}
