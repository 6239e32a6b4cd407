//! What `run`'s live view shows, gathered once a redraw: the loop's busy slots with each agent's
//! telemetry from its log, the queue by stage and the next train as the loop last read them,
//! and the latest events.

use crate::core::queue::holds::Pause;
use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::monitor::{AgentState, list_agents};
use crate::app::agents::simulated_work::agents_are_simulated;
use crate::app::run::orchestrator::{BudgetView, Progress, QueueCounts, RunEvent};
use crate::app::{AppResult, Workspace};
use crate::core::config::Config;
use crate::core::trains::schedule::Departure;

/// How a slot's agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Claimed, but no agent process is registered (yet, or ever for the simulated agent).
    Starting,
    Running,
    /// Its process is gone; the loop is about to judge the attempt.
    Exited,
}

/// One busy slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveAgent {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    /// The agent's own process, once it has one.
    pub pid: Option<u32>,
    pub state: LiveState,
    pub elapsed_seconds: i64,
    /// When the agent last wrote to its log.
    pub last_activity: Option<Timestamp>,
    pub turns: u32,
    /// What the agent reported it has cost so far (Claude Code: once its result arrives).
    pub cost_usd: Option<f64>,
    /// Input and output tokens so far: what the stream tells while the cost is not known.
    pub tokens: u64,
}

/// One frame of the live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSnapshot {
    pub at: Timestamp,
    pub agents: Vec<LiveAgent>,
    /// The open issues by stage, as the loop's last pass read them; `None` until it has.
    pub queue: Option<QueueCounts>,
    pub bundling: bool,
    /// When the next train leaves, as the loop's last train decided; `None` until it has.
    pub next_train: Option<Departure>,
    /// The latest events, oldest first.
    pub recent: Vec<RunEvent>,
    /// Only the simulated agent works: nobody really works on the issues.
    pub agents_simulated: bool,
    /// While the loop waits out the forge's rate limit: when it resumes.
    pub rate_limited_until: Option<Timestamp>,
    /// Why no new issue is claimed.
    pub claiming_paused: Option<Pause>,
    /// Ready issues held back for their open blockers.
    pub waiting_on_blockers: usize,
    /// Today's spending against the day's budget, and a spent budget holding claiming.
    pub budget: BudgetView,
}

/// Builds snapshots from the loop's progress and the agents' logs, which are local and cheap:
/// what the forge says comes from the loop's last pass, so the view costs no request.
pub struct LiveSampler {
    workspace: Workspace,
    config: Config,
}

impl LiveSampler {
    pub fn open(workspace: &Workspace) -> AppResult<Self> {
        Ok(Self {
            workspace: workspace.clone(),
            config: workspace.load_config()?.config,
        })
    }

    /// The view of the loop's `progress` at `now`.
    pub async fn sample(&self, progress: &Progress, now: Timestamp) -> AppResult<LiveSnapshot> {
        let registered = list_agents(&self.workspace, now).await?;
        let agents = progress
            .slots
            .iter()
            .map(|slot| {
                let status = registered
                    .iter()
                    .find(|s| s.agent == slot.agent && s.issue == slot.issue);
                LiveAgent {
                    agent: slot.agent.clone(),
                    issue: slot.issue,
                    attempt: slot.attempt,
                    pid: status.map(|s| s.pid),
                    state: match status.map(|s| s.state) {
                        None => LiveState::Starting,
                        Some(AgentState::Running) => LiveState::Running,
                        Some(AgentState::Exited) => LiveState::Exited,
                    },
                    elapsed_seconds: now.duration_since(slot.started).as_secs().max(0),
                    last_activity: status.and_then(|s| s.last_activity),
                    turns: status.map_or(0, |s| s.turns),
                    cost_usd: status.and_then(|s| s.cost_usd),
                    tokens: status.map_or(0, |s| s.usage.input_tokens + s.usage.output_tokens),
                }
            })
            .collect();
        Ok(LiveSnapshot {
            at: now,
            agents,
            queue: progress.queue,
            bundling: self.config.bundling.enabled,
            next_train: progress.next_train,
            recent: progress.recent.clone(),
            agents_simulated: agents_are_simulated(&self.config.agents),
            rate_limited_until: progress.rate_limited_until,
            claiming_paused: progress.claiming_paused,
            waiting_on_blockers: progress.waiting_on_blockers,
            budget: progress.budget,
        })
    }
}
