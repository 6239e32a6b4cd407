//! What `run`'s live view shows, gathered once a redraw: the loop's busy slots with each agent's
//! telemetry from its log, the queue by stage, the next train, and the latest events.

use crate::app::agents::simulated_work::agents_are_simulated;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::monitor::{AgentState, list_agents};
use crate::app::lifecycle::transitions::open_journal;
use crate::app::run::orchestrator::{Progress, RunEvent};
use crate::app::trains::bundle::Bundler;
use crate::app::{AppResult, Workspace};
use crate::core::config::Config;
use crate::core::queue::standing::{Stage, stage};
use crate::core::trains::schedule::Departure;
use crate::ports::Forge;
use crate::ports::forge::IssueFilter;
use crate::ports::journal::Journal;

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
    /// Known once the agent's final result reports it.
    pub cost_usd: Option<f64>,
    /// Input and output tokens so far: what the stream tells while the cost is not known.
    pub tokens: u64,
}

/// Open issues by the stages work moves through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub ready: usize,
    pub claimed: usize,
    pub review: usize,
    pub bundled: usize,
    pub failed: usize,
}

impl QueueCounts {
    /// Counts open issues by the stage their labels put them in.
    pub fn tally<'a>(issues: impl IntoIterator<Item = &'a [String]>) -> Self {
        let mut counts = Self::default();
        for labels in issues {
            match stage(labels.iter().map(String::as_str)) {
                Stage::Ready => counts.ready += 1,
                Stage::Claimed => counts.claimed += 1,
                Stage::Review => counts.review += 1,
                Stage::Bundled => counts.bundled += 1,
                Stage::Failed => counts.failed += 1,
                Stage::HumanOnly | Stage::Untriaged => {}
            }
        }
        counts
    }
}

/// One frame of the live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSnapshot {
    pub at: Timestamp,
    pub agents: Vec<LiveAgent>,
    pub queue: QueueCounts,
    /// When the next train leaves; `None` with bundling off.
    pub next_train: Option<Departure>,
    /// The latest events, oldest first.
    pub recent: Vec<RunEvent>,
    /// Only the simulated agent works: nobody really works on the issues.
    pub agents_simulated: bool,
    /// While the loop waits out the forge's rate limit: when it resumes.
    pub rate_limited_until: Option<Timestamp>,
}

/// Builds snapshots, asking the forge and the trains again only every `forge_every`: the
/// agents' logs are local and cheap, the forge may not be.
pub struct LiveSampler {
    workspace: Workspace,
    config: Config,
    forge: Arc<dyn Forge>,
    forge_every: Duration,
    /// The forge's part of the last snapshot, and when it was read.
    forge_view: Option<(Timestamp, QueueCounts, Option<Departure>)>,
}

impl LiveSampler {
    pub async fn open(workspace: &Workspace, forge_every: Duration) -> AppResult<Self> {
        let config = workspace.load_config()?.config;
        let forge = workspace.open_forge(config.forge.backend).await?;
        Ok(Self {
            workspace: workspace.clone(),
            config,
            forge,
            forge_every,
            forge_view: None,
        })
    }

    /// Makes the next sample read the forge again, however recently it did.
    pub fn invalidate(&mut self) {
        self.forge_view = None;
    }

    /// The view of the loop's `progress` at `now`.
    pub async fn sample(&mut self, progress: &Progress, now: Timestamp) -> AppResult<LiveSnapshot> {
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
        let (queue, next_train) = self.forge_view(now).await?;
        Ok(LiveSnapshot {
            at: now,
            agents,
            queue,
            next_train,
            recent: progress.recent.clone(),
            agents_simulated: agents_are_simulated(&self.config.agents),
            rate_limited_until: progress.rate_limited_until,
        })
    }

    async fn forge_view(&mut self, now: Timestamp) -> AppResult<(QueueCounts, Option<Departure>)> {
        if let Some((read, queue, train)) = self.forge_view
            && Duration::try_from(now.duration_since(read)).is_ok_and(|age| age < self.forge_every)
        {
            return Ok((queue, train));
        }
        let open = self.forge.issues(&IssueFilter::open()).await?;
        let queue = QueueCounts::tally(open.iter().map(|i| i.labels.as_slice()));
        let train = self.next_train(now).await?;
        self.forge_view = Some((now, queue, train));
        Ok((queue, train))
    }

    async fn next_train(&self, now: Timestamp) -> AppResult<Option<Departure>> {
        if !self.config.bundling.enabled {
            return Ok(None);
        }
        let journal = open_journal(&self.workspace)?;
        let bundler = Bundler {
            git: self.workspace.repository(),
            forge: self.forge.as_ref(),
            config: &self.config.bundling,
            journal: self
                .config
                .state_machine
                .enabled
                .then_some(&journal as &dyn Journal),
            train_log: &journal,
            state_dir: self.workspace.state_dir(),
        };
        Ok(Some(bundler.status(now).await?.next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_queue_counts_each_open_issue_at_its_furthest_stage() {
        let issues = [
            labels(&["route:ready"]),
            labels(&["route:ready", "route:priority-high"]),
            labels(&["agent001"]),
            labels(&["route:ready", "agent002"]),
            labels(&["route:review"]),
            labels(&["route:bundled"]),
            labels(&["route:failed"]),
            labels(&["human-only", "route:ready"]),
            labels(&[]),
        ];
        let counts = QueueCounts::tally(issues.iter().map(Vec::as_slice));
        assert_eq!(
            counts,
            QueueCounts {
                ready: 2,
                claimed: 2,
                review: 1,
                bundled: 1,
                failed: 1,
            }
        );
    }

    #[test]
    fn an_empty_queue_counts_nothing() {
        assert_eq!(
            QueueCounts::tally(std::iter::empty()),
            QueueCounts::default()
        );
    }
}
