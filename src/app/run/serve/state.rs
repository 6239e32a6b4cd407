//! What the dashboard and `/api/v1/state` show, built by the same code as `clambake status
//! --json` (its `status` part) and `run`'s live view (its `live` part).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::queue::status::{StatusReport, status};
use crate::app::run::live::{LiveSampler, LiveSnapshot};
use crate::app::run::orchestrator::{Progress, RunEvent};
use crate::app::trains::dispatch::run_out;
use crate::app::{AppResult, Workspace};
use crate::core::trains::dispatched::DispatchedRun;
use crate::ports::Forge;
use crate::ports::journal::AttemptLog;

/// What `status --json` prints: the report, and the bundling workflow's run a departure waits
/// for, if one is out.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    #[serde(flatten)]
    pub report: StatusReport,
    pub bundling_run: Option<DispatchedRun>,
}

/// `clambake status --json`, for the command and the dashboard alike.
pub async fn status_view(workspace: &Workspace, forge: &dyn Forge) -> AppResult<StatusView> {
    Ok(StatusView {
        report: status(workspace, forge).await?,
        bundling_run: run_out(&workspace.state_dir())?,
    })
}

/// One frame of the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardState {
    pub status: StatusView,
    pub live: LiveSnapshot,
    /// The latest events as the live view words them, oldest first.
    pub recent_text: Vec<String>,
    /// What the attempts at the issues in view that finished today (UTC) cost.
    pub spent_today_usd: f64,
}

/// The dashboard's state at `now`, from the loop's `progress`, the forge and the journal.
pub async fn dashboard_state(
    workspace: &Workspace,
    forge: &dyn Forge,
    attempts: &dyn AttemptLog,
    progress: &Progress,
    now: Timestamp,
) -> AppResult<DashboardState> {
    let status = status_view(workspace, forge).await?;
    let live = LiveSampler::open(workspace)?.sample(progress, now).await?;
    let recent_text = live.recent.iter().map(RunEvent::to_string).collect();
    let mut issues: BTreeSet<u64> = status
        .report
        .stages
        .values()
        .flatten()
        .map(|entry| entry.number)
        .collect();
    issues.extend(live.recent.iter().filter_map(event_issue));
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut spent_today_usd = 0.0;
    for issue in issues {
        for record in attempts.attempts(issue).unwrap_or_default() {
            if record.finished_at.to_zoned(jiff::tz::TimeZone::UTC).date() == today {
                spent_today_usd += record.cost_usd.unwrap_or(0.0);
            }
        }
    }
    Ok(DashboardState {
        status,
        live,
        recent_text,
        spent_today_usd,
    })
}

fn event_issue(event: &RunEvent) -> Option<u64> {
    match event {
        RunEvent::Claimed { issue, .. }
        | RunEvent::Adopted { issue, .. }
        | RunEvent::Resumed { issue, .. }
        | RunEvent::Disposed { issue, .. }
        | RunEvent::Broken { issue, .. }
        | RunEvent::Interrupted { issue, .. }
        | RunEvent::ClaimLost { issue, .. }
        | RunEvent::Parked { issue, .. }
        | RunEvent::StuckStopped { issue, .. }
        | RunEvent::ForceReset { issue, .. } => Some(*issue),
        RunEvent::RateLimited { .. }
        | RunEvent::TrainDeparted { .. }
        | RunEvent::DependencyCycle { .. }
        | RunEvent::ClaimingPaused { .. }
        | RunEvent::ClaimingResumed
        | RunEvent::BudgetReached { .. }
        | RunEvent::BudgetRenewed { .. } => None,
    }
}
