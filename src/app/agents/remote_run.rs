//! `agent remote-run`: the runner's side of an attempt an orchestrator dispatched to GitHub
//! Actions. In a fresh checkout it checks that the dispatch still stands (the issue's claim on
//! origin is the one it was dispatched under), runs the attempt as a local one runs (the same
//! request and prompt, runtime, supervision and bookkeeping) on the branch it was given, pushes
//! that branch, and writes how it went to `exit.json`. It journals nothing and changes no
//! label: the orchestrator that dispatched it owns the issue and judges the attempt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::app::agents::attempt::{AttemptPlace, forget_registration, run_attempt_at};
use crate::app::agents::handover::latest_work;
use crate::app::agents::request::{limits_from, request_for};
use crate::app::queue::claim::Claimed;
use crate::app::queue::ledger::current_claim;
use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult, AttemptError, Workspace, compose};
use crate::core::agents::remote::{EVENTS_FILE, EXIT_FILE, RemoteExit, STDERR_FILE};
use crate::core::branches::name::{earlier_attempts, parse_branch_name};
use crate::core::queue::claims::{Claim, ClaimState, claim_ref};
use crate::core::queue::labels::agent_slot;
use crate::ports::Forge;
use crate::ports::agent::LogFiles;
use crate::ports::forge::{Issue, IssueState};

/// The most an agent told to stop is given before it is killed: a cancelled Actions step gets
/// 7.5 s after SIGINT and 2.5 s after SIGTERM before its process tree is killed, and the
/// agent's work must be committed and pushed within them.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// What the orchestrator dispatched: the workflow's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub issue: u64,
    /// The agent slot that claimed the issue, `agent001`.
    pub slot: String,
    /// The branch to work on and push.
    pub branch: String,
    /// The attempt the claim is for.
    pub attempt: u32,
    /// The claim's id: the commit `refs/clambake/claims/<issue>` pointed at on origin when the
    /// orchestrator claimed the issue ([`current_claim`]).
    pub claim: String,
}

/// How a remote run ended: the `exit.json` written, and, when the attempt could not run (or
/// its work could not be pushed), why, which gives the command's exit status.
#[derive(Debug)]
pub struct RemoteRun {
    pub exit: RemoteExit,
    pub failure: Option<AppError>,
}

/// Runs the attempt `dispatch` names in the checkout containing `start`, writing the agent's
/// output and `exit.json` into `out`. Sending `()` on `stop` terminates the agent; its work is
/// committed and pushed all the same.
pub async fn remote_run(
    start: &Path,
    dispatch: &Dispatch,
    out: &Path,
    stop: oneshot::Receiver<()>,
) -> RemoteRun {
    let mut exit = RemoteExit {
        exit: None,
        terminated: None,
        committed_leftovers: false,
        pushed_head: None,
        error: None,
    };
    let mut failure = run(start, dispatch, out, stop, &mut exit).await.err();
    if let Some(error) = &failure {
        exit.error = Some(compose::secrets().redact(&error.to_string()).into_owned());
    }
    let text = serde_json::to_string_pretty(&exit).expect("an exit serializes");
    if let Err(error) = write_atomically(&out.join(EXIT_FILE), &format!("{text}\n")) {
        failure.get_or_insert(error);
    }
    RemoteRun { exit, failure }
}

async fn run(
    start: &Path,
    dispatch: &Dispatch,
    out: &Path,
    stop: oneshot::Receiver<()>,
    exit: &mut RemoteExit,
) -> AppResult<()> {
    std::fs::create_dir_all(out).map_err(|source| AppError::Io {
        action: "create",
        path: out.to_path_buf(),
        source,
    })?;
    refuse_malformed(dispatch)?;
    let workspace = Workspace::discover(start).await?;
    let config = workspace.load_config()?.config;
    let forge = workspace.open_forge(config.forge.backend).await?;
    let issue = check_dispatch(&workspace, forge.as_ref(), dispatch).await?;
    let runtime =
        compose::runtime(config.agents.runtime, &config.agents).map_err(AttemptError::from)?;
    workspace.remote().fetch().await?;
    let base = forge.default_branch().await?;
    let branch = dispatch.branch.as_str();
    // Where origin's branch is now: the push moves it only from there.
    let lease = workspace.remote().tip(branch).await?;
    start_branch(&workspace, dispatch, &base, lease.as_deref()).await?;
    let claimed = Claimed {
        issue,
        attempt: dispatch.attempt,
    };
    let comments_from = config.agents.prompt_comments;
    // No journal here: the orchestrator's holds the earlier attempts.
    let request = request_for(
        &workspace,
        forge.as_ref(),
        &dispatch.slot,
        &claimed,
        &base,
        &[],
        comments_from,
    )
    .await?;
    let place = AttemptPlace {
        branch: branch.to_owned(),
        logs: LogFiles {
            stdout: out.join(EVENTS_FILE),
            stderr: out.join(STDERR_FILE),
        },
    };
    let mut limits = limits_from(&config.agents);
    limits.grace = limits.grace.min(CANCEL_GRACE);
    let result =
        run_attempt_at(&workspace, runtime.as_ref(), &request, place, limits, stop).await?;
    exit.exit = Some(result.report.exit);
    exit.terminated = result.report.terminated;
    exit.committed_leftovers = result.committed_leftovers;
    forget_registration(&workspace, &dispatch.slot)?;
    let tip = workspace
        .refs()
        .branch_tip(branch)
        .await?
        .ok_or_else(|| missing_branch(&workspace, branch))?;
    let reason = "clambake: a remote attempt's work";
    if workspace
        .remote()
        .publish(branch, &tip, lease.as_deref(), reason)
        .await?
    {
        exit.pushed_head = Some(tip);
    } else {
        exit.error = Some(format!(
            "origin's {branch} moved while the attempt ran: its work ({tip}) was not pushed over it"
        ));
    }
    Ok(())
}

