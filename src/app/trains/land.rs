//! `land`: an agent's finished work, checked (the agent stopped, commits ahead of the base),
//! landed by hand as the run loop lands it ([`disposal::land`]), its worktree removed as the
//! run loop removes it. A run lands finished work that waits for `land` the same way.

use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::attempt::{
    AttemptError, WORKTREES_DIR, check_slot_free, open_host, worktree_path,
};
use crate::app::agents::lock::RunLock;
use crate::app::agents::simulated_work::simulated_issue;
use crate::app::agents::verdict::last_verdict;
use crate::app::agents::worktree::commit_leftovers;
use crate::app::agents::worktree::remove_worktree;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::queue::ledger::ClaimLedger;
use crate::app::trains::disposal::{self, Landing, Work};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::agents::outcome::Outcome;
use crate::core::branches::name::slot_branch;
use crate::core::queue::claims::ClaimState;
use crate::core::queue::labels::agent_slot;
use crate::ports::Forge;
use crate::ports::forge::{IssueFilter, IssueState};
use crate::ports::journal::{Journal, Store};

#[derive(Debug, Clone, Serialize)]
pub struct LandReport {
    pub agent: String,
    pub issue: u64,
    pub branch: String,
    pub base: String,
    pub commits_ahead: u32,
    pub labels: Vec<String>,
    /// Without bundling, the pull request that carries the work.
    pub pull_request: Option<u64>,
}

/// Lands the work of the agent in `slot`: refused while it runs, if its branch has no commits
/// ahead of the base, or if it shares no history with the base (then the issue is marked
/// `route:failed`, and the slot is free).
pub async fn land(
    workspace: &Workspace,
    forge: &dyn Forge,
    slot: &str,
    now: Timestamp,
) -> AppResult<LandReport> {
    if agent_slot(slot).is_none() {
        return Err(AppError::NotAnAgent {
            agent: slot.to_owned(),
        });
    }
    // A run lands or retries its slots' work itself: landing it by hand beside one would
    // comment and label twice.
    let _lock = RunLock::acquire_shared(&workspace.state_dir())?;
    let registry = open_host(workspace)?;
    check_slot_free(registry.as_ref(), slot, u32::MAX)?;
    let number = issue_of(workspace, forge, slot).await?;
    let config = workspace.load_config()?.config;
    let journal = open_journal(workspace)?;
    let settings = LandSettings {
        state_machine: config.state_machine.enabled,
        bundling: config.bundling.enabled,
    };
    let work = SlotWork {
        slot,
        issue: number,
        cause: "landed by `clambake land`",
    };
    let report = land_work(workspace, forge, &journal, settings, work, now).await?;
    ClaimLedger::open(workspace, &config)?
        .release(number, ClaimState::Landed, now)
        .await?;
    Ok(report)
}

/// How landed work is recorded: `state_machine.enabled` and `bundling.enabled`.
#[derive(Debug, Clone, Copy)]
pub struct LandSettings {
    pub state_machine: bool,
    pub bundling: bool,
}

/// The stopped agent's work to land, and why it lands (for the journal).
#[derive(Debug, Clone, Copy)]
pub struct SlotWork<'a> {
    pub slot: &'a str,
    pub issue: u64,
    pub cause: &'a str,
}

