//! The run loop: keeps the agent slots busy with ready issues, lands or retries what they finish,
//! and picks up where a stopped or crashed predecessor left off. The forge is the source of
//! truth for claims: a claim is a label set before the work starts, and a restarted loop resumes
//! every claimed issue on the same slot and branch, so no work is lost or done twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::adapters::forge::conditional::ConditionalForge;
use crate::adapters::journal::SqliteJournal;
use crate::app::agents::attempt::{
    AttemptError, AttemptResult, adopt_agent, commits_ahead, forget_registration, open_registry,
    run_attempt_journaled,
};
use crate::app::agents::check;
use crate::app::agents::loop_processes::LoopProcesses;
use crate::app::agents::request::{limits_from, request_for};
use crate::app::lifecycle::land::{LandSettings, land_recorded_success};
use crate::app::lifecycle::landing::{self, Disposition, Ended, Failure, LandingPolicy};
use crate::app::queue::claim::{
    READOPTED, SlotJournal, claim_issue, journal_assignment, journal_working,
};
use crate::app::recovery::observe::registered_processes;
use crate::app::recovery::repair::{World, diagnose, force_reset, recover};
use crate::app::trains::bundle::{Bundler, OpenedPullRequest, Waiting};
use crate::app::workspace::{AppError, AppResult, Workspace};
use crate::core::branches::name::branch_name;
use crate::core::config::Config;
use crate::core::lifecycle::machine::Event;
use crate::core::queue::labels::agent_slot;
use crate::core::queue::routing::{OpenIssue, plan_claims};
use crate::core::queue::standing::{Stage, stage};
use crate::core::recovery::drift::Inconsistency;
use crate::core::text::human_time::moment;
use crate::ports::agent::AgentRuntime;
use crate::ports::agent_host::Limits;
use crate::ports::agent_registry::RegisteredAgent;
use crate::ports::forge::{Issue, IssueFilter};
use crate::ports::journal::{AttemptLog, AttemptRecord, Journal};
use crate::ports::processes::AgentProcesses;
use crate::ports::{Clock, Forge};

/// Consecutive failed passes the loop rides out before it stops with the error.
const MAX_FAILING_PASSES: u32 = 10;

/// Consecutive failed disposals of one attempt before the loop parks it for the next run.
const MAX_DISPOSAL_TRIES: u32 = 10;

/// How the loop behaves; built from the configuration, adjustable for tests.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    pub max_concurrent: u32,
    pub limits: Limits,
    pub policy: LandingPolicy,
    /// How often the forge is polled when nothing else wakes the loop.
    pub poll_interval: Duration,
    /// false: labels alone manage the agents, the journal is not written.
    pub state_machine: bool,
}

impl RunSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_concurrent: config.agents.max_concurrent,
            limits: limits_from(&config.agents),
            policy: LandingPolicy {
                max_attempts: config.agents.max_attempts,
                retry_base: Duration::from_secs(u64::from(config.agents.retry_backoff_seconds)),
                bundling: config.bundling.enabled,
                cleanup_on_failure: config.agents.cleanup_on_failure,
            },
            poll_interval: Duration::from_secs(15),
            state_machine: config.state_machine.enabled,
        }
    }
}

/// When the loop stops on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    /// Only on a signal.
    Never,
    /// After one round: claim, let those attempts finish, dispose of them.
    OnePass,
    /// When no issue is ready, waiting out a retry, or in flight.
    Idle,
}

