//! What the dashboard and `/api/v1/state` show, built by the same code as `clambake status
//! --json` (its `status` part) and `run`'s live view (its `live` part).

use jiff::Timestamp;

use crate::core::budget::{day_start, spent_since};
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
    /// What attempts cost today (UTC): those finished, from the journal, and those running.
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
    let spent_today_usd = spent_today(attempts, &live, now)?;
    Ok(DashboardState {
        status,
        live,
        recent_text,
        spent_today_usd,
    })
}

/// What the attempts that finished since the UTC day began cost, and what those still running
/// report so far (once their result tells it, before they are disposed of).
fn spent_today(attempts: &dyn AttemptLog, live: &LiveSnapshot, now: Timestamp) -> AppResult<f64> {
    let midnight = day_start(now);
    let finished = attempts.finished_since(midnight)?;
    let recorded = spent_since(
        finished.iter().map(|r| (r.finished_at, r.cost_usd)),
        midnight,
    );
    let running: f64 = live
        .agents
        .iter()
        .filter(|a| {
            !finished
                .iter()
                .any(|r| r.issue == a.issue && r.attempt == a.attempt)
        })
        .filter_map(|a| a.cost_usd)
        .sum();
    Ok(recorded + running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::journal::SqliteJournal;
    use crate::app::run::live::{LiveAgent, LiveState};
    use crate::ports::journal::AttemptRecord;

    fn finished(issue: u64, at: &str, cost_usd: f64) -> AttemptRecord {
        AttemptRecord {
            issue,
            attempt: 1,
            agent: "agent001".into(),
            branch: format!("agent001/{issue}-x"),
            outcome: "success".into(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: Some(cost_usd),
            turns: 1,
            log: String::new(),
            finished_at: at.parse().unwrap(),
            runtime: None,
            session_id: None,
        }
    }

    fn running(issue: u64, cost_usd: Option<f64>) -> LiveAgent {
        LiveAgent {
            agent: "agent002".into(),
            issue,
            attempt: 1,
            pid: None,
            state: LiveState::Running,
            elapsed_seconds: 0,
            last_activity: None,
            turns: 1,
            cost_usd,
            tokens: 0,
        }
    }

    #[test]
    fn spend_today_is_the_days_finished_attempts_and_the_running_ones_each_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
        for record in [
            finished(1, "2026-12-01T23:59:59.5Z", 4.0),
            finished(2, "2026-12-02T00:00:00.25Z", 0.25),
            finished(3, "2026-12-02T09:00:00Z", 0.5),
        ] {
            journal.record_attempt(&record).unwrap();
        }
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let live = LiveSnapshot {
            at: now,
            // #3 is disposed of but still shown: its cost is the journal's.
            agents: vec![
                running(3, Some(0.5)),
                running(4, Some(0.125)),
                running(5, None),
            ],
            queue: None,
            bundling: false,
            next_train: None,
            recent: Vec::new(),
            agents_simulated: false,
            rate_limited_until: None,
            claiming_paused: None,
            waiting_on_blockers: 0,
            budget: Default::default(),
        };
        assert_eq!(spent_today(&journal, &live, now).unwrap(), 0.875);
    }
}
