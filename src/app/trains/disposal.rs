//! What happens to an issue when its work ends: landed work waits for a train under
//! `route:review` (the one way work lands, for the run loop and `clambake land`); a failed
//! attempt is retried after a backoff, or, once the attempts are spent, the issue is marked
//! `route:failed` with the story of what happened. Branches are always kept.

mod budget;

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::attempt::AttemptResult;
use crate::app::agents::simulated_work::simulated_issue;
use crate::app::agents::worktree::remove_worktree;
use crate::app::lifecycle::transitions::journal_slot;
use crate::app::trains::comment::comment_unless_locked;
use crate::app::trains::trial::publish_head;
use crate::app::trains::unrelated_work::{Unrelated, find_unrelated, refuse};
use crate::app::{AppResult, Workspace};
use crate::core::agents::events::AttemptTotals;
use crate::core::agents::log;
use crate::core::agents::outcome::Outcome;
use crate::core::agents::retry::{AfterFailure, after_failure, counts_as_failure};
use crate::core::budget::{BudgetScope, Reached};
use crate::core::forge_text::comments::{self, AttemptFailure, FailedAttempt, GaveUp};
use crate::core::forge_text::pull_requests::{self, PullRequestText};
use crate::core::lifecycle::machine::Event;
use crate::core::queue::claims::{ClaimRecord, ClaimState};
use crate::core::queue::labels;
use crate::ports::Forge;
use crate::ports::forge::NewPullRequest;
use crate::ports::git::Repository;
use crate::ports::journal::{AttemptLog, AttemptRecord, Journal};
use budget::{BudgetStop, over_budget};

/// What became of an issue after an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disposition {
    /// On `route:review`, waiting for a train (or with its own pull request).
    Landed {
        commits_ahead: u32,
        pull_request: Option<u64>,
    },
    /// Back on `route:ready`, not before `not_before`.
    Retrying { attempt: u32, not_before: Timestamp },
    /// `route:failed`; the branch is kept.
    Failed { attempts: u32 },
    /// `route:failed` without a pull request: the work shares no history with the base, so it
    /// can never merge. Its branch is kept, and archived.
    Refused { why: String },
    /// A budget stopped the attempt (`[budget]`): `route:failed` for the attempt's or the
    /// issue's, back on `route:ready` (no attempt counted) for a day's or a run's. The branch
    /// is kept.
    OverBudget { scope: BudgetScope },
}

impl Disposition {
    /// How the issue's claim is given back after it.
    pub fn claim_state(&self) -> ClaimState {
        match self {
            Self::Landed { .. } => ClaimState::Landed,
            Self::Retrying { .. } | Self::Failed { .. } | Self::Refused { .. } => {
                ClaimState::Failed
            }
            Self::OverBudget { scope } if scope.ends_issue() => ClaimState::Failed,
            Self::OverBudget { .. } => ClaimState::Returned,
        }
    }
}

/// Settings that shape the disposition.
#[derive(Debug, Clone, Copy)]
pub struct DisposalPolicy {
    pub max_attempts: u32,
    pub retry_base: Duration,
    /// false: every landed branch gets its own pull request at once.
    pub bundling: bool,
    pub cleanup_on_failure: bool,
}

/// An attempt that has ended, and whose.
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    pub agent: &'a str,
    pub issue: u64,
    pub attempt: u32,
    pub result: &'a AttemptResult,
    /// The failed attempts the issue's claim counts over every orchestrator, this one's
    /// included when it failed (0 when the claim counts none).
    pub counted_failures: u32,
    /// The budget the attempt spent, when one stopped it (or its issue's is spent now).
    pub budget: Option<Reached>,
    /// When a spent day's budget renews, for the comment.
    pub budget_renews: Option<Timestamp>,
}

