//! The run loop: keeps the agent slots busy with ready issues, lands or retries what they finish,
//! and picks up where a stopped or crashed predecessor left off. The forge is the source of
//! truth for claims: a claim is a reference on the remote that other orchestrators respect, then
//! a label, set before the work starts; a restarted loop resumes every claimed issue of its own
//! on the same slot and branch (and takes over those of an orchestrator gone silent), so no work
//! is lost or done twice.
//!
//! The loop waits for one `Input` at a time (an attempt's task ended, a signal, the
//! poll timer) and hands it to its handler (`on_attempt_done`, `on_signal`; a tick has none of its own); every
//! input is then followed by the pass (`pass.rs`), since each can change what the pass does.

mod attempts;
mod budget;
mod claims;
mod drift;
mod events;
mod holds;
mod input;
pub mod metrics;
mod notify;
mod on_attempt_done;
mod on_signal;
mod pass;
mod prune;
mod publish;
mod rate_limit;
#[cfg(test)]
mod tests;
mod trains;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{oneshot, watch};
use tokio::task::{Id, JoinSet};

use crate::app::agents::attempt::{AttemptError, AttemptResult};
use crate::app::agents::request::limits_from;
use crate::app::queue::claim::SlotJournal;
use crate::app::queue::dependencies::Dependencies;
use crate::app::queue::ledger::ClaimLedger;
use crate::app::recovery::observe::registered_processes;
use crate::app::trains::disposal::DisposalPolicy;
use crate::app::{AppError, AppResult, Workspace, compose, forge_usage};
use crate::core::budget::{AttemptCap, Caps};
use crate::core::config::{Config, ForgeBackend, web_url};
use crate::core::notify::{Links, StopReason};
use crate::core::queue::holds::Pause;
use crate::core::queue::slots::SlotLayout;
use crate::core::trains::schedule::Departure;
use crate::ports::actions::Actions;
use crate::ports::agent::AgentRuntime;
use crate::ports::agent_host::Limits;
use crate::ports::forge::Issue;
use crate::ports::journal::Store;
use crate::ports::notifier::Notifier;
use crate::ports::processes::AgentProcesses;
use crate::ports::{Clock, Forge};

use budget::Budgets;
pub use events::{BudgetView, Progress, PullRequestOpened, QueueCounts, RunEvent, SlotView};
use events::{EVENT_LIMIT, EventLog, RECENT_EVENTS};
use input::Input;
use metrics::RunMetrics;
use notify::Notifications;

/// Consecutive failed passes the loop rides out before it stops with the error.
const MAX_FAILING_PASSES: u32 = 10;

/// Consecutive failed disposals of one attempt before the loop parks it for the next run.
const MAX_DISPOSAL_TRIES: u32 = 10;

/// How the loop behaves; built from the configuration, adjustable for tests.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// Every slot, local and remote: the most attempts in flight at once.
    pub max_concurrent: u32,
    /// Which slots run on GitHub Actions.
    pub slots: SlotLayout,
    pub limits: Limits,
    pub policy: DisposalPolicy,
    /// How often the forge is polled when nothing else wakes the loop.
    pub poll_interval: Duration,
    /// false: labels alone manage the agents, the journal is not written.
    pub state_machine: bool,
    /// Every budget: `[budget]`'s, and the run's (`run --budget-usd`).
    pub budgets: Caps,
}

impl RunSettings {
    pub fn from_config(config: &Config) -> Self {
        Self::with_slots(config, config.agents.max_concurrent)
    }

