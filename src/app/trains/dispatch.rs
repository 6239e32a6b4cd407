//! Departures made by the bundling workflow (`bundling.executor = "actions"`): a due departure
//! with work to send is dispatched to a run, which is followed at each later pass (its status
//! read once a pass), the earlier trains still repaired here. The train departs here instead,
//! at once and saying why, when the dispatch fails, the run ends other than in success, or it
//! outlasts `github_actions.workflow_timeout_minutes` (then it is cancelled first). The run
//! out is kept in [`RUN_FILE`], so a restarted orchestrator follows it rather than dispatching
//! anew; once it succeeded, what it opened is journaled as a departure made by the run.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use crate::app::trains::bundle::{Bundler, Departs, Held, TrainReport};
use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult};
use crate::core::config::BundleTrigger;
use crate::core::trains::dispatched::{
    DepartedFrom, DispatchedRun, RunSeen, RunVerdict, Timings, judge,
};
use crate::core::trains::pull_request::{is_lone_branch, read_record};
use crate::core::trains::schedule::{self, BUNDLE_BRANCH_PREFIX};
use crate::ports::Clock;
use crate::ports::actions::{Actions, Conclusion, Dispatch, RunStatus, WorkflowState};
use crate::ports::forge::{ForgeError, PullRequestFilter};
use crate::ports::journal::DepartureRecord;

/// The file, under `.clambake/`, of the bundling workflow's run out, if one is.
pub const RUN_FILE: &str = "bundle-run.json";

/// The bundling workflow's input that makes its train depart whatever the schedule says.
pub const FORCE_INPUT: &str = "force_bundle";

/// The bundling workflow and how to reach it.
pub struct BundlingWorkflow<'a> {
    pub actions: &'a dyn Actions,
    pub clock: &'a dyn Clock,
    /// Its file under `.github/workflows/`.
    pub file: &'a str,
    /// The branch whose workflow file runs: the default branch.
    pub git_ref: &'a str,
    /// How long a run may take before the train gives up on it.
    pub timeout: SignedDuration,
    /// The repository's page (`https://HOST/OWNER/REPO`), for a run's address until GitHub
    /// says it.
    pub repository_url: String,
}

/// The bundling workflow's run out, if one is, as [`RUN_FILE`] keeps it.
pub fn run_out(state_dir: &Path) -> AppResult<Option<DispatchedRun>> {
    let path = state_dir.join(RUN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AppError::Io {
            action: "read",
            path,
            source,
        }),
    }
}

fn keep(state_dir: &Path, run: &DispatchedRun) -> AppResult<()> {
    std::fs::create_dir_all(state_dir).map_err(|source| AppError::Io {
        action: "create",
        path: state_dir.to_path_buf(),
        source,
    })?;
    let text = serde_json::to_string(run).expect("a dispatched run serializes");
    write_atomically(&state_dir.join(RUN_FILE), &text)
}

/// Lets go of the run out, if one is, as trains depart here again (`github_actions.enabled`
/// switched off, which cancelled it): switched back on, the train must not take it for one
/// that failed and depart at once.
pub fn let_go(state_dir: &Path) -> AppResult<()> {
    if let Some(run) = run_out(state_dir)? {
        tracing::info!(
            run = run.run,
            "trains depart here again; the bundling run is let go"
        );
        forget(state_dir)?;
    }
    Ok(())
}

fn forget(state_dir: &Path) -> AppResult<()> {
    let path = state_dir.join(RUN_FILE);
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(AppError::Io {
            action: "remove",
            path,
            source: error,
        }),
        _ => Ok(()),
    }
}