/// Records the attempt, moves the issue on the forge, and journals the slot's step in
/// `journal` (given when the state machine is on). Idempotent on the forge: labels are set, not
/// toggled.
pub async fn dispose(
    workspace: &Workspace,
    forge: &dyn Forge,
    attempts: &dyn AttemptLog,
    journal: Option<&dyn Journal>,
    policy: DisposalPolicy,
    ended: Ended<'_>,
    now: Timestamp,
) -> AppResult<Disposition> {
    record_attempt(attempts, ended, now)?;
    let Ended {
        agent,
        issue,
        result,
        counted_failures,
        ..
    } = ended;
    let classification = &result.classification;

    if classification.outcome == Outcome::Success {
        let work = Work {
            agent,
            issue,
            branch: &result.branch,
            commits_ahead: result.commits_ahead,
            totals: Some(&result.report.totals),
            simulated: simulated_issue(attempts, issue)?,
            left_running: result.left_running.as_deref(),
            committed_by_clambake: result.committed_leftovers,
            checks_passed: result
                .checks
                .as_ref()
                .map(|checked| checked.command.as_str()),
        };
        let landing = land(
            workspace.repository(),
            forge,
            journal,
            policy.bundling,
            work,
            ATTEMPT_ENDED,
            now,
        )
        .await?;
        remove_worktree(workspace, &result.worktree).await?;
        return Ok(match landing {
            Landing::Landed(landed) => Disposition::Landed {
                commits_ahead: result.commits_ahead,
                pull_request: landed.pull_request,
            },
            Landing::Refused(unrelated) => Disposition::Refused {
                why: unrelated.describe(),
            },
        });
    }

    let summary = AttemptFailure::Ended {
        agent: agent.to_owned(),
        outcome: classification.outcome,
        reason: classification.reason.clone(),
        branch: result.branch.clone(),
        commits_ahead: result.commits_ahead,
    };
    if let Some(reached) = ended.budget {
        let stop = BudgetStop {
            agent,
            issue,
            branch: &result.branch,
            reached,
            renews: ended.budget_renews,
            failures: counted_failures,
        };
        let disposition = over_budget(forge, policy, stop, summary, now).await?;
        if !reached.scope.ends_issue() || policy.cleanup_on_failure {
            remove_worktree(workspace, &result.worktree).await?;
        }
        journal_slot(journal, agent, issue, &[Event::Abandon], ATTEMPT_ENDED, now)?;
        return Ok(disposition);
    }
    let failed_checks = result.checks.as_ref().filter(|checked| !checked.passed);
    let tail = match failed_checks {
        Some(checked) => checked.tail.clone(),
        None => log_tail(&result.logs.stdout, &result.logs.stderr).await,
    };
    let failure = Failure {
        agent,
        issue,
        summary,
        branch: &result.branch,
        log_tail: tail,
        checks_failed: failed_checks.is_some(),
        counted_failures,
    };
    let disposition = retry_or_fail(forge, attempts, policy, failure, now).await?;
    // A retry makes its own worktree; a final failure keeps this one unless told otherwise.
    let keep = matches!(disposition, Disposition::Failed { .. }) && !policy.cleanup_on_failure;
    if !keep {
        remove_worktree(workspace, &result.worktree).await?;
    }
    journal_slot(journal, agent, issue, &[Event::Abandon], ATTEMPT_ENDED, now)?;
    Ok(disposition)
}

/// Why the run loop journals a slot's step when an attempt ends.
const ATTEMPT_ENDED: &str = "the attempt ended";

/// Records the ended attempt in the attempt log.
pub(crate) fn record_attempt(
    attempts: &dyn AttemptLog,
    ended: Ended<'_>,
    now: Timestamp,
) -> AppResult<()> {
    let result = ended.result;
    attempts.record_attempt(&AttemptRecord {
        issue: ended.issue,
        attempt: ended.attempt,
        agent: ended.agent.to_owned(),
        branch: result.branch.clone(),
        outcome: result.classification.outcome.to_string(),
        reason: result.classification.reason.clone(),
        commits_ahead: result.commits_ahead,
        cost_usd: result.report.totals.cost_usd,
        turns: result.report.totals.turns,
        log: result.logs.stdout.display().to_string(),
        finished_at: now,
        runtime: Some(result.runtime.clone()),
        session_id: result.report.totals.session_id.clone(),
    })?;
    Ok(())
}

/// A failed attempt, told for the issue's comments.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub agent: &'a str,
    pub issue: u64,
    /// What happened: the comment puts the attempt's place in front, counted as
    /// `agents.max_attempts` counts.
    pub summary: AttemptFailure,
    pub branch: &'a str,
    /// The end of the attempt's log, or of the checks' output when they failed.
    pub log_tail: String,
    /// Whether the checks failed on finished work (`log_tail` is then their output).
    pub checks_failed: bool,
    /// The failed attempts the issue's claim counts over every orchestrator, this one
    /// included: the count is at least that.
    pub counted_failures: u32,
}