/// Something the loop did, for the log, the live view and the final summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RunEvent {
    Claimed {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    /// An agent process a previous run started, watched again.
    Adopted {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    /// A claim found on the forge at start-up, taken up again on the same slot and branch.
    Resumed {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    Disposed {
        agent: String,
        issue: u64,
        attempt: u32,
        outcome: String,
        disposition: Disposition,
    },
    /// Clambake itself could not run or finish the attempt.
    Broken {
        agent: String,
        issue: u64,
        error: String,
    },
    /// Stopped by a shutdown; the claim stays for the next start to resume.
    Interrupted { agent: String, issue: u64 },
    /// An attempt whose disposal kept failing, set aside until the next run: its slot and
    /// claim stay as they are, and the next run judges it again.
    Parked {
        agent: String,
        issue: u64,
        error: String,
    },
    /// This loop's attempt, silent past `recovery.force_reset_after_minutes`, stopped; it is
    /// disposed of like any ended attempt.
    StuckStopped {
        agent: String,
        issue: u64,
        idle_minutes: i64,
    },
    /// A slot idle past `recovery.force_reset_after_minutes` that ordinary recovery could
    /// not free and no attempt here holds, force-reset: its work archived, its claim released.
    ForceReset {
        agent: String,
        issue: u64,
        idle_minutes: i64,
        /// A step of the reset failed; what is left shows in `clambake agent validate`.
        failed: bool,
    },
    /// A train left: its bundle pull requests, and the branches' own ones (the only branch, or
    /// those that conflict).
    TrainDeparted {
        bundles: Vec<PullRequestOpened>,
        individual: Vec<PullRequestOpened>,
        /// Set aside for a later train, and why (waiting for an open pull request to merge).
        waiting: Vec<Waiting>,
    },
}

/// A pull request a train opened, the issues it closes, and (for a branch's own) why it rides
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestOpened {
    pub number: u64,
    pub issues: Vec<u64>,
    pub why: Option<String>,
}

impl std::fmt::Display for RunEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Claimed {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} claimed #{issue} (attempt {attempt})"),
            Self::Adopted {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} re-adopted on #{issue} (attempt {attempt})"),
            Self::Resumed {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} resumed #{issue} (attempt {attempt})"),
            Self::Disposed {
                agent,
                issue,
                outcome,
                disposition,
                ..
            } => match disposition {
                Disposition::Landed { commits_ahead, .. } => {
                    write!(
                        f,
                        "{agent} landed #{issue}: {commits_ahead} commits, waiting for review"
                    )
                }
                Disposition::Retrying { not_before, .. } => {
                    write!(
                        f,
                        "{agent} on #{issue} ended {outcome}; retrying after {}",
                        moment(*not_before)
                    )
                }
                Disposition::Failed { attempts } => {
                    write!(
                        f,
                        "{agent} on #{issue} ended {outcome}; failed after {attempts} attempts"
                    )
                }
                Disposition::Refused { why } => {
                    write!(f, "{agent} on #{issue}: refused to land it: {why}")
                }
            },
            Self::Broken {
                agent,
                issue,
                error,
            } => write!(f, "{agent} could not work on #{issue}: {error}"),
            Self::Interrupted { agent, issue } => {
                write!(
                    f,
                    "{agent} interrupted on #{issue}; its claim stays for the next run"
                )
            }
            Self::Parked {
                agent,
                issue,
                error,
            } => write!(
                f,
                "{agent} on #{issue} could not be disposed of ({error}); left for the next run"
            ),
            Self::StuckStopped {
                agent,
                issue,
                idle_minutes,
            } => write!(
                f,
                "{agent} on #{issue} was silent for {idle_minutes} minutes: stopped"
            ),
            Self::ForceReset {
                agent,
                issue,
                idle_minutes,
                failed,
            } => {
                let how = if *failed {
                    "but a step failed"
                } else {
                    "its work archived"
                };
                write!(
                    f,
                    "{agent} on #{issue} was idle for {idle_minutes} minutes: force-reset, {how}"
                )
            }
            Self::TrainDeparted {
                bundles,
                individual,
                waiting,
            } => {
                let list = |issues: &[u64]| {
                    issues
                        .iter()
                        .map(|n| format!("#{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = Vec::new();
                for bundle in bundles {
                    parts.push(format!(
                        "bundle #{} carries {}",
                        bundle.number,
                        list(&bundle.issues)
                    ));
                }
                for pr in individual {
                    parts.push(format!("#{} carries {} alone", pr.number, list(&pr.issues)));
                }
                for left in waiting {
                    parts.push(format!("#{} waits: {}", left.issue, left.why));
                }
                write!(f, "a train left: {}", parts.join("; "))?;
                Ok(())
            }
        }
    }
}

/// An attempt in flight.
struct InFlight {
    issue: u64,
    attempt: u32,
    started: Timestamp,
    stop: Option<oneshot::Sender<()>>,
    /// Stopped because the loop is shutting down, not because the attempt failed.
    interrupted: bool,
}

/// What an attempt task hands back.
struct Finished {
    agent: String,
    result: Result<AttemptResult, AttemptError>,
}

/// A slot's current work, for the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotView {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    pub started: Timestamp,
}

/// What the loop shows a live view: its busy slots and latest events, republished whenever
/// they may have changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    pub slots: Vec<SlotView>,
    /// The latest few events, oldest first.
    pub recent: Vec<RunEvent>,
}

/// How many of the latest events [`Progress`] carries.
const RECENT_EVENTS: usize = 6;