/// Refuses a dispatch whose slot or branch cannot be an attempt's: the branch is pushed, so it
/// must be the slot's branch of the issue, never the base, another issue's or another slot's.
fn refuse_malformed(dispatch: &Dispatch) -> AppResult<()> {
    if agent_slot(&dispatch.slot).is_none() {
        return Err(AppError::NotAnAgent {
            agent: dispatch.slot.clone(),
        });
    }
    if parse_branch_name(&dispatch.branch)
        .is_none_or(|owner| owner.issue != dispatch.issue || owner.agent != dispatch.slot)
    {
        return Err(AppError::NotAnAgentBranch {
            branch: dispatch.branch.clone(),
            issue: dispatch.issue,
        });
    }
    Ok(())
}

/// The issue, if the dispatch still stands: its claim on origin is still the one dispatched
/// (held, for this slot and attempt), and the issue is open and labelled for the slot.
async fn check_dispatch(
    workspace: &Workspace,
    forge: &dyn Forge,
    dispatch: &Dispatch,
) -> AppResult<Issue> {
    let stale = |why: String| AppError::StaleDispatch {
        issue: dispatch.issue,
        why,
    };
    let reference = claim_ref(dispatch.issue);
    let Some((tip, claim)) = current_claim(workspace.remote(), dispatch.issue).await? else {
        return Err(stale(format!("origin has no claim {reference}")));
    };
    if tip != dispatch.claim {
        return Err(stale(format!(
            "the claim moved on: {reference} is at {tip}, not at the claim {} dispatched",
            dispatch.claim
        )));
    }
    let Claim::Record(record) = claim else {
        return Err(stale(format!("the claim at {tip} cannot be read")));
    };
    if record.state != ClaimState::Held
        || record.agent != dispatch.slot
        || record.attempt != dispatch.attempt
    {
        return Err(stale(format!(
            "the claim at {tip} is {} by {} for attempt {}, not held by {} for attempt {}",
            record.state.as_str(),
            record.agent,
            record.attempt,
            dispatch.slot,
            dispatch.attempt
        )));
    }
    let issue = forge.issue(dispatch.issue).await?;
    if issue.state == IssueState::Closed {
        return Err(stale("the issue is closed".to_owned()));
    }
    if !issue.has_label(&dispatch.slot) {
        return Err(stale(format!(
            "the issue is not labelled {} (it has: {})",
            dispatch.slot,
            issue.labels.join(", ")
        )));
    }
    Ok(issue)
}

/// Makes the dispatch's branch here, where the attempt starts: origin's branch (`published`)
/// when an earlier attempt pushed it, else the newest work of the issue's earlier attempts on
/// other branches of origin (as a local attempt takes them over; their branches are the
/// orchestrator's to retire), else origin's base. A branch already here is left as it is: the
/// attempt's preparation brings it up to origin's.
async fn start_branch(
    workspace: &Workspace,
    dispatch: &Dispatch,
    base: &str,
    published: Option<&str>,
) -> AppResult<()> {
    let branch = dispatch.branch.as_str();
    if workspace.refs().branch_tip(branch).await?.is_some() {
        return Ok(());
    }
    let start = match published {
        Some(tip) => tip.to_owned(),
        None => {
            let tips = workspace.remote().branch_tips().await?;
            let earlier: Vec<String> =
                earlier_attempts(tips.keys().map(String::as_str), dispatch.issue, branch)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
            let remote_base = workspace.remote().tracking_ref(base);
            match latest_work(workspace.repository(), &earlier, &tips, &remote_base).await? {
                Some(tip) => {
                    tracing::info!(branch, from = %tip, "the attempt continues an earlier attempt's work");
                    tip
                }
                None => workspace.base_tip(base).await?,
            }
        }
    };
    workspace.refs().create_branch(branch, &start).await?;
    Ok(())
}

/// The error for an attempt's branch gone when its work is to be pushed.
fn missing_branch(workspace: &Workspace, branch: &str) -> AppError {
    AppError::Io {
        action: "find the attempt's branch in",
        path: PathBuf::from(&workspace.root),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("the branch {branch} is gone"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch(slot: &str, branch: &str) -> Dispatch {
        Dispatch {
            issue: 12,
            slot: slot.to_owned(),
            branch: branch.to_owned(),
            attempt: 1,
            claim: "c".repeat(40),
        }
    }

    #[test]
    fn only_the_slots_branch_of_the_issue_is_worked_on() {
        assert!(refuse_malformed(&dispatch("agent001", "agent001/12-fix")).is_ok());
        for (slot, branch) in [
            ("agent001", "agent002/12-fix"),
            ("agent001", "agent001/123-fix"),
            ("agent001", "main"),
            ("main", "main/12-fix"),
        ] {
            assert!(
                refuse_malformed(&dispatch(slot, branch)).is_err(),
                "{slot} {branch}"
            );
        }
    }
}
