//! `spawn`: one attempt of an agent slot at an issue, run in the foreground to its outcome,
//! through the run loop's lifecycle: the same claim on the forge, the same journal steps, and
//! a failed attempt disposed of as the run loop disposes of one. Finished work stays on the
//! claimed slot for `clambake land`.

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::app::agents::attempt::{
    AttemptError, AttemptResult, check_slot_free, forget_registration, open_host,
    run_attempt_journaled,
};
use crate::app::agents::lock::RunLock;
use crate::app::agents::request::{limits_from, request_for};
use crate::app::lifecycle::transitions::journal_slot;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::queue::claim::{SlotJournal, claim_issue, claimants, journal_assignment};
use crate::app::queue::ledger::ClaimLedger;
use crate::app::run::orchestrator::RunSettings;
use crate::app::trains::disposal::{self, Disposition, Ended};
use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::agents::outcome::{ExitStatus, Outcome, Termination};
use crate::core::branches::name::branch_name;
use crate::core::config::{AgentRuntimeKind, Config};
use crate::core::lifecycle::machine::Event;
use crate::core::queue::claims::ClaimState;
use crate::core::queue::labels::{self, agent_slot};
use crate::core::queue::slots::slot_count;
use crate::ports::Forge;
use crate::ports::forge::IssueState;
use crate::ports::journal::{AttemptLog, Journal};

/// Why the journal moved a slot when `spawn` claimed it.
const CLAIMED_BY_SPAWN: &str = "claimed by `clambake spawn`";

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
    /// What became of a failed attempt's issue, as the run loop decides it; `None` after a
    /// success, whose work waits on the claimed slot for `clambake land`.
    pub disposition: Option<Disposition>,
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
    let runtime = compose::runtime(runtime.unwrap_or(config.agents.runtime), &config.agents)
        .map_err(AttemptError::from)?;
    // A run would claim this issue too, and adopt this agent as its own.
    let _lock = RunLock::acquire_shared(&workspace.state_dir())?;
    let registry = open_host(workspace)?;
    check_slot_free(registry.as_ref(), agent, slot_count(config))?;
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
    let journal = open_journal(workspace)?;
    let base = forge.default_branch().await?;
    let before = forge.issue(issue).await?;
    refuse_claimed_elsewhere(&before, agent)?;
    refuse_a_second_claim(forge, agent, issue).await?;
    let clock = compose::clock();
    let claims = ClaimLedger::open(workspace, config)?;
    claims.heartbeat(clock.now()).await?;
    let claimed = claim_issue(&claims, forge, agent, issue, clock.now()).await;
    claims.sign_off(clock.now()).await?;
    let Some(claimed) = claimed? else {
        return Err(refusal(forge, agent, issue).await);
    };
    let slot = config.state_machine.enabled.then_some(SlotJournal {
        journal: &journal,
        clock: clock.as_ref(),
    });
    let started = async {
        let earlier = journal.attempts(issue)?;
        let comments_from = config.agents.prompt_comments;
        let request = request_for(
            workspace,
            forge,
            agent,
            &claimed,
            &base,
            &earlier,
            comments_from,
        )
        .await?;
        let branch = branch_name(agent, issue, &claimed.issue.title);
        journal_assignment(slot, agent, issue, &branch, CLAIMED_BY_SPAWN)?;
        let limits = limits_from(&config.agents);
        let result =
            run_attempt_journaled(workspace, runtime.as_ref(), &request, limits, stop, slot)
                .await?;
        Ok::<_, AppError>((request.attempt, result))
    }
    .await;
    let (attempt, result): (u32, AttemptResult) = match started {
        Ok(started) => started,
        Err(error) => {
            release_claim(forge, &claims, slot, agent, &before).await?;
            forget_registration(workspace, agent)?;
            return Err(error);
        }
    };
    let ended = Ended {
        agent,
        issue,
        attempt,
        result: &result,
        counted_failures: claims.failures_with_this_one(issue).await?,
        budget: None,
        budget_renews: None,
    };
    let now = clock.now();
    if let Some(refused) = crate::app::agents::check::key_refused(&config.agents, &result) {
        // As the run loop does: no attempt is counted for a key the API refused.
        release_claim(forge, &claims, slot, agent, &before).await?;
        crate::app::agents::worktree::remove_worktree(workspace, &result.worktree).await?;
        forget_registration(workspace, agent)?;
        return Err(refused);
    }
    let disposition = if result.classification.outcome == Outcome::Success {
        disposal::record_attempt(&journal, ended, now)?;
        None
    } else {
        let policy = RunSettings::from_config(config).policy;
        let journaled = slot.map(|s| s.journal);
        let disposition =
            disposal::dispose(workspace, forge, &journal, journaled, policy, ended, now).await?;
        claims
            .release(issue, disposition.claim_state(), now)
            .await?;
        Some(disposition)
    };
    // The verdict has been acted on: nothing later needs the registration.
    forget_registration(workspace, agent)?;
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
        disposition,
    })
}