/// After a recorded failure: back to `route:ready` with a backoff, or `route:failed` once
/// `max_attempts` attempts have failed.
pub async fn retry_or_fail(
    forge: &dyn Forge,
    attempts: &dyn AttemptLog,
    policy: DisposalPolicy,
    failure: Failure<'_>,
    now: Timestamp,
) -> AppResult<Disposition> {
    let Failure {
        agent,
        issue,
        summary,
        branch,
        log_tail,
        checks_failed,
        counted_failures,
    } = failure;
    let history = attempts.attempts(issue)?;
    // The failed attempts are what `max_attempts` counts, and what comments count: attempt
    // numbers in log names skip the ones a stopped run interrupted, which count for nothing.
    // Other orchestrators' failures are in the claim's count, not in this journal.
    let failures = (history
        .iter()
        .filter(|a| counts_as_failure(&a.outcome))
        .count() as u32)
        .max(counted_failures);
    let attempt = FailedAttempt {
        failure: &summary,
        failures,
        max_attempts: policy.max_attempts,
    };
    match after_failure(failures, policy.max_attempts, policy.retry_base) {
        AfterFailure::Retry {
            attempt: next,
            after,
        } => {
            let not_before = now + after;
            forge
                .edit_labels(issue, &[labels::READY.to_owned()], &[agent.to_owned()])
                .await?;
            let checks_output = checks_failed.then_some(log_tail.as_str());
            let retrying = comments::retrying(&attempt, next, not_before, now, checks_output);
            comment_unless_locked(forge, issue, &retrying).await?;
            Ok(Disposition::Retrying {
                attempt: next,
                not_before,
            })
        }
        AfterFailure::GiveUp => {
            forge
                .edit_labels(
                    issue,
                    &[labels::FAILED.to_owned()],
                    &[agent.to_owned(), labels::READY.to_owned()],
                )
                .await?;
            let cost = history
                .iter()
                .filter_map(|a| a.cost_usd)
                .fold(0.0, |sum, c| sum + c);
            let gave_up = GaveUp {
                cost_usd: cost,
                branch,
                log_tail: &log_tail,
            };
            comment_unless_locked(forge, issue, &comments::gave_up(&attempt, &gave_up)).await?;
            Ok(Disposition::Failed { attempts: failures })
        }
    }
}

/// When a ready issue with failed attempts may be tried again, if that is still ahead.
pub fn not_before(
    attempts: &[AttemptRecord],
    policy: DisposalPolicy,
    now: Timestamp,
) -> Option<Timestamp> {
    let failures: Vec<&AttemptRecord> = attempts
        .iter()
        .filter(|a| counts_as_failure(&a.outcome))
        .collect();
    let last = failures.last()?;
    match after_failure(
        failures.len() as u32,
        policy.max_attempts,
        policy.retry_base,
    ) {
        AfterFailure::Retry { after, .. } => Some(last.finished_at + after).filter(|t| *t > now),
        AfterFailure::GiveUp => None,
    }
}

/// When an issue whose claim was last given back failed (by any orchestrator: `record` is the
/// chain's tip) may be tried again, if that is still ahead.
pub fn claim_not_before(
    record: &ClaimRecord,
    policy: DisposalPolicy,
    now: Timestamp,
) -> Option<Timestamp> {
    if record.state != ClaimState::Failed {
        return None;
    }
    match after_failure(record.failures, policy.max_attempts, policy.retry_base) {
        AfterFailure::Retry { after, .. } => Some(record.at + after).filter(|t| *t > now),
        AfterFailure::GiveUp => None,
    }
}

/// Work finished on an agent's branch, ready to land.
#[derive(Debug, Clone, Copy)]
pub struct Work<'a> {
    pub agent: &'a str,
    pub issue: u64,
    pub branch: &'a str,
    pub commits_ahead: u32,
    /// What the attempt spent, when an attempt watched by Clambake did the work.
    pub totals: Option<&'a AttemptTotals>,
    /// The simulated agent made (some of) it, as its attempts recorded.
    pub simulated: bool,
    /// What the attempt left running, stopped since, as its verdict says.
    pub left_running: Option<&'a str>,
    /// Clambake committed what the agent left uncommitted.
    pub committed_by_clambake: bool,
    /// The checks command that passed on the work, when checks are configured.
    pub checks_passed: Option<&'a str>,
}