impl BundlingWorkflow<'_> {
    /// One pass's train: the run out followed, or a due departure dispatched, or the train
    /// departing here when the workflow does not make it.
    pub async fn train(
        &self,
        bundler: &Bundler<'_>,
        now: Timestamp,
        force: bool,
    ) -> AppResult<TrainReport> {
        if let Some(run) = run_out(&bundler.state_dir)? {
            return self.follow(bundler, run, now).await;
        }
        let (report, held) = bundler.run_as(now, force, Departs::Elsewhere).await?;
        let Some(held) = held else {
            return Ok(report);
        };
        let trigger = bundler.config.trigger;
        match self
            .dispatch(held, force || trigger != BundleTrigger::Schedule, now)
            .await
        {
            Ok(run) => {
                tracing::info!(run = run.run, url = run.url, "the train was dispatched");
                keep(&bundler.state_dir, &run)?;
                Ok(report)
            }
            Err(error) => {
                let why = format!("the bundling workflow could not be dispatched: {error}");
                self.fall_back(bundler, why, None, now).await
            }
        }
    }

    /// Starts a run of the workflow for the departure `held`: its train departs whatever the
    /// schedule says when `force`. On `schedule`, it is not forced, so that it names its
    /// bundle after the same slot as a train here would (the remote's compare and swap then
    /// keeps two trains of one slot apart).
    async fn dispatch(&self, held: Held, force: bool, now: Timestamp) -> AppResult<DispatchedRun> {
        let workflow = self.actions.workflow(self.file).await?;
        if workflow.state != WorkflowState::Active {
            return Err(AppError::Forge(ForgeError::Invalid(format!(
                "the workflow `{}` is not active ({:?})",
                self.file, workflow.state
            ))));
        }
        let dispatch = Dispatch {
            workflow: self.file.to_owned(),
            git_ref: self.git_ref.to_owned(),
            inputs: BTreeMap::from([(FORCE_INPUT.to_owned(), force.to_string())]),
            key: format!("bundle-{}-{}", held.at.as_second(), now.as_millisecond()),
        };
        let run = self.actions.dispatch(&dispatch).await?;
        Ok(DispatchedRun {
            run,
            url: format!("{}/actions/runs/{run}", self.repository_url),
            held_at: held.at,
            after_pull_request: held.newest_pull_request,
            timings: Timings {
                landed_at: held.last_landing,
                dispatched_at: Some(self.clock.now()),
                ..Timings::default()
            },
        })
    }

    /// Reads the run out, once, and acts on what it shows.
    async fn follow(
        &self,
        bundler: &Bundler<'_>,
        mut run: DispatchedRun,
        now: Timestamp,
    ) -> AppResult<TrainReport> {
        let seen = match self.actions.run(run.run).await {
            Ok(found) => {
                let first = run.timings.queued_at.is_none();
                run.timings.queued_at = Some(found.created_at);
                run.url = found.html_url;
                if first {
                    keep(&bundler.state_dir, &run)?;
                }
                match (found.status, found.conclusion) {
                    (RunStatus::Completed, Some(Conclusion::Success)) => RunSeen::Succeeded,
                    (RunStatus::Completed, conclusion) => RunSeen::Ended {
                        conclusion: conclusion
                            .and_then(|c| serde_json::to_value(c).ok())
                            .and_then(|c| c.as_str().map(str::to_owned))
                            .unwrap_or_else(|| "none".to_owned()),
                    },
                    _ => RunSeen::Running,
                }
            }
            Err(ForgeError::NoRun { .. } | ForgeError::NotFound { .. }) => RunSeen::Gone,
            // Read again at the next pass; the time allowed runs on meanwhile.
            Err(error) => {
                tracing::warn!(run = run.run, %error, "could not read the bundling run");
                RunSeen::Running
            }
        };
        let dispatched_at = run.timings.dispatched_at.unwrap_or(run.held_at);
        match judge(&seen, dispatched_at, now, self.timeout) {
            RunVerdict::Wait => Ok(bundler.run_as(now, false, Departs::Nowhere).await?.0),
            RunVerdict::Adopt => {
                self.adopt(bundler, run).await?;
                forget(&bundler.state_dir)?;
                Ok(bundler.run_as(now, false, Departs::Elsewhere).await?.0)
            }
            RunVerdict::FallBack { why, cancel } => {
                if cancel && let Err(error) = self.actions.cancel(run.run).await {
                    tracing::warn!(run = run.run, %error, "could not cancel the bundling run");
                }
                forget(&bundler.state_dir)?;
                self.fall_back(bundler, why, Some(run.run), now).await
            }
        }
    }

    /// Journals the departure `run` made, as a train here would have: what it opened (the
    /// trains' pull requests numbered after the newest there was when it was dispatched), and
    /// the records of its bundles, which the train checks their bodies against from now on.
    async fn adopt(&self, bundler: &Bundler<'_>, mut run: DispatchedRun) -> AppResult<()> {
        let after = run.after_pull_request.unwrap_or(0);
        let base = bundler.forge.default_branch().await?;
        let mut opened = bundler
            .forge
            .pull_requests(&PullRequestFilter::default())
            .await?;
        opened.retain(|pr| {
            pr.number > after
                && (pr.head.starts_with(BUNDLE_BRANCH_PREFIX) || is_lone_branch(&pr.body))
        });
        opened.sort_by_key(|pr| pr.number);
        let mut at = run.held_at;
        let mut made = Vec::new();
        for pr in &opened {
            let Some(named) = schedule::departure_of(&pr.head) else {
                made.push(pr.number);
                continue;
            };
            // A bundle whose record this journal keeps was made here meanwhile (`bundle
            // --force` by hand), not by the run.
            if bundler.train_log.bundle_record(&pr.head)?.is_some() {
                continue;
            }
            made.push(pr.number);
            at = at.max(named);
            let first = run
                .timings
                .pull_request_at
                .is_none_or(|t| pr.created_at < t);
            if first {
                run.timings.pull_request_at = Some(pr.created_at);
            }
            if let Ok(record) = read_record(&pr.body, &pr.head, &base) {
                bundler.train_log.record_bundle(&record)?;
            }
        }
        // A run that sent nothing leaves a departure made here since (by hand) standing: the
        // log keeps one departure a moment.
        let later_here = bundler
            .train_log
            .last_departure()?
            .is_some_and(|d| d.at >= at);
        if made.is_empty() && later_here {
            tracing::info!(run = run.run, "the bundling run sent nothing");
            return Ok(());
        }
        let departure = DepartureRecord {
            at,
            pull_requests: made,
            made_by: DepartedFrom::Run {
                run: run.run,
                url: run.url.clone(),
                timings: run.timings.clone(),
            },
        };
        tracing::info!(
            run = run.run,
            pull_requests = ?departure.pull_requests,
            trigger_latency = ?run.timings.trigger_latency(),
            landing_to_pull_request = ?run.timings.landing_to_pull_request(),
            "the bundling workflow's run made the departure"
        );
        bundler.train_log.record_departure(&departure)?;
        Ok(())
    }

    /// Departs here at once, because the workflow did not: `why`, said in the log and kept with
    /// the departure.
    async fn fall_back(
        &self,
        bundler: &Bundler<'_>,
        why: String,
        run: Option<u64>,
        now: Timestamp,
    ) -> AppResult<TrainReport> {
        tracing::warn!(run, why, "the train departs from this machine instead");
        let made_by = DepartedFrom::Fallback { why, run };
        Ok(bundler.run_as(now, true, Departs::Here(made_by)).await?.0)
    }
}

#[cfg(test)]
mod tests;
