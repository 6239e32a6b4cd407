//! An attempt that starts on a branch other than the issue's earlier attempts (another slot
//! retries it, or the title changed) takes their work over: its branch starts at their tip,
//! and their worktrees and branches go, archived first. An issue keeps one line of work and
//! one branch, which is the one its train takes.

use std::path::Path;
use std::time::Duration;

use crate::core::branches::name::{earlier_attempts, parse_branch_name, parse_worktree_name};
use crate::ports::git::{BranchDeletion, Removal, Repository};

use crate::app::AttemptError;
use crate::app::agents::worktree::{commit_leftovers, creation_interrupted};
use crate::ports::agent_host::AgentHost;

/// What a takeover needs to know.
pub(crate) struct Takeover<'a> {
    pub issue: u64,
    /// The branch the new attempt works on.
    pub branch: &'a str,
    pub base: &'a str,
    /// Where Clambake makes attempts' worktrees; worktrees elsewhere (the main checkout, a
    /// person's own) are never touched.
    pub agent_worktrees: &'a Path,
    /// Heads of open pull requests, never moved or deleted.
    pub pull_request_heads: &'a [String],
    /// Stops what still runs in an earlier attempt's worktree.
    pub host: &'a dyn AgentHost,
}

/// Makes the new attempt's branch carry the work of the issue's earlier attempt branches, then
/// archives and deletes them. Safe to run again after being interrupted at any point: nothing
/// is deleted before it is archived. The branch continues the newest earlier work; an earlier
/// branch that diverged from it (two attempts that never saw each other, which one line of
/// attempts does not make) is not merged in: it is deleted with a warning, its work kept only
/// under its archive reference. An earlier branch an open pull request carries, or that is
/// checked out outside Clambake's worktrees, stays where it is.
pub(crate) async fn take_over_earlier_attempts(
    repository: &Repository,
    takeover: &Takeover<'_>,
    grace: Duration,
) -> Result<(), AttemptError> {
    let Takeover {
        issue,
        branch,
        base,
        ..
    } = *takeover;
    let tips = repository.refs.branch_tips().await?;
    let earlier: Vec<String> = earlier_attempts(tips.keys().map(String::as_str), issue, branch)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if earlier.is_empty() {
        return Ok(());
    }
    let mut in_use: Vec<&String> = earlier
        .iter()
        .filter(|b| takeover.pull_request_heads.contains(b))
        .collect();
    let mut retiring = Vec::new();
    for worktree in repository.worktrees.list().await? {
        let Some(name) = worktree
            .branch
            .as_ref()
            .and_then(|b| earlier.iter().find(|e| *e == b))
        else {
            continue;
        };
        if in_use.contains(&name) {
            continue;
        }
        if is_agent_worktree(&worktree.path, takeover.agent_worktrees) {
            retiring.push(worktree.path);
        } else {
            tracing::info!(issue, branch = %name, worktree = %worktree.path.display(), "an earlier attempt's branch is checked out outside Clambake's worktrees; it stays");
            in_use.push(name);
        }
    }
    for worktree in retiring {
        retire_worktree(repository, takeover.host, &worktree, grace).await?;
    }
    // Committing leftovers moved some tips.
    let tips = repository.refs.branch_tips().await?;
    let kept_in = match tips.get(branch) {
        Some(tip) => tip.clone(),
        None => {
            let start = match latest_work(repository, &earlier, &tips, base).await? {
                Some(tip) => tip,
                None => base.to_owned(),
            };
            repository.refs.create_branch(branch, &start).await?;
            tracing::info!(issue, branch, from = %start, "the attempt continues earlier work");
            start
        }
    };
    for name in earlier.iter().filter(|name| !in_use.contains(name)) {
        let Some(tip) = tips.get(name) else { continue };
        if !repository.refs.is_ancestor(tip, &kept_in).await? {
            tracing::warn!(
                issue,
                earlier = %name,
                branch,
                "an earlier attempt's work diverged from the one continued; it stays archived"
            );
        }
        if let BranchDeletion::Moved { found } =
            repository.refs.delete_branch(name, tip, base).await?
        {
            tracing::warn!(issue, earlier = %name, %found, "an earlier attempt's branch moved while it was taken over; it stays");
        }
    }
    Ok(())
}

/// Whether `worktree` is one Clambake made for an attempt: `<agent_worktrees>/<agent>-<issue>`.
fn is_agent_worktree(worktree: &Path, agent_worktrees: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().ok();
    let named = worktree
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_worktree_name)
        .is_some();
    named
        && worktree.parent().is_some_and(|parent| {
            canonical(parent).is_some() && canonical(parent) == canonical(agent_worktrees)
        })
}

/// Stops whatever still runs in an earlier attempt's worktree, commits what it left, and
/// removes it. A worktree whose creation was interrupted holds no work and goes as it is.
async fn retire_worktree(
    repository: &Repository,
    host: &dyn AgentHost,
    worktree: &std::path::Path,
    grace: Duration,
) -> Result<(), AttemptError> {
    let worktrees = repository.worktrees.as_ref();
    if creation_interrupted(worktree).await {
        worktrees.remove(worktree, Removal::Locked).await?;
        return Ok(());
    }
    host.stop_unregistered(worktree, grace).await;
    if let Some(owner) = worktrees
        .branch(worktree)
        .await?
        .as_deref()
        .and_then(parse_branch_name)
    {
        commit_leftovers(worktrees, worktree, owner.issue, owner.agent).await?;
    }
    worktrees.remove(worktree, Removal::Clean).await?;
    Ok(())
}

/// The tip of the earlier branch with the newest commit among those with work the base lacks.
pub(crate) async fn latest_work(
    repository: &Repository,
    earlier: &[String],
    tips: &std::collections::BTreeMap<String, String>,
    base: &str,
) -> Result<Option<String>, AttemptError> {
    let mut latest: Option<(i64, String)> = None;
    for name in earlier {
        let Some(tip) = tips.get(name) else { continue };
        if repository.refs.is_ancestor(tip, base).await? {
            continue;
        }
        let seconds = repository.refs.commit_time(tip).await?;
        if latest.as_ref().is_none_or(|(newest, _)| seconds >= *newest) {
            latest = Some((seconds, tip.clone()));
        }
    }
    Ok(latest.map(|(_, tip)| tip))
}
