//! Observation: the world as the forge, git and the agent processes show it, gathered into the
//! [`Snapshot`] that drift detection compares with the journal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::app::agents::attempt::WORKTREES_DIR;
use crate::app::agents::processes::HostProcesses;
use crate::app::agents::verdict::last_verdict;
use crate::app::{AppResult, Workspace};
use crate::core::agents::outcome::Outcome;
use crate::core::branches::name::parse_branch_name;
use crate::core::queue::labels::agent_slot;
use crate::core::recovery::drift::AttemptFacts;
use crate::core::recovery::drift::{
    ARCHIVE_PREFIX, IssueFacts, ProcessFacts, PullRequestFacts, PullRequestStatus, RefFacts,
    Snapshot, WorktreeFacts,
};
use crate::ports::Forge;
use crate::ports::forge::{IssueFilter, PullRequestFilter, PullRequestState};
use crate::ports::journal::{AttemptLog, Journal};
use crate::ports::processes::{AgentProcesses, ObservedProcess};

/// The agent processes of this repository, as its registry records them.
pub fn registered_processes(workspace: &Workspace) -> AppResult<Box<dyn AgentProcesses>> {
    let config = workspace.load_config()?.config;
    let registry = crate::app::agents::attempt::open_host(workspace)?;
    Ok(Box::new(HostProcesses::new(
        std::sync::Arc::from(registry),
        std::time::Duration::from_secs(u64::from(config.agents.terminate_grace_seconds)),
    )))
}

/// Where the agent worktrees live.
pub fn worktrees_dir(workspace: &Workspace) -> PathBuf {
    workspace.state_dir().join(WORKTREES_DIR)
}

/// The world now: every open issue (with the verdict on its last attempt, for those an agent
/// claims: [`last_verdict`]), every pull request (bundles included), local branches and
/// archive references with their commits ahead of `base`, the agent worktrees, the agent
/// processes. A process's last activity is its registry's, or its branch's last commit when
/// that is later (a commit is a sign of life); with neither, `now`.
pub async fn observe(
    workspace: &Workspace,
    forge: &dyn Forge,
    processes: &dyn AgentProcesses,
    records: Records<'_>,
    base: &str,
    now: Timestamp,
) -> AppResult<Snapshot> {
    let issues: Vec<IssueFacts> = forge
        .issues(&IssueFilter::open())
        .await?
        .into_iter()
        .map(|issue| IssueFacts {
            number: issue.number,
            open: true,
            labels: issue.labels,
        })
        .collect();
    let last_attempts = last_attempts(records, &issues)?;
    let pull_requests = forge
        .pull_requests(&PullRequestFilter::default())
        .await?
        .into_iter()
        .map(|pr| PullRequestFacts {
            number: pr.number,
            status: match pr.state {
                PullRequestState::Open => PullRequestStatus::Open,
                PullRequestState::Closed => PullRequestStatus::Closed,
                PullRequestState::Merged => PullRequestStatus::Merged,
            },
        })
        .collect();
    let refs = references(workspace, base).await?;
    let worktrees = agent_worktrees(workspace).await?;
    let processes = processes.processes().await?;
    let mut snapshot = Snapshot {
        issues,
        pull_requests,
        branches: Vec::new(),
        archives: Vec::new(),
        worktrees,
        processes: Vec::new(),
        last_attempts,
    };
    let mut last_commit: BTreeMap<(String, u64), Timestamp> = BTreeMap::new();
    for observed in refs {
        if let Some(branch) = observed.facts.name.strip_prefix("refs/heads/") {
            if let Some(owner) = parse_branch_name(branch)
                && observed.facts.commits_ahead > 0
            {
                let key = (owner.agent.to_owned(), owner.issue);
                let at = last_commit.entry(key).or_insert(observed.committed_at);
                *at = (*at).max(observed.committed_at);
            }
            snapshot.branches.push(RefFacts {
                name: branch.to_owned(),
                ..observed.facts
            });
        } else {
            snapshot.archives.push(observed.facts);
        }
    }
    snapshot.processes = processes
        .into_iter()
        .map(|process| {
            let commit = last_commit.get(&(process.agent.clone(), process.issue));
            process_facts(process, commit.copied(), now)
        })
        .collect();
    Ok(snapshot)
}