/// Refuses an issue that is closed, or that another slot holds.
fn refuse_claimed_elsewhere(issue: &crate::ports::forge::Issue, agent: &str) -> AppResult<()> {
    if issue.state == IssueState::Closed {
        return Err(AppError::ClosedIssue {
            issue: issue.number,
        });
    }
    let others: Vec<&str> = claimants(issue)
        .into_iter()
        .filter(|a| *a != agent)
        .collect();
    match others.first() {
        Some(holder) => Err(AppError::ClaimedElsewhere {
            issue: issue.number,
            agent: agent.to_owned(),
            holder: (*holder).to_owned(),
        }),
        None => Ok(()),
    }
}

/// A slot works on one issue at a time: one still claimed by it (finished work waiting for
/// `land`, say) keeps it from taking another.
async fn refuse_a_second_claim(forge: &dyn Forge, agent: &str, issue: u64) -> AppResult<()> {
    let held = forge
        .issues(&crate::ports::forge::IssueFilter {
            state: Some(IssueState::Open),
            labels: vec![agent.to_owned()],
        })
        .await?;
    match held.iter().find(|other| other.number != issue) {
        Some(other) => Err(AppError::SlotHoldsAnother {
            agent: agent.to_owned(),
            held: other.number,
            issue,
        }),
        None => Ok(()),
    }
}

/// The refusal for a claim that did not hold: another slot took the issue at the same moment.
async fn refusal(forge: &dyn Forge, agent: &str, issue: u64) -> AppError {
    let holder = match forge.issue(issue).await {
        Ok(now) => claimants(&now).first().map(|a| (*a).to_owned()),
        Err(error) => return error.into(),
    };
    AppError::ClaimedElsewhere {
        issue,
        agent: agent.to_owned(),
        holder: holder.unwrap_or_else(|| "another slot".to_owned()),
    }
}

/// Gives back a claim whose attempt could not run: the slot's label off (`route:ready` back
/// if the issue had it), its claim reference returned, and the slot abandoned in the journal.
async fn release_claim(
    forge: &dyn Forge,
    claims: &ClaimLedger,
    slot: Option<SlotJournal<'_>>,
    agent: &str,
    before: &crate::ports::forge::Issue,
) -> AppResult<()> {
    let restore: Vec<String> = before
        .has_label(labels::READY)
        .then(|| labels::READY.to_owned())
        .into_iter()
        .collect();
    if before.has_label(agent) {
        // The slot held the issue before (finished work waiting for `land`): it still does.
        return Ok(());
    }
    forge
        .edit_labels(before.number, &restore, &[agent.to_owned()])
        .await?;
    let now = slot.map_or_else(jiff::Timestamp::now, |s| s.clock.now());
    claims
        .release(before.number, ClaimState::Returned, now)
        .await?;
    let journal = slot.map(|s| s.journal as &dyn Journal);
    journal_slot(
        journal,
        agent,
        before.number,
        &[Event::Abandon],
        "the attempt could not run",
        now,
    )
}
