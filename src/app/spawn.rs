//! `spawn`: one attempt of an agent slot at an issue, run in the foreground to its outcome.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::oneshot;

use crate::adapters::agents::runtime_for;
use crate::app::attempt::{
    AttemptError, AttemptRequest, LOGS_DIR, claim_slot, limits_from, open_registry, run_attempt,
};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{AgentRuntimeKind, Config};
use crate::core::labels::agent_slot;
use crate::core::outcome::{ExitStatus, Outcome, Termination};
use crate::core::prompt::PromptComment;
use crate::ports::Forge;

/// What `spawn` reports.
#[derive(Debug, Clone, Serialize)]
pub struct SpawnReport {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    pub runtime: &'static str,
    pub branch: String,
    pub worktree: PathBuf,
    pub outcome: Outcome,
    pub reason: String,
    pub commits_ahead: u32,
    pub committed_leftovers: bool,
    pub exit: ExitStatus,
    pub terminated: Option<Termination>,
    pub turns: u32,
    pub cost_usd: Option<f64>,
    pub session_id: Option<String>,
    pub log: PathBuf,
}

/// Runs `agent` on `issue` until the attempt ends. `stop` terminates it early.
pub async fn spawn(
    workspace: &Workspace,
    forge: &dyn Forge,
    config: &Config,
    agent: &str,
    issue: u64,
    runtime: Option<AgentRuntimeKind>,
    stop: oneshot::Receiver<()>,
) -> AppResult<SpawnReport> {
    if agent_slot(agent).is_none() {
        return Err(AppError::NotAnAgent {
            name: agent.to_owned(),
        });
    }
    let runtime = runtime_for(runtime.unwrap_or(config.agents.runtime), &config.agents)
        .map_err(AttemptError::from)?;
    claim_slot(
        open_registry(workspace)?.as_ref(),
        agent,
        config.agents.max_concurrent,
    )?;
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
    let attempt = next_attempt(&workspace.state_dir().join(LOGS_DIR), agent, issue)?;
    let request = AttemptRequest {
        agent: agent.to_owned(),
        issue,
        title: found.title,
        body: found.body,
        comments,
        attempt,
        base: forge.default_branch().await?,
    };
    let result = run_attempt(
        workspace,
        runtime.as_ref(),
        &request,
        limits_from(&config.agents),
        stop,
    )
    .await?;
    Ok(SpawnReport {
        agent: agent.to_owned(),
        issue,
        attempt,
        runtime: runtime.name(),
        branch: result.branch,
        worktree: result.worktree,
        outcome: result.classification.outcome,
        reason: result.classification.reason,
        commits_ahead: result.commits_ahead,
        committed_leftovers: result.committed_leftovers,
        exit: result.report.exit,
        terminated: result.report.terminated,
        turns: result.report.totals.turns,
        cost_usd: result.report.totals.cost_usd,
        session_id: result.report.totals.session_id,
        log: result.logs.stdout,
    })
}

/// One more than the attempts already logged for this agent and issue.
fn next_attempt(logs: &Path, agent: &str, issue: u64) -> AppResult<u32> {
    let prefix = format!("{agent}-{issue}-");
    let entries = match std::fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(source) => {
            return Err(AppError::Io {
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
