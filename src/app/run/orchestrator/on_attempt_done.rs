//! An attempt's task ended: the attempt is judged (a panic as a crash) and its issue landed,
//! retried or failed; its claim given back when its agent cannot work here at all; and it is
//! parked when its disposal keeps failing.

use jiff::Timestamp;
use tokio::task::Id;

use super::input::task_end;
use super::rate_limit::rate_limited_until;
use super::{Finished, MAX_DISPOSAL_TRIES, Orchestrator, RunEvent, TaskEnd};
use crate::app::agents::attempt::{AttemptError, forget_registration};
use crate::app::agents::check;
use crate::app::lifecycle::transitions::journal_slot;
use crate::app::trains::disposal::{self, Disposition, Ended, Failure};
use crate::app::{AppError, AppResult};
use crate::core::agents::outcome::Outcome;
use crate::core::branches::name::branch_name;
use crate::core::forge_text::comments::AttemptFailure;
use crate::core::lifecycle::machine::Event;
use crate::core::queue::claims::ClaimState;
use crate::ports::journal::{AttemptRecord, Journal};

/// An attempt that ended without its agent's verdict, as it is counted and told.
struct Unjudged<'a> {
    /// What the journal records as its outcome.
    outcome: &'a str,
    /// Why, for the journal and the log tail of the comment.
    reason: String,
    /// The comment's account, from `by <agent>` on.
    summary: AttemptFailure,
    /// Why the slot is abandoned, for the journal.
    cause: &'a str,
}

impl Orchestrator {
    /// Sets the ended attempt of `task` aside for the pass to dispose of.
    pub(super) fn on_attempt_done(&mut self, task: Id, end: TaskEnd) {
        let agent = self
            .in_flight
            .iter()
            .find(|(_, flight)| flight.task == task)
            .map(|(agent, _)| agent.clone())
            .expect("every attempt task is in flight");
        self.pending.push(Finished { agent, end });
    }

    /// Disposes of every attempt that has ended, without waiting for others. A disposal that
    /// fails (the forge unreachable for a moment) keeps the attempt in flight and pending, to
    /// be disposed of again on the next pass; one that keeps failing is parked. A spent rate
    /// limit fails nothing: the attempts wait, uncounted, for it to reset.
    pub(super) async fn dispose_ended(&mut self) {
        while let Some(joined) = self.running.try_join_next_with_id() {
            let (task, end) = task_end(joined);
            self.on_attempt_done(task, end);
        }
        // Their last commits too: what lands here is on the remote.
        self.publish_work().await;
        for finished in std::mem::take(&mut self.pending) {
            if self.waiting_out_rate_limit() {
                self.pending.push(finished);
                continue;
            }
            let agent = finished.agent.clone();
            match self.dispose(&finished).await {
                Ok(()) => {
                    self.disposal_failures.remove(&agent);
                    // The registration goes only once the verdict is acted on: a kill before
                    // then leaves the ended agent for the next run to judge again.
                    if let Err(error) = forget_registration(&self.workspace, &agent) {
                        tracing::warn!(%agent, %error, "could not forget a disposed agent's registration");
                    }
                }
                Err(error) if let Some(until) = rate_limited_until(&error) => {
                    self.pending.push(finished);
                    self.wait_out_rate_limit(until);
                }
                Err(error) => {
                    let failures = self.disposal_failures.entry(agent.clone()).or_default();
                    *failures += 1;
                    tracing::warn!(%agent, %error, failures = *failures, "disposing of an attempt failed");
                    if *failures < MAX_DISPOSAL_TRIES {
                        self.pending.push(finished);
                    } else {
                        self.park(&agent, &error);
                    }
                }
            }
        }
    }

    /// Sets aside an attempt whose disposal keeps failing, until the next run: its claim and
    /// registration stay, so the next run judges it again.
    fn park(&mut self, agent: &str, error: &AppError) {
        self.disposal_failures.remove(agent);
        if let Some(flight) = self.in_flight.remove(agent) {
            self.parked.insert(agent.to_owned(), flight.issue);
            self.record(RunEvent::Parked {
                agent: agent.to_owned(),
                issue: flight.issue,
                error: error.to_string(),
            });
        }
    }