pub struct Orchestrator {
    workspace: Workspace,
    config: Config,
    forge: Arc<dyn Forge>,
    journal: Arc<SqliteJournal>,
    runtime: Arc<dyn AgentRuntime>,
    clock: Arc<dyn Clock>,
    settings: RunSettings,
    base: String,
    running: JoinSet<Finished>,
    /// Attempts that have ended and wait to be disposed of.
    pending: Vec<Finished>,
    in_flight: BTreeMap<String, InFlight>,
    /// Consecutive failed disposals, by agent.
    disposal_failures: BTreeMap<String, u32>,
    /// Agents whose attempt was parked, with its issue: neither the slot nor the issue is
    /// taken up again in this run.
    parked: BTreeMap<String, u64>,
    claiming: bool,
    events: Vec<RunEvent>,
    /// How many drift repairs the loop has made.
    drift_repaired: usize,
    /// The earliest moment a ready issue's retry backoff ends, as of the last routing.
    retry_at: Option<Timestamp>,
    /// The registered agent processes, for drift checks.
    processes: Box<dyn AgentProcesses>,
    /// When the world was last checked against the journal.
    last_check: Option<Timestamp>,
    progress: watch::Sender<Progress>,
    /// Set when the agent CLI could not be started: claiming stops, and the run ends with it.
    unavailable: Option<AppError>,
    /// Set by the first signal: claiming stopping for another reason must not swallow it.
    shutting_down: bool,
}

impl Orchestrator {
    pub async fn new(
        workspace: Workspace,
        config: Config,
        forge: Arc<dyn Forge>,
        journal: Arc<SqliteJournal>,
        runtime: Arc<dyn AgentRuntime>,
        clock: Arc<dyn Clock>,
        settings: RunSettings,
    ) -> AppResult<Self> {
        // The loop polls: its listings are conditional reads, so an idle pass costs "not
        // modified" answers.
        let forge: Arc<dyn Forge> = Arc::new(ConditionalForge::new(forge));
        let base = forge.default_branch().await?;
        let processes = registered_processes(&workspace)?;
        Ok(Self {
            workspace,
            config,
            processes,
            last_check: None,
            forge,
            journal,
            runtime,
            clock,
            settings,
            base,
            running: JoinSet::new(),
            pending: Vec::new(),
            in_flight: BTreeMap::new(),
            disposal_failures: BTreeMap::new(),
            parked: BTreeMap::new(),
            claiming: true,
            events: Vec::new(),
            drift_repaired: 0,
            retry_at: None,
            progress: watch::Sender::new(Progress::default()),
            unavailable: None,
            shutting_down: false,
        })
    }

    /// Publishes the loop's progress on `to` from now on.
    pub fn report_progress(&mut self, to: watch::Sender<Progress>) {
        self.progress = to;
        self.publish();
    }

    fn publish(&self) {
        let recent = &self.events[self.events.len().saturating_sub(RECENT_EVENTS)..];
        self.progress.send_replace(Progress {
            slots: self.slots(),
            recent: recent.to_vec(),
        });
    }

    /// Everything the loop has done so far, oldest first.
    pub fn events(&self) -> &[RunEvent] {
        &self.events
    }

    /// How many inconsistencies the loop's drift checks have repaired.
    pub fn drift_repaired(&self) -> usize {
        self.drift_repaired
    }

    /// The slots with an attempt in flight.
    pub fn slots(&self) -> Vec<SlotView> {
        self.in_flight
            .iter()
            .map(|(agent, f)| SlotView {
                agent: agent.clone(),
                issue: f.issue,
                attempt: f.attempt,
                started: f.started,
            })
            .collect()
    }

    /// Runs until `stop_when` says so or `shutdown` counts a signal. The first signal stops
    /// claiming and interrupts the agents (unless `detach_agents`); their claims stay for the
    /// next start. The caller handles a second signal.
    pub async fn run(
        &mut self,
        stop_when: StopWhen,
        mut shutdown: watch::Receiver<u32>,
        detach_agents: bool,
    ) -> AppResult<()> {
        self.adopt_registered().await?;
        self.resume_claims().await?;
        let mut routed_once = false;
        let mut failing = 0;
        loop {
            if *shutdown.borrow() > 0 && !self.shutting_down {
                self.begin_shutdown(detach_agents);
                if detach_agents {
                    return Ok(());
                }
            }
            // A pass that fails (the forge unreachable for a moment, a git command refused) is
            // tried again at the next wake-up; only a fault that lasts stops the loop.
            match self.pass(stop_when, &mut routed_once).await {
                Ok(true) => return self.unavailable.take().map_or(Ok(()), Err),
                Ok(false) => failing = 0,
                Err(error) if failing < MAX_FAILING_PASSES => {
                    failing += 1;
                    tracing::warn!(%error, failing, "a pass failed; trying again");
                }
                Err(error) => return Err(error),
            }
            self.wait(&mut shutdown).await?;
        }
    }