/// Where landed work went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// The issue's labels afterwards.
    pub labels: Vec<String>,
    /// Without bundling, the pull request that carries the work.
    pub pull_request: Option<u64>,
}

/// What landing did with finished work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    Landed(Landed),
    /// Not landed: the work shares no history with the base (see `app::trains::unrelated_work`).
    Refused(Unrelated),
}

/// Lands finished work: the issue goes to `route:review` (freeing the slot), without bundling
/// its pull request opens, a comment says so, and `journal` (given when the state machine is
/// on) records the work completed if it has the slot on the issue. Journal entries name `cause`.
/// Work with no merge base with the base branch is refused instead: archived, no pull request,
/// the issue `route:failed` with a comment, and the slot's attempt abandoned.
pub async fn land(
    git: &Repository,
    forge: &dyn Forge,
    journal: Option<&dyn Journal>,
    bundling: bool,
    work: Work<'_>,
    cause: &str,
    now: Timestamp,
) -> AppResult<Landing> {
    let Work {
        agent,
        issue,
        branch,
        commits_ahead,
        totals,
        simulated,
        left_running,
        committed_by_clambake,
        checks_passed,
    } = work;
    let base = forge.default_branch().await?;
    if let Some(unrelated) = find_unrelated(git, &base, branch).await? {
        refuse(forge, issue, agent, &unrelated).await?;
        journal_slot(journal, agent, issue, &[Event::Abandon], cause, now)?;
        tracing::warn!(agent, issue, "{}", unrelated.describe());
        return Ok(Landing::Refused(unrelated));
    }
    let labelled = forge
        .edit_labels(
            issue,
            &[labels::REVIEW.to_owned()],
            &[agent.to_owned(), labels::READY.to_owned()],
        )
        .await?;
    let landing = comments::Landing {
        agent,
        branch,
        commits_ahead,
        totals,
        left_running,
        committed_by_clambake,
        checks_passed,
    };
    let pull_request = if bundling {
        None
    } else {
        publish_head(git, branch).await?;
        Some(open_individual_pull_request(forge, issue, branch, &landing, simulated).await?)
    };
    let comment = comments::landed(&landing, pull_request, simulated);
    comment_unless_locked(forge, issue, &comment).await?;
    let events = [Event::StartWork { commits_ahead }, Event::CompleteWork];
    journal_slot(journal, agent, issue, &events, cause, now)?;
    Ok(Landing::Landed(Landed {
        labels: labelled.labels,
        pull_request,
    }))
}

/// The branch's open pull request, or a new one that closes the issue when merged and tells the
/// `landing`, marked when it carries `simulated` work.
pub async fn open_individual_pull_request(
    forge: &dyn Forge,
    issue: u64,
    branch: &str,
    landing: &comments::Landing<'_>,
    simulated: bool,
) -> AppResult<u64> {
    let open = forge
        .pull_requests(&crate::ports::forge::PullRequestFilter {
            state: Some(crate::ports::forge::PullRequestState::Open),
            head: Some(branch.to_owned()),
        })
        .await?;
    if let Some(existing) = open.first() {
        return Ok(existing.number);
    }
    let title = forge.issue(issue).await?.title;
    let marked = if simulated { vec![issue] } else { Vec::new() };
    let PullRequestText { title, body } = pull_requests::landed(issue, &title, landing, &marked);
    let pr = forge
        .create_pull_request(&NewPullRequest {
            title,
            body,
            head: branch.to_owned(),
            base: None,
        })
        .await?;
    Ok(pr.number)
}

/// The last lines of an attempt's stdout and stderr logs, for a failure comment (which shows
/// them as a code block; the forge it is written to redacts the secrets).
pub async fn log_tail(stdout: &std::path::Path, stderr: &std::path::Path) -> String {
    // A log that was never written reads as empty. Secrets go before any line is cut short.
    let secrets = crate::app::compose::secrets();
    let stdout = tokio::fs::read_to_string(stdout).await.unwrap_or_default();
    let stderr = tokio::fs::read_to_string(stderr).await.unwrap_or_default();
    log::log_tail(&secrets.redact(&stdout), &secrets.redact(&stderr))
}