fn process_facts(
    process: ObservedProcess,
    last_commit: Option<Timestamp>,
    now: Timestamp,
) -> ProcessFacts {
    let last_activity = match (process.last_activity, last_commit) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => now,
    };
    ProcessFacts {
        agent: process.agent,
        issue: process.issue,
        attempt: process.attempt,
        alive: process.alive,
        last_activity,
    }
}

/// Where the slots' steps and the attempts' verdicts are recorded.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    pub journal: &'a dyn Journal,
    pub attempts: &'a dyn AttemptLog,
}

/// The verdict on the last attempt at each of `issues` that an agent's label claims.
fn last_attempts(records: Records<'_>, issues: &[IssueFacts]) -> AppResult<Vec<AttemptFacts>> {
    let mut last = Vec::new();
    let claimed = issues
        .iter()
        .filter(|issue| issue.labels.iter().any(|l| agent_slot(l).is_some()));
    for issue in claimed {
        if let Some(attempt) = last_verdict(records.journal, records.attempts, issue.number)? {
            last.push(AttemptFacts {
                issue: issue.number,
                succeeded: attempt.outcome == Outcome::Success.as_str(),
                agent: attempt.agent,
                attempt: attempt.attempt,
            });
        }
    }
    Ok(last)
}

/// A reference, its facts and when its tip was committed.
struct ObservedRef {
    facts: RefFacts,
    committed_at: Timestamp,
}

/// Local branches and archive references, their commits counted against the remote's base.
async fn references(workspace: &Workspace, base: &str) -> AppResult<Vec<ObservedRef>> {
    let remote_base = workspace.remote().tracking_ref(base);
    let surveyed = workspace
        .refs()
        .survey(&remote_base, &["refs/heads/", ARCHIVE_PREFIX])
        .await?;
    Ok(surveyed
        .into_iter()
        .map(|found| ObservedRef {
            facts: RefFacts {
                name: found.name,
                tip: found.tip,
                commits_ahead: found.commits_ahead,
            },
            committed_at: found.committed_at,
        })
        .collect())
}

/// The linked worktrees under `.clambake/worktrees/` that still exist on disk.
async fn agent_worktrees(workspace: &Workspace) -> AppResult<Vec<WorktreeFacts>> {
    let dir = worktrees_dir(workspace);
    // A worktree being added in this process has half-written metadata that git chokes on.
    let _stable = workspace.lock_worktrees().await;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut found = Vec::new();
    for worktree in workspace.worktrees().list().await? {
        let path = std::fs::canonicalize(&worktree.path).unwrap_or(worktree.path.clone());
        if !path.starts_with(&dir) || !path.is_dir() {
            continue;
        }
        // A worktree whose metadata a kill left half-written cannot be read; the next
        // attempt in it sets it aside, and until then it is not part of the world.
        let Ok(dirty) = workspace.worktrees().is_dirty(&path).await else {
            tracing::warn!(worktree = %path.display(), "an unreadable worktree was left out");
            continue;
        };
        found.push(WorktreeFacts {
            head: worktree.head.unwrap_or_default(),
            path: worktree.path,
            branch: worktree.branch,
            dirty,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_later_than_the_registry_counts_as_activity() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let process = |last_activity| ObservedProcess {
            agent: "agent001".into(),
            issue: 12,
            attempt: Some(1),
            pid: Some(1),
            alive: true,
            last_activity,
        };
        let now = at("2026-11-21T12:00:00Z");
        let early = at("2026-11-21T10:00:00Z");
        let late = at("2026-11-21T11:00:00Z");
        let facts = |p, c| process_facts(process(p), c, now).last_activity;
        assert_eq!(facts(Some(early), Some(late)), late);
        assert_eq!(facts(Some(late), Some(early)), late);
        assert_eq!(facts(None, Some(early)), early);
        assert_eq!(facts(None, None), now, "no evidence is no staleness");
    }
}