    /// One pass of the loop; true when the loop is done.
    async fn pass(&mut self, stop_when: StopWhen, routed_once: &mut bool) -> AppResult<bool> {
        self.check_drift().await?;
        // An attempt whose disposal fails stays in flight (its slot busy) and is tried again
        // next pass, or parked; it holds up neither the other slots nor the loop.
        self.collect_finished().await;
        if !self.claiming {
            let done = self.in_flight.is_empty();
            // Claiming stopped for an agent that cannot run: what landed still leaves.
            if !self.shutting_down {
                self.trains(done && stop_when == StopWhen::Idle).await?;
            }
            return Ok(done);
        }
        if !(stop_when == StopWhen::OnePass && *routed_once) {
            // A claim whose attempt never started (a pass failed between the two) is taken
            // up like one left by a killed run.
            self.resume_claims().await?;
            self.route().await?;
            *routed_once = true;
        }
        let done = match stop_when {
            StopWhen::Never => false,
            StopWhen::OnePass => self.in_flight.is_empty(),
            StopWhen::Idle => self.in_flight.is_empty() && self.nothing_to_route().await?,
        };
        // Stopping when idle, the loop sends off the work still waiting for a train.
        self.trains(done && stop_when == StopWhen::Idle).await?;
        Ok(done)
    }

    /// Sleeps until an attempt ends, a signal arrives, or the poll interval passes.
    async fn wait(&mut self, shutdown: &mut watch::Receiver<u32>) -> AppResult<()> {
        self.publish();
        let poll = tokio::time::sleep(self.next_wake());
        tokio::select! {
            Some(joined) = self.running.join_next() => {
                self.pending.push(joined.expect("attempt tasks do not panic"));
            }
            _ = shutdown.changed() => {}
            _ = poll => {}
        }
        Ok(())
    }

    /// How long to sleep when nothing wakes the loop: the poll interval, or less if a retry's
    /// backoff ends sooner.
    fn next_wake(&self) -> Duration {
        let now = self.clock.now();
        self.retry_at
            .map(|at| at.duration_since(now))
            .and_then(|wait| Duration::try_from(wait).ok())
            .map_or(self.settings.poll_interval, |wait| {
                wait.min(self.settings.poll_interval)
            })
    }

    fn begin_shutdown(&mut self, detach_agents: bool) {
        self.shutting_down = true;
        self.claiming = false;
        tracing::info!(
            in_flight = self.in_flight.len(),
            detach_agents,
            "shutting down"
        );
        if detach_agents {
            return;
        }
        for flight in self.in_flight.values_mut() {
            if let Some(stop) = flight.stop.take() {
                let _ = stop.send(());
            }
            flight.interrupted = true;
        }
    }