    /// Lands, retries or fails the issue of a finished attempt.
    async fn dispose(&mut self, finished: &Finished) -> AppResult<()> {
        let agent = finished.agent.clone();
        let flight = self
            .in_flight
            .get(&agent)
            .map(|f| (f.issue, f.attempt, f.interrupted, f.cap))
            .expect("every attempt task is in flight");
        let (issue, attempt, interrupted, cap) = flight;
        let now = self.clock.now();
        // A shutdown's attempt that did not succeed (or broke as it was stopped) keeps its
        // claim for the next run; it is not a failed attempt.
        let succeeded = matches!(&finished.end, TaskEnd::Returned(returned)
            if returned.as_ref().as_ref().is_ok_and(|r| r.classification.outcome == Outcome::Success));
        if interrupted && !succeeded {
            // A task that panicked dropped its watcher with the agent still running: stop it
            // before its registration goes, or it would outlive the run unwatched.
            if matches!(finished.end, TaskEnd::Panicked(_)) {
                self.processes.stop(&agent).await?;
            }
            self.in_flight.remove(&agent);
            self.record(RunEvent::Interrupted { agent, issue });
            return Ok(());
        }
        // Silent too long (suspended, cut off), this orchestrator may have lost the claim to
        // another, which works on the issue now: landing, relabelling or counting would undo
        // its work.
        if let Some(holder) = self.claims.claimed_by_another(issue).await? {
            return self
                .leave_to(&agent, issue, attempt, holder, finished, now)
                .await;
        }
        let returned = match &finished.end {
            TaskEnd::Returned(returned) => returned.as_ref(),
            TaskEnd::Panicked(message) => {
                self.dispose_panicked(&agent, issue, attempt, message, now)
                    .await?;
                self.in_flight.remove(&agent);
                return Ok(());
            }
        };
        let result = match returned {
            Ok(result) => result,
            Err(error) if error.agent_unstartable() => {
                let unavailable = check::unavailable(&self.config.agents, error);
                let cause = "the agent CLI could not be started";
                return self
                    .stop_claiming(&agent, issue, cause, unavailable, now)
                    .await;
            }
            Err(error) => {
                self.dispose_broken(&agent, issue, attempt, error, now)
                    .await?;
                self.in_flight.remove(&agent);
                return Ok(());
            }
        };
        if let Some(refused) = check::key_refused(&self.config.agents, result) {
            let cause = "the model API refused the agent's key";
            return self.stop_claiming(&agent, issue, cause, refused, now).await;
        }
        let journal: &dyn Journal = self.journal.as_ref();
        let counted_failures = self.claims.failures_with_this_one(issue).await?;
        let mut earlier = self.journal.attempts(issue)?;
        earlier.retain(|a| a.attempt != attempt);
        let budget = self.budget_spent(cap, &earlier, result)?;
        let disposition = disposal::dispose(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            self.settings.state_machine.then_some(journal),
            self.settings.policy,
            Ended {
                agent: &agent,
                issue,
                attempt,
                result,
                counted_failures,
                budget,
                budget_renews: self.budget_renews(budget),
            },
            now,
        )
        .await?;
        self.give_back(issue, &disposition, now).await?;
        self.in_flight.remove(&agent);
        self.metrics.disposed_tokens(&result.report.totals.usage);
        self.record(RunEvent::Disposed {
            agent,
            issue,
            attempt,
            outcome: result.classification.outcome.to_string(),
            disposition,
        });
        Ok(())
    }

    /// Leaves `issue` to `holder`, the orchestrator that took its claim over while `agent`'s
    /// attempt ran here: nothing is landed, labelled, commented or counted; the slot is
    /// abandoned here, and the attempt's commits stay on its branch.
    async fn leave_to(
        &mut self,
        agent: &str,
        issue: u64,
        attempt: u32,
        holder: String,
        finished: &Finished,
        now: Timestamp,
    ) -> AppResult<()> {
        // A task that panicked left its agent running.
        if matches!(finished.end, TaskEnd::Panicked(_)) {
            self.processes.stop(agent).await?;
        }
        let journal: &dyn Journal = self.journal.as_ref();
        let cause = format!("{holder} took the claim over; the issue is left to it");
        journal_slot(
            self.settings.state_machine.then_some(journal),
            agent,
            issue,
            &[Event::Abandon],
            &cause,
            now,
        )?;
        self.in_flight.remove(agent);
        self.record(RunEvent::ClaimLost {
            agent: agent.to_owned(),
            issue,
            attempt,
            holder,
        });
        Ok(())
    }

