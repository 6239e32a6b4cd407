//! Following one workflow run of an agent attempt to its end: its status polled (its jobs only
//! while it runs), what was seen recorded with its registration, the time limit and the stall
//! limit enforced by cancelling it, a stop asked for passed on as a cancel.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep};

use crate::adapters::hosts::local::registry::SqliteAgentRegistry;
use crate::core::agents::outcome::Termination;
use crate::ports::actions::{Actions, Job, RunId, RunStatus, Step, WorkflowRun};
use crate::ports::agent_host::{Limits, RunProgress};
use crate::ports::agent_registry::RegisteredAgent;
use crate::ports::forge::ForgeError;

/// After a cancel, how long the run has to end (its `if: always()` steps upload the agent's
/// log) before it is judged without it.
pub const CANCEL_WAIT: Duration = Duration::from_secs(300);

/// What following a run needs.
pub struct Follower<'a> {
    pub actions: &'a dyn Actions,
    pub registry: &'a SqliteAgentRegistry,
    /// Between two polls of the run's status.
    pub poll: Duration,
    /// `github_actions.workflow_timeout_minutes`: the longest a run may take, whatever
    /// `agents.timeout_minutes` allows.
    pub workflow_timeout: Duration,
}

/// How following a run ended.
pub struct Followed {
    /// The run as last seen; `None` if it is gone (deleted) or never ended after its cancel.
    pub run: Option<WorkflowRun>,
    pub terminated: Option<Termination>,
    pub progress: RunProgress,
}

/// What is known of run `run_id` before anything is asked: dispatched (two requests: the look
/// for an earlier dispatch of the attempt, and the dispatch), nothing seen yet.
pub fn dispatched(run_id: RunId) -> RunProgress {
    RunProgress {
        run_id,
        url: String::new(),
        status: RunStatus::Requested,
        conclusion: None,
        step: None,
        steps_done: 0,
        steps_total: 0,
        last_activity: None,
        seen_at: Timestamp::now(),
        requests: 2,
    }
}