    /// Disposes of every attempt that has ended, without waiting for others. A disposal that
    /// fails (the forge unreachable for a moment) keeps the attempt in flight and pending, to
    /// be disposed of again on the next pass; one that keeps failing is parked.
    async fn collect_finished(&mut self) {
        while let Some(joined) = self.running.try_join_next() {
            self.pending
                .push(joined.expect("attempt tasks do not panic"));
        }
        for finished in std::mem::take(&mut self.pending) {
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

    /// Runs the train: repairs earlier ones (merged bundles cleaned up, closed ones sent back
    /// to review), then departs if the trigger says so, or if `force`.
    async fn trains(&mut self, force: bool) -> AppResult<()> {
        if !self.config.bundling.enabled {
            return Ok(());
        }
        let journal: Option<&dyn Journal> = if self.settings.state_machine {
            Some(self.journal.as_ref())
        } else {
            None
        };
        let bundler = Bundler {
            git: &self.workspace.git,
            forge: self.forge.as_ref(),
            config: &self.config.bundling,
            journal,
            train_log: self.journal.as_ref(),
            state_dir: self.workspace.state_dir(),
        };
        let report = bundler.run(self.clock.now(), force, false).await?;
        for repair in &report.repairs {
            tracing::info!("train: {repair}");
        }
        let opened = |prs: &[OpenedPullRequest]| -> Vec<PullRequestOpened> {
            prs.iter()
                .filter(|pr| pr.created)
                .map(|pr| PullRequestOpened {
                    number: pr.number,
                    issues: pr.issues.clone(),
                    why: pr.why.clone(),
                })
                .collect()
        };
        let bundles = opened(&report.bundles);
        let individual = opened(&report.individual);
        if !bundles.is_empty() || !individual.is_empty() || !report.waiting.is_empty() {
            self.record(RunEvent::TrainDeparted {
                bundles,
                individual,
                waiting: report.waiting,
            });
        }
        Ok(())
    }

    /// Every `inconsistency_check_interval_minutes` (and first thing), compares the world with
    /// the journal, repairing the drift when `auto_recovery_enabled`, else reporting it.
    /// Attempts in flight here are alive by definition.
    async fn check_drift(&mut self) -> AppResult<()> {
        let state_machine = &self.config.state_machine;
        let now = self.clock.now();
        let interval = jiff::SignedDuration::from_mins(i64::from(
            state_machine.inconsistency_check_interval_minutes,
        ));
        if !self.settings.state_machine || self.last_check.is_some_and(|last| now < last + interval)
        {
            return Ok(());
        }
        self.last_check = Some(now);
        let processes = self.loop_processes(now);
        let world = World::new(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            &processes,
            self.base.clone(),
            &self.config,
        );
        if !state_machine.auto_recovery_enabled {
            for plan in diagnose(&world, None, now).await?.plans {
                tracing::warn!(
                    inconsistency = %plan.inconsistency.kind(),
                    "drift found; auto_recovery_enabled is off, so `clambake agent recover --all` repairs it"
                );
            }
            return Ok(());
        }
        let report = recover(&world, None, now).await?;
        for plan in &report.executed {
            tracing::warn!(
                inconsistency = %plan.inconsistency.kind(),
                failed = plan.failed(),
                "repaired drift"
            );
        }
        self.drift_repaired += report
            .executed
            .iter()
            .filter(|plan| !plan.failed() && plan.changed_something())
            .count();
        let force_after = i64::from(self.config.recovery.force_reset_after_minutes);
        let mut stuck = Vec::new();
        for left in &report.remaining {
            tracing::warn!(inconsistency = %left.inconsistency.kind(), "drift remains");
            // A claim stuck past `force_reset_after_minutes` that ordinary recovery could not
            // free is reset outright, its work archived first.
            if let Inconsistency::StaleClaim {
                agent,
                issue,
                idle_minutes,
                ..
            } = &left.inconsistency
                && *idle_minutes >= force_after
            {
                stuck.push((agent.clone(), *issue, *idle_minutes));
            }
        }
        for (agent, issue, idle_minutes) in stuck {
            self.force_reset_stuck(&agent, issue, idle_minutes, now)
                .await?;
        }
        Ok(())
    }

    /// The agent processes as drift checks see them: the registry's, and this loop's attempts.
    fn loop_processes(&self, now: Timestamp) -> LoopProcesses<'_> {
        LoopProcesses {
            registered: self.processes.as_ref(),
            in_flight: self
                .in_flight
                .iter()
                .map(|(a, f)| (a.clone(), f.issue))
                .collect(),
            now,
        }
    }

    /// Frees `agent`'s stuck slot. An attempt of this loop on it is stopped (the loop's
    /// processes refuse recovery's stop, which is why the claim was left): it then ends like
    /// any attempt, judged and counted, retried or failed with its work on its branch. A stuck
    /// claim the loop is not running is force-reset, its work archived and the issue requeued.
    async fn force_reset_stuck(
        &mut self,
        agent: &str,
        issue: u64,
        idle_minutes: i64,
        now: Timestamp,
    ) -> AppResult<()> {
        if let Some(flight) = self.in_flight.get_mut(agent).filter(|f| f.issue == issue) {
            if let Some(stop) = flight.stop.take() {
                let _ = stop.send(());
                self.record(RunEvent::StuckStopped {
                    agent: agent.to_owned(),
                    issue,
                    idle_minutes,
                });
            }
            return Ok(());
        }
        let processes = self.loop_processes(now);
        let world = World::new(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            &processes,
            self.base.clone(),
            &self.config,
        );
        let reset = force_reset(&world, agent, now).await?;
        let failed = reset.failed();
        tracing::warn!(agent = %agent, failed, "force-reset a stuck slot");
        self.record(RunEvent::ForceReset {
            agent: agent.to_owned(),
            issue,
            idle_minutes,
            failed,
        });
        Ok(())
    }

    /// Watches again every agent process a previous run left registered: live ones until they
    /// end, dead ones judged from their logs. Each is then disposed of like any attempt.
    async fn adopt_registered(&mut self) -> AppResult<()> {
        let registry = open_registry(&self.workspace)?;
        for entry in registry.list().map_err(AttemptError::from)? {
            // Disposed of already (the run died before forgetting it): acting on the verdict
            // again could undo what happened to the issue since.
            let recorded = self
                .journal
                .attempts(entry.issue)?
                .iter()
                .any(|a| a.agent == entry.agent && a.attempt == entry.attempt);
            if recorded {
                registry.forget(&entry.agent).map_err(AttemptError::from)?;
                continue;
            }
            if registry.is_alive(&entry.handle) {
                self.journal_readoption(&entry).await?;
            }
            let (stop, stopped) = oneshot::channel();
            let agent = entry.agent.clone();
            let flight = InFlight {
                issue: entry.issue,
                attempt: entry.attempt,
                started: self.clock.now(),
                stop: Some(stop),
                interrupted: false,
            };
            let workspace = self.workspace.clone();
            let limits = self.settings.limits;
            let owner = agent.clone();
            self.running.spawn(async move {
                let result = adopt_agent(&workspace, entry, limits, stopped).await;
                Finished {
                    agent: owner,
                    result,
                }
            });
            self.record(RunEvent::Adopted {
                agent: agent.clone(),
                issue: flight.issue,
                attempt: flight.attempt,
            });
            self.in_flight.insert(agent, flight);
        }
        Ok(())
    }

    /// Journals that this run took over `entry`'s live agent: the slot works on (its claim
    /// journaled first if the journal lags), now watched by this run.
    async fn journal_readoption(&self, entry: &RegisteredAgent) -> AppResult<()> {
        let slot = self.slot_journal();
        journal_assignment(slot, &entry.agent, entry.issue, &entry.branch, READOPTED)?;
        let ahead = match self.workspace.git.branch_tip(&entry.branch).await? {
            Some(_) => commits_ahead(&self.workspace.git, &entry.base, &entry.branch).await?,
            None => 0,
        };
        journal_working(slot, &entry.agent, entry.issue, ahead, READOPTED)
    }

    /// Takes up every claim the forge shows that no attempt here is working on: after a crash
    /// or a stop, the same slot continues on the same branch and worktree.
    async fn resume_claims(&mut self) -> AppResult<()> {
        let open = self.forge.issues(&IssueFilter::open()).await?;
        for issue in open {
            if stage(issue.labels.iter().map(String::as_str)) != Stage::Claimed {
                continue;
            }
            let agents: Vec<&String> = issue
                .labels
                .iter()
                .filter(|l| agent_slot(l).is_some())
                .collect();
            // Two claims on one issue are drift for reconcile to settle, not work to resume.
            let [agent] = agents.as_slice() else {
                continue;
            };
            if self.in_flight.contains_key(*agent)
                || self.slot_taken_elsewhere(agent, issue.number)
                || self.is_parked(issue.number)
            {
                continue;
            }
            let agent = (*agent).clone();
            if self.land_recorded_success(&agent, issue.number).await? {
                continue;
            }
            self.start_attempt(&agent, &issue, true).await?;
        }
        Ok(())
    }

    /// Lands the claim's finished work if its success is recorded (and so not run again).
    async fn land_recorded_success(&mut self, agent: &str, issue: u64) -> AppResult<bool> {
        let settings = LandSettings {
            state_machine: self.settings.state_machine,
            bundling: self.settings.policy.bundling,
        };
        let now = self.clock.now();
        let forge = self.forge.as_ref();
        let landed = land_recorded_success(
            &self.workspace,
            forge,
            &self.journal,
            settings,
            agent,
            issue,
            now,
        )
        .await?;
        let Some((attempt, landed)) = landed else {
            return Ok(false);
        };
        self.record(RunEvent::Disposed {
            agent: agent.to_owned(),
            issue,
            attempt,
            outcome: crate::core::agents::outcome::Outcome::Success.to_string(),
            disposition: Disposition::Landed {
                commits_ahead: landed.commits_ahead,
                pull_request: landed.pull_request,
            },
        });
        Ok(true)
    }

    /// Whether `issue`'s attempt was parked in this run.
    fn is_parked(&self, issue: u64) -> bool {
        self.parked.values().any(|parked| *parked == issue)
    }

    /// Whether `agent` holds another issue in flight here.
    fn slot_taken_elsewhere(&self, agent: &str, issue: u64) -> bool {
        self.in_flight.get(agent).is_some_and(|f| f.issue != issue)
    }

    /// Fills free slots with ready issues, highest priority first.
    async fn route(&mut self) -> AppResult<()> {
        let open = self.forge.issues(&IssueFilter::open()).await?;
        let now = self.clock.now();
        let mut busy: BTreeSet<String> = self
            .in_flight
            .keys()
            .chain(self.parked.keys())
            .cloned()
            .collect();
        let mut held_back = BTreeSet::new();
        let mut retry_at = None;
        let mut preferred = BTreeMap::new();
        for issue in &open {
            busy.extend(
                issue
                    .labels
                    .iter()
                    .filter(|l| agent_slot(l).is_some())
                    .cloned(),
            );
            if stage(issue.labels.iter().map(String::as_str)) != Stage::Ready {
                continue;
            }
            let attempts = self.journal.attempts(issue.number)?;
            if let Some(at) = landing::not_before(&attempts, self.settings.policy, now) {
                held_back.insert(issue.number);
                retry_at = Some(retry_at.map_or(at, |earliest: Timestamp| earliest.min(at)));
            }
            // A retry goes back to the slot that tried before, to continue on its branch.
            if let Some(last) = attempts.last() {
                preferred.insert(issue.number, last.agent.clone());
            }
        }
        let candidates: Vec<OpenIssue> = open
            .iter()
            .map(|i| OpenIssue {
                number: i.number,
                labels: i.labels.clone(),
            })
            .collect();
        self.retry_at = retry_at;
        let claims = plan_claims(
            &candidates,
            &busy,
            self.settings.max_concurrent,
            &held_back,
            &preferred,
        );
        for claim in claims {
            let Some(issue) = claim_issue(self.forge.as_ref(), &claim.agent, claim.issue).await?
            else {
                continue;
            };
            self.start_attempt(&claim.agent, &issue, false).await?;
        }
        Ok(())
    }

    /// Whether nothing is ready or waiting for a retry (claimed issues are in flight).
    async fn nothing_to_route(&self) -> AppResult<bool> {
        let open = self.forge.issues(&IssueFilter::open()).await?;
        Ok(!open.iter().any(|issue| {
            !self.is_parked(issue.number)
                && matches!(
                    stage(issue.labels.iter().map(String::as_str)),
                    Stage::Ready | Stage::Claimed
                )
        }))
    }

    /// Starts an attempt of `agent` at `issue` in the background, journaling the assignment.
    async fn start_attempt(&mut self, agent: &str, issue: &Issue, resumed: bool) -> AppResult<()> {
        let earlier = self.journal.attempts(issue.number)?;
        let request = request_for(
            &self.workspace,
            self.forge.as_ref(),
            agent,
            issue.number,
            &self.base,
            &earlier,
        )
        .await?;
        let branch = branch_name(agent, issue.number, &issue.title);
        let cause = if resumed {
            "resumed by the run loop after a restart"
        } else {
            "claimed by the run loop"
        };
        journal_assignment(self.slot_journal(), agent, issue.number, &branch, cause)?;
        let (stop, stopped) = oneshot::channel();
        let workspace = self.workspace.clone();
        let runtime = self.runtime.clone();
        let limits = self.settings.limits;
        let owner = agent.to_owned();
        let spawned_request = request.clone();
        let journal = self.settings.state_machine.then(|| self.journal.clone());
        let clock = self.clock.clone();
        self.running.spawn(async move {
            let slot = journal.as_deref().map(|journal| SlotJournal {
                journal,
                clock: clock.as_ref(),
            });
            let result = run_attempt_journaled(
                &workspace,
                runtime.as_ref(),
                &spawned_request,
                limits,
                stopped,
                slot,
            )
            .await;
            Finished {
                agent: owner,
                result,
            }
        });
        self.in_flight.insert(
            agent.to_owned(),
            InFlight {
                issue: issue.number,
                attempt: request.attempt,
                started: self.clock.now(),
                stop: Some(stop),
                interrupted: false,
            },
        );
        let event = if resumed {
            RunEvent::Resumed {
                agent: agent.to_owned(),
                issue: issue.number,
                attempt: request.attempt,
            }
        } else {
            RunEvent::Claimed {
                agent: agent.to_owned(),
                issue: issue.number,
                attempt: request.attempt,
            }
        };
        self.record(event);
        Ok(())
    }

    /// The journal, when the state machine is on, as attempts journal their slot's steps.
    fn slot_journal(&self) -> Option<SlotJournal<'_>> {
        self.settings.state_machine.then(|| SlotJournal {
            journal: self.journal.as_ref(),
            clock: self.clock.as_ref(),
        })
    }