    /// Gives `agent`'s claim on `issue` back with no attempt counted, and stops claiming: its
    /// agent cannot work here (`cause`), and every attempt would fail alike, so the run ends
    /// with `error`.
    async fn stop_claiming(
        &mut self,
        agent: &str,
        issue: u64,
        cause: &str,
        error: AppError,
        now: Timestamp,
    ) -> AppResult<()> {
        let journal: &dyn Journal = self.journal.as_ref();
        let journal = self.settings.state_machine.then_some(journal);
        let (workspace, forge) = (&self.workspace, self.forge.as_ref());
        check::release_claim(workspace, forge, journal, (agent, issue), cause, now).await?;
        self.claims
            .release(issue, ClaimState::Returned, now)
            .await?;
        self.in_flight.remove(agent);
        self.claiming = false;
        let said = error.to_string();
        self.unavailable = Some(error);
        self.record(RunEvent::Broken {
            agent: agent.to_owned(),
            issue,
            error: said,
        });
        Ok(())
    }

    /// An attempt Clambake could not run or finish (a worktree it could not make, a log it
    /// could not write): it counts as a failed attempt, so a lasting fault ends in
    /// `route:failed` instead of a loop.
    async fn dispose_broken(
        &mut self,
        agent: &str,
        issue: u64,
        attempt: u32,
        error: &AttemptError,
        now: Timestamp,
    ) -> AppResult<()> {
        tracing::error!(agent, issue, %error, "attempt broke");
        let unjudged = Unjudged {
            outcome: "clambake_error",
            reason: error.to_string(),
            summary: AttemptFailure::CouldNotRun {
                agent: agent.to_owned(),
                error: error.to_string(),
            },
            cause: "the attempt could not run",
        };
        self.count_failed(agent, issue, attempt, unjudged, now)
            .await?;
        self.record(RunEvent::Broken {
            agent: agent.to_owned(),
            issue,
            error: error.to_string(),
        });
        Ok(())
    }

    /// An attempt whose task panicked: judged as a crash, the panic's `message` kept, while
    /// the loop goes on with the other attempts. Its agent, left unwatched, is stopped first.
    async fn dispose_panicked(
        &mut self,
        agent: &str,
        issue: u64,
        attempt: u32,
        message: &str,
        now: Timestamp,
    ) -> AppResult<()> {
        tracing::error!(agent, issue, message, "an attempt's task panicked");
        self.processes.stop(agent).await?;
        let reason = format!("Clambake's attempt task panicked: {message}");
        let unjudged = Unjudged {
            outcome: Outcome::Crashed.as_str(),
            summary: AttemptFailure::Crashed {
                agent: agent.to_owned(),
                reason: reason.clone(),
            },
            reason,
            cause: "the attempt's task panicked",
        };
        let disposition = self
            .count_failed(agent, issue, attempt, unjudged, now)
            .await?;
        self.record(RunEvent::Disposed {
            agent: agent.to_owned(),
            issue,
            attempt,
            outcome: Outcome::Crashed.to_string(),
            disposition,
        });
        Ok(())
    }

    /// Records `unjudged` as a failed attempt, then retries or fails its issue and abandons
    /// the slot.
    async fn count_failed(
        &mut self,
        agent: &str,
        issue: u64,
        attempt: u32,
        unjudged: Unjudged<'_>,
        now: Timestamp,
    ) -> AppResult<Disposition> {
        let issue = self.forge.issue(issue).await?;
        let branch = branch_name(agent, issue.number, &issue.title);
        self.journal.record_attempt(&AttemptRecord {
            issue: issue.number,
            attempt,
            agent: agent.to_owned(),
            branch: branch.clone(),
            outcome: unjudged.outcome.to_owned(),
            reason: unjudged.reason.clone(),
            commits_ahead: 0,
            cost_usd: None,
            turns: 0,
            log: String::new(),
            finished_at: now,
            runtime: Some(self.runtime.name().to_owned()),
            session_id: None,
        })?;
        let counted_failures = self.claims.failures_with_this_one(issue.number).await?;
        let disposition = disposal::retry_or_fail(
            self.forge.as_ref(),
            self.journal.as_ref(),
            self.settings.policy,
            Failure {
                agent,
                issue: issue.number,
                summary: unjudged.summary,
                branch: &branch,
                log_tail: unjudged.reason,
                checks_failed: false,
                counted_failures,
            },
            now,
        )
        .await?;
        self.give_back(issue.number, &disposition, now).await?;
        let journal: &dyn Journal = self.journal.as_ref();
        journal_slot(
            self.settings.state_machine.then_some(journal),
            agent,
            issue.number,
            &[Event::Abandon],
            unjudged.cause,
            now,
        )?;
        Ok(disposition)
    }
}
