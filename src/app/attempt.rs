//! One attempt of an agent at an issue, end to end: its own worktree on its own branch, the
//! prompt, the supervised run, then Clambake's own bookkeeping: leftovers committed, commits
//! counted, the outcome classified.

use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::Diagnostic;
use tokio::sync::oneshot;

use crate::adapters::agents::supervisor::{AttemptReport, Limits, LogFiles, supervise};
use crate::adapters::git::{CLAMBAKE_EMAIL, CLAMBAKE_NAME, Git, GitError};
use crate::app::workspace::Workspace;
use crate::core::branch::branch_name;
use crate::core::outcome::{Classification, Evidence, classify};
use crate::core::prompt::{PromptComment, PromptInput, build_prompt};
use crate::ports::Forge;
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AttemptError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Start(#[from] AgentStartError),
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists but has `{found}` checked out, not `{branch}`", worktree.display())]
    #[diagnostic(help("remove it with `git worktree remove {}` and try again", worktree.display()))]
    WorktreeOnOtherBranch {
        worktree: PathBuf,
        branch: String,
        found: String,
    },
}

/// What an attempt is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    pub agent: String,
    pub issue: u64,
    pub title: String,
    pub body: String,
    pub comments: Vec<PromptComment>,
    /// 1 for the first attempt at this issue; names the log files.
    pub attempt: u32,
    /// The branch the work starts from and is counted against.
    pub base: String,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub branch: String,
    pub worktree: PathBuf,
    pub logs: LogFiles,
    pub report: AttemptReport,
    /// Whether Clambake committed work the agent left uncommitted.
    pub committed_leftovers: bool,
    pub commits_ahead: u32,
    pub classification: Classification,
    /// From the agent's exit to its classified outcome (leftovers committed, commits counted).
    pub exit_to_outcome: Duration,
}

/// Where attempts live under the state directory.
pub const WORKTREES_DIR: &str = "worktrees";
pub const LOGS_DIR: &str = "logs";
pub const PROMPTS_DIR: &str = "prompts";

/// The worktree of `agent`'s attempts at `issue`.
pub fn worktree_path(workspace: &Workspace, agent: &str, issue: u64) -> PathBuf {
    workspace
        .state_dir()
        .join(WORKTREES_DIR)
        .join(format!("{agent}-{issue}"))
}