/// Lands the work of `work.slot`, whose agent has stopped, on `work.issue`: leftovers
/// committed, refused if the branch has no commits ahead of the base, the worktree and the
/// slot's registration removed afterwards.
pub async fn land_work(
    workspace: &Workspace,
    forge: &dyn Forge,
    journal: &dyn Store,
    settings: LandSettings,
    work: SlotWork<'_>,
    now: Timestamp,
) -> AppResult<LandReport> {
    let SlotWork {
        slot,
        issue: number,
        cause,
    } = work;
    let issue = forge.issue(number).await?;
    let base = forge.default_branch().await?;
    let worktree = worktree_path(workspace, slot, number);
    // As the run loop does when an attempt ends: what the agent left uncommitted is saved
    // on its branch before the worktree goes.
    let committed_by_clambake = worktree.is_dir()
        && commit_leftovers(workspace.worktrees(), &worktree, number, slot).await?;
    let tips = workspace.refs().branch_tips().await?;
    let branch = slot_branch(tips.keys().map(String::as_str), slot, number, &issue.title);
    let ahead = match workspace.refs().branch_tip(&branch).await? {
        Some(_) => workspace.commits_ahead(&base, &branch).await?,
        None => 0,
    };
    if ahead == 0 {
        return Err(AttemptError::NoCommits {
            agent: slot.to_owned(),
            issue: number,
            branch,
            base,
        }
        .into());
    }
    let work = Work {
        agent: slot,
        issue: number,
        branch: &branch,
        commits_ahead: ahead,
        totals: None,
        simulated: simulated_issue(journal, number)?,
        left_running: None,
        committed_by_clambake,
        checks_passed: None,
    };
    let landing = disposal::land(
        workspace.repository(),
        forge,
        settings.state_machine.then_some(journal as &dyn Journal),
        settings.bundling,
        work,
        cause,
        now,
    )
    .await?;
    // As after the run loop disposes of an attempt: the worktree goes, the branch stays.
    remove_worktree(workspace, &worktree).await?;
    open_host(workspace)?
        .forget(slot)
        .map_err(AttemptError::from)?;
    let landed = match landing {
        Landing::Landed(landed) => landed,
        Landing::Refused(unrelated) => {
            return Err(AppError::LandingRefused {
                issue: number,
                why: unrelated.describe(),
            });
        }
    };
    Ok(LandReport {
        agent: slot.to_owned(),
        issue: number,
        branch,
        base,
        commits_ahead: ahead,
        labels: landed.labels,
        pull_request: landed.pull_request,
    })
}

/// The issue the slot worked on: the open issue carrying its label or, for an agent spawned
/// by hand without a claim, the one issue it has a worktree for.
async fn issue_of(workspace: &Workspace, forge: &dyn Forge, slot: &str) -> AppResult<u64> {
    let claimed = forge
        .issues(&IssueFilter {
            state: Some(IssueState::Open),
            labels: vec![slot.to_owned()],
        })
        .await?;
    let candidates: Vec<u64> = if claimed.is_empty() {
        worktree_issues(workspace, slot)?
    } else {
        claimed.iter().map(|issue| issue.number).collect()
    };
    match candidates.as_slice() {
        [number] => Ok(*number),
        found => Err(AttemptError::NothingToLand {
            agent: slot.to_owned(),
            found: found.len(),
        }
        .into()),
    }
}

/// The issues `slot` has a worktree for: `.clambake/worktrees/<slot>-<issue>`.
fn worktree_issues(workspace: &Workspace, slot: &str) -> AppResult<Vec<u64>> {
    let dir = workspace.state_dir().join(WORKTREES_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AppError::Io {
                action: "list",
                path: dir,
                source,
            });
        }
    };
    let prefix = format!("{slot}-");
    let mut issues: Vec<u64> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?.parse().ok()
        })
        .collect();
    issues.sort_unstable();
    Ok(issues)
}

/// Why the journal moves a slot when a run lands work a success was recorded for.
const LANDED_BY_RUN: &str = "landed by the run loop: the attempt's success was recorded";

/// Lands `slot`'s work on `issue` if the issue's last recorded attempt is the slot's own
/// success, which nothing has acted on (`clambake spawn` leaves it for `land`; a run killed
/// between judging and landing leaves the same): the run loop lands it as `land` does, and
/// the agent does not run again. Returns the attempt and what landed, or `None` (no such
/// verdict, or nothing left on the branch to land) for the caller to run an attempt.
pub async fn land_recorded_success(
    workspace: &Workspace,
    forge: &dyn Forge,
    journal: &dyn Store,
    settings: LandSettings,
    slot: &str,
    issue: u64,
    now: Timestamp,
) -> AppResult<Option<(u32, LandReport)>> {
    // Whether a verdict was acted on is read from the slot's later assignments, which only
    // the state machine journals: without it, an old success could land unjudged work.
    if !settings.state_machine {
        return Ok(None);
    }
    let Some(last) = last_verdict(journal, journal, issue)? else {
        return Ok(None);
    };
    if last.agent != slot || last.outcome != Outcome::Success.as_str() {
        return Ok(None);
    }
    let work = SlotWork {
        slot,
        issue,
        cause: LANDED_BY_RUN,
    };
    match land_work(workspace, forge, journal, settings, work, now).await {
        Ok(landed) => Ok(Some((last.attempt, landed))),
        Err(AppError::Attempt(error)) if matches!(*error, AttemptError::NoCommits { .. }) => {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}