    /// As [`RunSettings::from_config`], with `slots` in place of `agents.max_concurrent`.
    pub fn with_slots(config: &Config, slots: u32) -> Self {
        let slots = SlotLayout::with_slots(slots, &config.agents, &config.github_actions);
        Self {
            max_concurrent: slots.total(),
            slots,
            limits: limits_from(&config.agents),
            policy: DisposalPolicy {
                max_attempts: config.agents.max_attempts,
                retry_base: Duration::from_secs(u64::from(config.agents.retry_backoff_seconds)),
                bundling: config.bundling.enabled,
                cleanup_on_failure: config.agents.cleanup_on_failure,
            },
            poll_interval: Duration::from_secs(u64::from(config.forge.poll_interval_seconds)),
            state_machine: config.state_machine.enabled,
            budgets: Caps::new(&config.budget, None),
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

/// An attempt in flight.
struct InFlight {
    issue: u64,
    attempt: u32,
    started: Timestamp,
    /// Its task in [`Orchestrator::running`]: how a panic is traced back to the attempt.
    task: Id,
    stop: Option<oneshot::Sender<()>>,
    /// Stopped because the loop is shutting down, not because the attempt failed.
    interrupted: bool,
    /// It runs elsewhere (a GitHub Actions runner), which pushes its branch itself.
    elsewhere: bool,
    /// What it may spend, and which budget says so; `None`: no cap (or adopted from an
    /// earlier run, whose caps are not known).
    cap: Option<AttemptCap>,
}

/// How an attempt's task ended.
enum TaskEnd {
    /// It returned: the attempt's verdict, or why Clambake could not reach one.
    Returned(Box<Result<AttemptResult, AttemptError>>),
    /// It panicked, with this message: judged as a crash of the attempt.
    Panicked(String),
}

/// An attempt that has ended and waits to be disposed of.
struct Finished {
    agent: String,
    end: TaskEnd,
}

pub struct Orchestrator {
    workspace: Workspace,
    config: Config,
    forge: Arc<dyn Forge>,
    journal: Arc<dyn Store>,
    runtime: Arc<dyn AgentRuntime>,
    clock: Arc<dyn Clock>,
    settings: RunSettings,
    base: String,
    /// One task per attempt in flight, so never more than the slots.
    running: JoinSet<Result<AttemptResult, AttemptError>>,
    /// Attempts that have ended and wait to be disposed of: at most one per attempt in flight.
    pending: Vec<Finished>,
    in_flight: BTreeMap<String, InFlight>,
    /// Consecutive failed disposals, by agent.
    disposal_failures: BTreeMap<String, u32>,
    /// Agents whose attempt was parked, with its issue: neither the slot nor the issue is
    /// taken up again in this run.
    parked: BTreeMap<String, u64>,
    claiming: bool,
    events: EventLog,
    /// How many drift repairs the loop has made.
    drift_repaired: usize,
    /// The earliest moment a ready issue's retry backoff ends, as of the last routing.
    retry_at: Option<Timestamp>,
    /// The registered agent processes, for drift checks.
    processes: Box<dyn AgentProcesses>,
    /// When the world was last checked against the journal.
    last_check: Option<Timestamp>,
    /// Holds one value, replaced on each publication: a slow live view never makes it grow.
    progress: watch::Sender<Progress>,
    /// What the metrics count of the loop's events and drift.
    metrics: Arc<RunMetrics>,
    /// Set when the agent CLI could not be started: claiming stops, and the run ends with it.
    unavailable: Option<AppError>,
    /// Set by the first signal: claiming stopping for another reason must not swallow it.
    shutting_down: bool,
    /// The claims this loop shares with other orchestrators on the remote.
    claims: ClaimLedger,
    /// When the loop last said on the remote that it is alive.
    said_alive: Option<Timestamp>,
    /// The tips the remote was last seen to have of the branches of attempts in flight.
    published: BTreeMap<String, String>,
    /// When the forge's spent rate limit resets: no pass runs before then.
    rate_limited: Option<Timestamp>,
    /// The open issues by stage as the last listing read them, for the live view.
    queue: Option<QueueCounts>,
    /// The open issues as this pass listed them, once its disposals were done: resuming
    /// claims, routing and the idle check read one listing.
    pass_listing: Option<Vec<Issue>>,
    /// When the next train leaves, as the last train decided, for the live view.
    next_train: Option<Departure>,
    /// GitHub Actions, when the forge is GitHub: where trains depart with
    /// `bundling.executor = "actions"`, and where the remote slots' attempts run.
    actions: Option<Arc<dyn Actions>>,
    /// When old attempt logs and prompts were last pruned.
    logs_pruned: Option<Timestamp>,
    /// The forge's own dependencies as last read, and the cycles reported.
    dependencies: Dependencies,
    /// The ready issues the last routing held back for their open blockers.
    blocked: BTreeSet<u64>,
    /// Why claiming is paused, as of the last routing.
    paused: Option<Pause>,
    /// The budgets, and the one holding claiming.
    budgets: Budgets,
    /// What was spent today, as the last routing counted it.
    spent_today: f64,
    /// What `[notify] webhook_url` is told; off unless [`Orchestrator::notify_through`].
    notifications: Notifications,
}

impl Orchestrator {
    pub async fn new(
        workspace: Workspace,
        config: Config,
        forge: Arc<dyn Forge>,
        journal: Arc<dyn Store>,
        runtime: Arc<dyn AgentRuntime>,
        clock: Arc<dyn Clock>,
        settings: RunSettings,
    ) -> AppResult<Self> {
        // The loop polls: its listings are conditional reads, so an idle pass costs "not
        // modified" answers.
        let forge = compose::conditional(forge);
        let base = forge.default_branch().await?;
        let processes = registered_processes(&workspace)?;
        let claims = ClaimLedger::open(&workspace, &config)?;
        let run_started = clock.now();
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
            events: EventLog::new(EVENT_LIMIT),
            drift_repaired: 0,
            retry_at: None,
            progress: watch::Sender::new(Progress::default()),
            metrics: RunMetrics::new(),
            unavailable: None,
            shutting_down: false,
            claims,
            said_alive: None,
            published: BTreeMap::new(),
            rate_limited: None,
            queue: None,
            pass_listing: None,
            next_train: None,
            actions: None,
            logs_pruned: None,
            dependencies: Dependencies::default(),
            blocked: BTreeSet::new(),
            paused: None,
            budgets: Budgets {
                caps: settings.budgets,
                run_started,
                held: None,
            },
            spent_today: 0.0,
            notifications: Notifications::default(),
        })
    }

    /// Trains depart, and the remote slots' attempts run, through `actions` when the
    /// configuration says so.
    pub fn with_actions(mut self, actions: Arc<dyn Actions>) -> Self {
        self.actions = Some(actions);
        self
    }

    /// Reads `[github_actions]` from the configuration file again, so that `clambake
    /// rollback --feature actions` takes effect at the next pass of a running loop. A file
    /// that does not load now keeps what the loop started with.
    fn reload_github_actions(&mut self) {
        match self.workspace.load_config() {
            Ok(loaded) => self.config.github_actions = loaded.config.github_actions,
            Err(error) => tracing::warn!(%error, "could not read the configuration again"),
        }
    }

    /// The runtime `agent`'s attempts run with: the agent workflow on GitHub Actions for a
    /// remote slot while `github_actions.enabled` (as the last pass read it), else this
    /// machine's.
    fn runtime_for(&self, agent: &str) -> Arc<dyn AgentRuntime> {
        match &self.actions {
            Some(actions)
                if self.config.github_actions.enabled && self.settings.slots.is_remote(agent) =>
            {
                let local = self.runtime.as_ref();
                compose::remote_runtime(actions.clone(), &self.config, &self.base, local)
            }
            _ => self.runtime.clone(),
        }
    }

    /// Tells `notifier` from now on when an issue fails, a bundle is opened and the run stops.
    pub fn notify_through(&mut self, notifier: Arc<dyn Notifier>) {
        let links = match self.config.forge.backend {
            ForgeBackend::Github => {
                let github = &self.config.github;
                Links::github(&web_url(&github.api_url), &github.owner, &github.repo)
            }
            ForgeBackend::Local => Links::local(
                &self
                    .workspace
                    .root
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
            ),
        };
        let forge = self.forge.clone();
        self.notifications = Notifications::start(notifier, forge, links, compose::secrets());
    }

    /// Publishes the loop's progress on `to` from now on.
    pub fn report_progress(&mut self, to: watch::Sender<Progress>) {
        self.progress = to;
        self.publish();
    }

    /// Counts the loop's events and drift into `metrics` from now on.
    pub fn count_into(&mut self, metrics: Arc<RunMetrics>) {
        self.metrics = metrics;
    }

    fn publish(&self) {
        self.progress.send_replace(Progress {
            slots: self.slots(),
            queue: self.queue,
            next_train: self.next_train,
            recent: self.events.latest(RECENT_EVENTS),
            rate_limited_until: self.rate_limit_wait(),
            claiming_paused: self.paused,
            waiting_on_blockers: self.blocked.len(),
            budget: BudgetView {
                spent_today_usd: self.spent_today,
                per_day_usd: self.budgets.caps.per_day,
                held: self.budgets.held,
            },
        });
    }

    /// What the loop has done so far, oldest first: its latest events, up to a limit.
    pub fn events(&self) -> &VecDeque<RunEvent> {
        self.events.kept()
    }

    /// How many of its earliest events the loop let go to keep its event log bounded.
    pub fn events_dropped(&self) -> usize {
        self.events.dropped()
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
    /// Ends by signing off on the remote, so that a run started next under this id need not
    /// wait to see whether this one still lives.
    pub async fn run(
        &mut self,
        stop_when: StopWhen,
        shutdown: watch::Receiver<u32>,
        detach_agents: bool,
    ) -> AppResult<()> {
        let ran = self.run_loop(stop_when, shutdown, detach_agents).await;
        if let Err(error) = self.claims.sign_off(self.clock.now()).await {
            tracing::warn!(%error, "could not say on the remote that this run ended");
        }
        let (why, reason) = match &ran {
            Ok(()) if self.shutting_down => (StopReason::Signal, None),
            Ok(()) if stop_when == StopWhen::OnePass => (StopReason::Finished, None),
            Ok(()) => (StopReason::Idle, None),
            Err(error) => (StopReason::Error, Some(error.to_string())),
        };
        self.notifications
            .stopped(why, reason, self.clock.now())
            .await;
        ran
    }

    async fn run_loop(
        &mut self,
        stop_when: StopWhen,
        mut shutdown: watch::Receiver<u32>,
        detach_agents: bool,
    ) -> AppResult<()> {
        self.say_alive().await?;
        // Another process already runs under this id: this one touches nothing.
        let duplicate = |e: &mut AppError| matches!(e, AppError::DuplicateOrchestratorId { .. });
        if let Some(error) = self.unavailable.take_if(duplicate) {
            return Err(error);
        }
        self.adopt_registered().await?;
        self.resume_claims().await?;
        let mut routed_once = false;
        let mut failing = 0;
        let mut input = self.pending_signal(&shutdown).unwrap_or(Input::Tick);
        loop {
            match input {
                Input::AttemptDone { task, end } => self.on_attempt_done(task, end),
                Input::Signal => {
                    if self.on_signal(detach_agents) {
                        return Ok(());
                    }
                }
                Input::Tick => {}
            }
            if self.waiting_out_rate_limit() {
                // The heartbeat goes through git, not the forge's API: other orchestrators
                // must not take this loop's live claims while it waits.
                if let Err(error) = self.say_alive().await {
                    tracing::warn!(%error, "could not say on the remote that this run is alive");
                }
                input = self.next_input(&mut shutdown).await;
                continue;
            }
            // A pass that fails (the forge unreachable for a moment, a git command refused) is
            // tried again at the next wake-up; only a fault that lasts stops the loop. A spent
            // rate limit is no fault: the loop waits until it resets.
            let passed = self.pass(stop_when, &mut routed_once).await;
            forge_usage::record(&self.workspace, self.forge.usage(), self.clock.now());
            match passed {
                Ok(true) => {
                    // The last frame of a live view shows what the last pass read.
                    self.publish();
                    return self.unavailable.take().map_or(Ok(()), Err);
                }
                Ok(false) => failing = 0,
                Err(error) if let Some(until) = rate_limit::rate_limited_until(&error) => {
                    self.wait_out_rate_limit(until);
                }
                Err(error) if failing < MAX_FAILING_PASSES => {
                    failing += 1;
                    tracing::warn!(%error, failing, "a pass failed; trying again");
                }
                Err(error) => return Err(error),
            }
            input = self.next_input(&mut shutdown).await;
        }
    }

    /// Whether `issue`'s attempt was parked in this run.
    fn is_parked(&self, issue: u64) -> bool {
        self.parked.values().any(|parked| *parked == issue)
    }

    /// Whether `agent` holds another issue in flight here.
    fn slot_taken_elsewhere(&self, agent: &str, issue: u64) -> bool {
        self.in_flight.get(agent).is_some_and(|f| f.issue != issue)
    }

    /// The journal, when the state machine is on, as attempts journal their slot's steps.
    fn slot_journal(&self) -> Option<SlotJournal<'_>> {
        self.settings.state_machine.then(|| SlotJournal {
            journal: self.journal.as_ref(),
            clock: self.clock.as_ref(),
        })
    }

    fn record(&mut self, event: RunEvent) {
        tracing::info!("{event}");
        let attempt = match &event {
            RunEvent::Disposed { issue, attempt, .. } => self
                .journal
                .attempts(*issue)
                .ok()
                .and_then(|records| records.into_iter().find(|r| r.attempt == *attempt)),
            _ => None,
        };
        self.metrics
            .observe(&event, attempt.as_ref(), self.clock.now());
        self.notifications.observe(&event, self.clock.now());
        self.events.push(event);
        self.publish();
    }
}