/// Runs one attempt to its end. Sending `()` on `stop` terminates it.
pub async fn run_attempt(
    workspace: &Workspace,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> Result<AttemptResult, AttemptError> {
    let branch = branch_name(&request.agent, request.issue, &request.title);
    let worktree = worktree_path(workspace, &request.agent, request.issue);
    {
        let _adding = workspace.lock_worktrees().await;
        prepare_worktree(&workspace.git, &worktree, &branch, &request.base).await?;
    }
    let stem = format!("{}-{}-{}", request.agent, request.issue, request.attempt);
    let prompt = build_prompt(&PromptInput {
        issue: request.issue,
        title: request.title.clone(),
        body: request.body.clone(),
        comments: request.comments.clone(),
        branch: branch.clone(),
    });
    let prompt_file = workspace
        .state_dir()
        .join(PROMPTS_DIR)
        .join(format!("{stem}.md"));
    write_file(&prompt_file, &prompt).await?;
    let spec = AgentSpec {
        agent: request.agent.clone(),
        issue: request.issue,
        title: request.title.clone(),
        branch: branch.clone(),
        worktree: worktree.clone(),
        prompt,
        prompt_file,
    };
    let logs = LogFiles::in_dir(
        &workspace.state_dir().join(LOGS_DIR),
        &request.agent,
        request.issue,
        request.attempt,
    );
    let running = runtime.start(&spec).await?;
    let report = supervise(running, limits, &logs, stop)
        .await
        .map_err(|source| AttemptError::Io {
            action: "supervise the agent and write its log",
            path: logs.stdout.clone(),
            source,
        })?;
    let agent_git = Git::new(&worktree);
    let committed_leftovers = commit_leftovers(&agent_git, request.issue, &request.agent).await?;
    let commits_ahead = commits_ahead(&workspace.git, &request.base, &branch).await?;
    let classification = classify(&Evidence {
        result: report.totals.result.as_ref(),
        exit: report.exit,
        terminated: report.terminated,
        commits_ahead,
        reports_result: runtime.reports_result(),
    });
    let exit_to_outcome = report.exited_at.elapsed();
    tracing::info!(
        agent = %request.agent,
        issue = request.issue,
        outcome = %classification.outcome,
        reason = %classification.reason,
        commits_ahead,
        "attempt classified"
    );
    Ok(AttemptResult {
        branch,
        worktree,
        logs,
        report,
        committed_leftovers,
        commits_ahead,
        classification,
        exit_to_outcome,
    })
}

/// Gives the attempt its worktree on `branch`: reused if it is already there, on the existing
/// branch if an earlier attempt made one, else on a new branch from `base`.
async fn prepare_worktree(
    git: &Git,
    worktree: &std::path::Path,
    branch: &str,
    base: &str,
) -> Result<(), AttemptError> {
    if worktree.exists() {
        let found = Git::new(worktree)
            .current_branch()
            .await?
            .unwrap_or_default();
        return if found == branch {
            Ok(())
        } else {
            Err(AttemptError::WorktreeOnOtherBranch {
                worktree: worktree.to_path_buf(),
                branch: branch.to_owned(),
                found,
            })
        };
    }
    let path = worktree.display().to_string();
    if git.branch_tip(branch).await?.is_some() {
        git.run(&["worktree", "add", "--quiet", &path, branch])
            .await?;
    } else {
        git.run(&["worktree", "add", "--quiet", "-b", branch, &path, base])
            .await?;
    }
    Ok(())
}

/// Commits whatever the agent left uncommitted, tracked or not, as Clambake. Hooks are skipped:
/// saving the agent's work must not depend on them. Returns whether there was anything.
async fn commit_leftovers(git: &Git, issue: u64, agent: &str) -> Result<bool, AttemptError> {
    let status = git.run(&["status", "--porcelain"]).await?;
    if status.is_empty() {
        return Ok(false);
    }
    git.run(&["add", "--all"]).await?;
    let message = format!(
        "Work left uncommitted by {agent} on issue #{issue}\n\n\
         Committed by Clambake after the agent exited."
    );
    git.run(&[
        "-c",
        &format!("user.name={CLAMBAKE_NAME}"),
        "-c",
        &format!("user.email={CLAMBAKE_EMAIL}"),
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        &message,
    ])
    .await?;
    Ok(true)
}

async fn commits_ahead(git: &Git, base: &str, branch: &str) -> Result<u32, AttemptError> {
    let range = format!("refs/heads/{base}..refs/heads/{branch}");
    let count = git.run(&["rev-list", "--count", &range]).await?;
    count.parse().map_err(|_| {
        AttemptError::Git(GitError::Unparsable {
            args: format!("rev-list --count {range}"),
            output: count,
        })
    })
}

async fn write_file(path: &std::path::Path, text: &str) -> Result<(), AttemptError> {
    let io = |source| AttemptError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    tokio::fs::write(path, text).await.map_err(io)
}

/// A `stop` receiver that never fires (its sender is gone), for attempts nobody will
/// terminate by hand.
pub fn never_stop() -> oneshot::Receiver<()> {
    oneshot::channel().1
}

/// Limits from the configuration's minutes and seconds.
pub fn limits_from(config: &crate::core::config::AgentsConfig) -> Limits {
    Limits {
        stall: Duration::from_secs(u64::from(config.stall_timeout_minutes) * 60),
        timeout: Duration::from_secs(u64::from(config.timeout_minutes) * 60),
        grace: Duration::from_secs(u64::from(config.terminate_grace_seconds)),
    }
}

/// The next attempt of `agent` at `issue`, with the issue's title, body and comments as the
/// forge has them now.
/// `recorded` is the highest attempt number already recorded elsewhere (0 for none): the new
/// number is past both it and every logged attempt, so no two attempts share a number.
pub async fn request_for(
    workspace: &Workspace,
    forge: &dyn Forge,
    agent: &str,
    issue: u64,
    base: &str,
    recorded: u32,
) -> crate::app::AppResult<AttemptRequest> {
    let found = forge.issue(issue).await?;
    let comments = forge
        .comments(issue)
        .await?
        .into_iter()
        .map(|c| PromptComment {
            author: c.author,
            body: c.body,
        })
        .collect();
    let attempt =
        next_attempt(&workspace.state_dir().join(LOGS_DIR), agent, issue)?.max(recorded + 1);
    Ok(AttemptRequest {
        agent: agent.to_owned(),
        issue,
        title: found.title,
        body: found.body,
        comments,
        attempt,
        base: base.to_owned(),
    })
}

/// One more than the attempts already logged for this agent and issue.
pub fn next_attempt(logs: &Path, agent: &str, issue: u64) -> Result<u32, AttemptError> {
    let prefix = format!("{agent}-{issue}-");
    let entries = match std::fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(source) => {
            return Err(AttemptError::Io {
                action: "list",
                path: logs.to_path_buf(),
                source,
            });
        }
    };
    let done = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?
                .strip_suffix(".jsonl")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    Ok(done + 1)
}
