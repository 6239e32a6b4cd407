//! `spawn`: one attempt of an agent slot at an issue, run in the foreground to its outcome.

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::adapters::agents::runtime_for;
use crate::app::attempt::{
    AttemptError, claim_slot, forget_registration, limits_from, open_registry, request_for,
    run_attempt,
};
use crate::app::run_lock::RunLock;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{AgentRuntimeKind, Config};
use crate::core::labels::agent_slot;
use crate::core::outcome::{ExitStatus, Outcome, Termination};
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
            agent: agent.to_owned(),
        });
    }
    if let Some(asked) = runtime
        && asked != AgentRuntimeKind::Simulated
        && !config.agents.real_processes
    {
        return Err(AppError::RealAgentsRolledBack {
            runtime: asked.as_str().to_owned(),
        });
    }
    let runtime = runtime_for(runtime.unwrap_or(config.agents.runtime), &config.agents)
        .map_err(AttemptError::from)?;
    // A run would claim this issue too, and adopt this agent as its own.
    let _lock = RunLock::acquire_shared(&workspace.state_dir())?;
    let registry = open_registry(workspace)?;
    claim_slot(registry.as_ref(), agent, config.agents.max_concurrent)?;
    // A registration whose agent is gone holds a verdict a run has yet to act on: replacing
    // it would lose that verdict.
    if let Some(ended) = registry
        .list()
        .map_err(AttemptError::from)?
        .into_iter()
        .find(|entry| entry.agent == agent)
    {
        return Err(AppError::UnjudgedAttempt {
            agent: ended.agent,
            issue: ended.issue,
        });
    }
    let base = forge.default_branch().await?;
    let request = request_for(workspace, forge, agent, issue, &base, &[]).await?;
    let attempt = request.attempt;
    let result = run_attempt(
        workspace,
        runtime.as_ref(),
        &request,
        limits_from(&config.agents),
        stop,
    )
    .await;
    // The verdict is reported here and now: nothing later needs the registration.
    forget_registration(workspace, agent)?;
    let result = result?;
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