impl Follower<'_> {
    /// Follows `agent`'s run `run_id` until it has completed. The limits: the attempt's
    /// timeout (the smaller of `limits.timeout` and the workflow's), counted from its
    /// registration; and, while no runner has taken the run up (requested, queued, waiting),
    /// `limits.stall` without any change. Once it runs, the agent's silence is the runner's
    /// side to judge: it sees the agent's output, this side only the run's steps.
    pub async fn follow(
        &self,
        agent: &RegisteredAgent,
        run_id: RunId,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<Followed> {
        let mut progress = self
            .registry
            .run(run_id)
            .map_err(std::io::Error::other)?
            .unwrap_or_else(|| dispatched(run_id));
        let timeout = limits.timeout.min(self.workflow_timeout);
        let ran_for = Duration::try_from(Timestamp::now().duration_since(agent.started_at))
            .unwrap_or_default();
        let deadline = Instant::now() + timeout.saturating_sub(ran_for);
        let mut moved_at = Instant::now();
        let mut terminated = None;
        let mut cancelled_at = None;
        let mut stop = Some(stop);
        let run = loop {
            match self.poll(run_id, &mut progress).await {
                Ok((run, moved)) => {
                    if run.status == RunStatus::Completed {
                        break Some(run);
                    }
                    if moved {
                        moved_at = Instant::now();
                    }
                }
                Err(ForgeError::NoRun { .. } | ForgeError::NotFound { .. }) => {
                    tracing::warn!(run_id, "the agent's workflow run is gone");
                    break None;
                }
                Err(error) => {
                    tracing::warn!(run_id, %error, "could not read the agent's run; asking again")
                }
            }
            let now = Instant::now();
            if terminated.is_none() {
                let waiting = !matches!(progress.status, RunStatus::InProgress);
                if now >= deadline {
                    terminated = Some(Termination::Timeout);
                } else if waiting && now >= moved_at + limits.stall {
                    terminated = Some(Termination::Stall);
                }
                if terminated.is_some() {
                    cancelled_at = Some(self.cancel(run_id, &mut progress).await);
                }
            }
            if cancelled_at.is_some_and(|at| now >= at + limits.grace.max(CANCEL_WAIT)) {
                tracing::warn!(run_id, "the agent's run did not end after it was cancelled");
                break None;
            }
            tokio::select! {
                () = sleep(self.poll) => {},
                request = async { stop.as_mut().expect("guarded").await }, if stop.is_some() => {
                    stop = None;
                    if request.is_ok() && terminated.is_none() {
                        terminated = Some(Termination::Requested);
                        cancelled_at = Some(self.cancel(run_id, &mut progress).await);
                    }
                },
            }
        };
        Ok(Followed {
            run,
            terminated,
            progress,
        })
    }

    /// Reads the run (and its jobs while it runs) into `progress`, recorded; says whether
    /// anything moved since the last look.
    async fn poll(
        &self,
        run_id: RunId,
        progress: &mut RunProgress,
    ) -> Result<(WorkflowRun, bool), ForgeError> {
        progress.requests += 1;
        let run = self.actions.run(run_id).await;
        let run = match run {
            Ok(run) => run,
            Err(error) => {
                self.record(progress);
                return Err(error);
            }
        };
        let jobs = if run.status == RunStatus::InProgress {
            progress.requests += 1;
            Some(self.actions.jobs(run_id).await?)
        } else {
            None
        };
        let before = progress.clone();
        observe(progress, &run, jobs.as_deref());
        let moved = (
            before.status,
            before.steps_done,
            &before.step,
            before.last_activity,
        ) != (
            progress.status,
            progress.steps_done,
            &progress.step,
            progress.last_activity,
        );
        self.record(progress);
        Ok((run, moved))
    }

    /// Asks GitHub to cancel the run; returns when it was asked.
    pub async fn cancel(&self, run_id: RunId, progress: &mut RunProgress) -> Instant {
        progress.requests += 1;
        if let Err(error) = self.actions.cancel(run_id).await {
            tracing::warn!(run_id, %error, "could not cancel the agent's run");
        }
        self.record(progress);
        Instant::now()
    }

    pub fn record(&self, progress: &RunProgress) {
        if let Err(error) = self.registry.record_run(progress) {
            tracing::warn!(%error, "could not record what was seen of the agent's run");
        }
    }
}

/// `progress` brought up to date with `run` and, if they were read, its `jobs`.
pub fn observe(progress: &mut RunProgress, run: &WorkflowRun, jobs: Option<&[Job]>) {
    progress.url.clone_from(&run.html_url);
    progress.status = run.status;
    progress.conclusion = run.conclusion;
    progress.seen_at = Timestamp::now();
    let mut last_activity = [Some(run.updated_at), run.run_started_at]
        .into_iter()
        .flatten()
        .max();
    if let Some(jobs) = jobs {
        let steps: Vec<&Step> = jobs.iter().flat_map(|job| &job.steps).collect();
        progress.steps_total = u32::try_from(steps.len()).unwrap_or(u32::MAX);
        progress.steps_done = u32::try_from(
            steps
                .iter()
                .filter(|s| s.status == RunStatus::Completed)
                .count(),
        )
        .unwrap_or(u32::MAX);
        let current = steps
            .iter()
            .find(|s| s.status == RunStatus::InProgress)
            .or_else(|| {
                steps
                    .iter()
                    .rev()
                    .find(|s| s.status == RunStatus::Completed)
            });
        progress.step = current.map(|s| s.name.clone());
        let times = jobs
            .iter()
            .flat_map(|job| [job.started_at, job.completed_at])
            .chain(steps.iter().flat_map(|s| [s.started_at, s.completed_at]))
            .flatten();
        last_activity = last_activity.into_iter().chain(times).max();
    }
    progress.last_activity = last_activity.max(progress.last_activity);
}
