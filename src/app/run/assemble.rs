//! `run`: the orchestrator assembled from the configuration: the forge, the journal, the agent
//! runtime and the run lock, driven until it is told (or decides) to stop.

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

use crate::app::agents::attempt::AttemptError;
use crate::app::agents::lock::{RunLock, describe_this_process};
use crate::app::agents::simulated_work::agents_are_simulated;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::run::orchestrator::metrics::RunMetrics;
use crate::app::run::orchestrator::{Orchestrator, Progress, RunEvent, RunSettings, StopWhen};
use crate::app::run::serve::{self, ServeRequest, TOKEN_VARIABLE};
use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::budget::Caps;
use crate::core::config::ForgeBackend;

/// What `run` says at its start when only the simulated agent will work.
pub const SIMULATED_NOTICE: &str = "agents are simulated (agents.real_processes = false, or the \
     `simulated` runtime): nobody really works on the issues, and their commits, comments and \
     pull requests say [simulated]";

/// What the caller asked of `run`.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest {
    /// Overrides `agents.max_concurrent`.
    pub agents: Option<u32>,
    pub stop_when: StopWhen,
    /// On a signal, leave the agents running for the next start to take up.
    pub detach_agents: bool,
    /// Serve the metrics and the dashboard whatever serve.enabled says.
    pub serve: bool,
    /// What this run may spend (`run --budget-usd`), besides `[budget]`.
    pub budget_usd: Option<f64>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub started: Timestamp,
    pub finished: Timestamp,
    /// The latest events, oldest first: a long run keeps only the last ones.
    pub events: Vec<RunEvent>,
    /// How many earlier events the run let go, and so are not in `events`.
    pub events_dropped: usize,
    /// Inconsistencies between the journal and the world that the run repaired.
    pub drift_repaired: usize,
    /// Only the simulated agent ran: its work is marked as simulated.
    pub agents_simulated: bool,
}

/// Runs the loop under the run lock until `request.stop_when` or a signal counted on
/// `shutdown`.
pub async fn run(
    workspace: &Workspace,
    request: RunRequest,
    shutdown: watch::Receiver<u32>,
) -> AppResult<RunSummary> {
    run_reporting(
        workspace,
        request,
        shutdown,
        watch::Sender::new(Progress::default()),
    )
    .await
}

/// As [`run`], publishing the loop's progress on `progress` while it runs (for a live view).
pub async fn run_reporting(
    workspace: &Workspace,
    request: RunRequest,
    shutdown: watch::Receiver<u32>,
    progress: watch::Sender<Progress>,
) -> AppResult<RunSummary> {
    let config = workspace.load_config()?.config;
    workspace.require_commits().await?;
    let mut settings = match request.agents {
        Some(agents) => RunSettings::with_slots(&config, agents),
        None => RunSettings::from_config(&config),
    };
    settings.budgets = Caps::new(&config.budget, request.budget_usd);
    // A CLI that is not there would fail every attempt alike: nothing is claimed for it. Where
    // every slot runs on GitHub Actions, the runners have it, not this machine.
    if settings.slots.local > 0 {
        crate::app::agents::check::startable_cli(&config.agents)?;
    }
    let clock = compose::clock();
    let started = clock.now();
    std::fs::create_dir_all(workspace.state_dir()).map_err(|source| AppError::Io {
        action: "create",
        path: workspace.state_dir(),
        source,
    })?;
    let _lock = RunLock::acquire(
        &workspace.state_dir(),
        &describe_this_process("clambake run", started),
    )?;
    let agents_simulated = agents_are_simulated(&config.agents);
    if agents_simulated {
        tracing::warn!("{SIMULATED_NOTICE}");
    }
    let forge = workspace.open_forge(config.forge.backend).await?;
    let journal = Arc::new(open_journal(workspace)?);
    let runtime =
        compose::runtime(config.agents.runtime, &config.agents).map_err(AttemptError::from)?;
    let on_github = config.forge.backend == ForgeBackend::Github;
    let config_serve = config.serve.clone();
    let notifier = compose::notifier(&config.notify)?;
    let forge_for_server = forge.clone();
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge,
        journal,
        Arc::from(runtime),
        clock.clone(),
        settings,
    )
    .await?;
    // Trains may depart through the bundling workflow, and the remote slots' attempts run as
    // runs of the agent workflow, now or once switched on.
    if on_github {
        orchestrator = orchestrator.with_actions(workspace.open_actions().await?);
    }
    if let Some(notifier) = notifier {
        orchestrator.notify_through(notifier);
    }
    let metrics = RunMetrics::new();
    orchestrator.count_into(metrics.clone());
    let _server = if config_serve.enabled || request.serve {
        let request = ServeRequest {
            address: config_serve.address,
            token: std::env::var(TOKEN_VARIABLE).ok(),
        };
        Some(
            serve::start(
                workspace,
                forge_for_server,
                request,
                progress.subscribe(),
                metrics,
            )
            .await?,
        )
    } else {
        None
    };
    orchestrator.report_progress(progress);
    orchestrator
        .run(request.stop_when, shutdown, request.detach_agents)
        .await?;
    Ok(RunSummary {
        started,
        finished: clock.now(),
        events: orchestrator.events().iter().cloned().collect(),
        events_dropped: orchestrator.events_dropped(),
        drift_repaired: orchestrator.drift_repaired(),
        agents_simulated,
    })
}