    /// Lands, retries or fails the issue of a finished attempt.
    async fn dispose(&mut self, finished: &Finished) -> AppResult<()> {
        let agent = finished.agent.clone();
        let flight = self
            .in_flight
            .get(&agent)
            .map(|f| (f.issue, f.attempt, f.interrupted))
            .expect("every attempt task is in flight");
        let (issue, attempt, interrupted) = flight;
        let now = self.clock.now();
        // A shutdown's attempt that did not succeed (or broke as it was stopped) keeps its
        // claim for the next run; it is not a failed attempt.
        let succeeded = finished.result.as_ref().is_ok_and(|r| {
            r.classification.outcome == crate::core::agents::outcome::Outcome::Success
        });
        if interrupted && !succeeded {
            self.in_flight.remove(&agent);
            self.record(RunEvent::Interrupted { agent, issue });
            return Ok(());
        }
        let result = match &finished.result {
            Ok(result) => result,
            Err(error) if error.agent_unstartable() => {
                let journal: &dyn Journal = self.journal.as_ref();
                let journal = self.settings.state_machine.then_some(journal);
                let (workspace, forge) = (&self.workspace, self.forge.as_ref());
                let cause = "the agent CLI could not be started";
                check::release_claim(workspace, forge, journal, (&agent, issue), cause, now)
                    .await?;
                self.in_flight.remove(&agent);
                self.claiming = false;
                self.unavailable = Some(check::unavailable(&self.config.agents, error));
                let error = error.to_string();
                self.record(RunEvent::Broken {
                    agent,
                    issue,
                    error,
                });
                return Ok(());
            }
            Err(error) => {
                self.dispose_broken(&agent, issue, attempt, error, now)
                    .await?;
                self.in_flight.remove(&agent);
                return Ok(());
            }
        };
        if let Some(refused) = check::key_refused(&self.config.agents, result) {
            let journal: &dyn Journal = self.journal.as_ref();
            let journal = self.settings.state_machine.then_some(journal);
            let (workspace, forge) = (&self.workspace, self.forge.as_ref());
            let cause = "the model API refused the agent's key";
            check::release_claim(workspace, forge, journal, (&agent, issue), cause, now).await?;
            self.in_flight.remove(&agent);
            self.claiming = false;
            let error = refused.to_string();
            self.unavailable = Some(refused);
            self.record(RunEvent::Broken {
                agent,
                issue,
                error,
            });
            return Ok(());
        }
        let journal: &dyn Journal = self.journal.as_ref();
        let disposition = landing::dispose(
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
            },
            now,
        )
        .await?;
        self.in_flight.remove(&agent);
        self.record(RunEvent::Disposed {
            agent,
            issue,
            attempt,
            outcome: result.classification.outcome.to_string(),
            disposition,
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
        let issue = self.forge.issue(issue).await?;
        let branch = branch_name(agent, issue.number, &issue.title);
        tracing::error!(agent, issue = issue.number, %error, "attempt broke");
        self.journal.record_attempt(&AttemptRecord {
            issue: issue.number,
            attempt,
            agent: agent.to_owned(),
            branch: branch.clone(),
            outcome: "clambake_error".to_owned(),
            reason: error.to_string(),
            commits_ahead: 0,
            cost_usd: None,
            turns: 0,
            log: String::new(),
            finished_at: now,
            runtime: Some(self.runtime.name().to_owned()),
            session_id: None,
        })?;
        landing::retry_or_fail(
            self.forge.as_ref(),
            self.journal.as_ref(),
            self.settings.policy,
            Failure {
                agent,
                issue: issue.number,
                summary: format!("by {agent} could not run: {error}."),
                branch: &branch,
                log_tail: error.to_string(),
            },
            now,
        )
        .await?;
        let journal: &dyn Journal = self.journal.as_ref();
        landing::journal_slot(
            self.settings.state_machine.then_some(journal),
            agent,
            issue.number,
            &[Event::Abandon],
            "the attempt could not run",
            now,
        )?;
        self.record(RunEvent::Broken {
            agent: agent.to_owned(),
            issue: issue.number,
            error: error.to_string(),
        });
        Ok(())
    }

    fn record(&mut self, event: RunEvent) {
        tracing::info!("{event}");
        self.events.push(event);
        self.publish();
    }
}
