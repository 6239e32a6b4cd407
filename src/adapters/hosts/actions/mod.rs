//! The agent host of a workspace whose slots may run on GitHub Actions: an attempt there is a
//! workflow run, named by its run id, followed by polling (its status every poll, its jobs only
//! while it runs, its artifact once at the end); processes of this machine are its
//! [`LocalHost`]'s. Both share one registry, `.clambake/agents.db`, where what was last seen of
//! each run is kept too, so that every Clambake process answers alike.

mod artifact;
mod follow;
pub mod runtime;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::{OnceCell, oneshot};

use crate::adapters::hosts::local::LocalHost;
use crate::adapters::hosts::local::registry::SqliteAgentRegistry;
use crate::ports::actions::{Actions, RunId, RunStatus};
use crate::ports::agent::RunningAgent;
use crate::ports::agent_host::{
    AgentHandle, AgentHost, AttemptReport, EventWindow, Limits, RunProgress, Said, Stopped,
};
use crate::ports::agent_registry::{RegisteredAgent, RegistryError};
use follow::{Follower, dispatched, observe};

/// How runs are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSettings {
    /// Between two polls of a run's status.
    pub poll: Duration,
    /// `github_actions.workflow_timeout_minutes`.
    pub workflow_timeout: Duration,
}

/// Reaches GitHub Actions, or says why it cannot (no token, another forge).
pub type Connect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<dyn Actions>, String>> + Send>>
        + Send
        + Sync,
>;

/// Agents on GitHub Actions runners, and (through its [`LocalHost`]) on this machine.
pub struct ActionsHost {
    local: LocalHost,
    registry: SqliteAgentRegistry,
    /// Called once, the first time a run must be asked about: most uses of a host (a local
    /// attempt, `agent list`) never reach GitHub. Where it cannot be reached, runs are known
    /// only as last seen.
    connect: Connect,
    actions: OnceCell<Result<Arc<dyn Actions>, String>>,
    settings: FollowSettings,
}

impl ActionsHost {
    /// The host whose registry is the file `registry` (created if missing), reaching GitHub
    /// Actions through `connect` when it must.
    pub fn open(
        registry: &Path,
        connect: Connect,
        settings: FollowSettings,
    ) -> Result<Self, RegistryError> {
        Ok(Self {
            local: LocalHost::open(registry)?,
            registry: SqliteAgentRegistry::open(registry)?,
            connect,
            actions: OnceCell::new(),
            settings,
        })
    }

    fn seen(&self, run_id: RunId) -> Option<RunProgress> {
        self.registry.run(run_id).unwrap_or_else(|error| {
            tracing::warn!(%error, "could not read what was seen of the agent's run");
            None
        })
    }

    async fn actions(&self) -> std::io::Result<&dyn Actions> {
        let connected = self.actions.get_or_init(|| (self.connect)()).await;
        match connected {
            Ok(actions) => Ok(actions.as_ref()),
            Err(why) => Err(std::io::Error::other(format!(
                "the attempt runs on GitHub Actions, which this workspace cannot reach: {why}"
            ))),
        }
    }

    fn follower<'a>(&'a self, actions: &'a dyn Actions) -> Follower<'a> {
        Follower {
            actions,
            registry: &self.registry,
            poll: self.settings.poll,
            workflow_timeout: self.settings.workflow_timeout,
        }
    }

    /// Follows `agent`'s run to its end and reads what it left.
    async fn follow(
        &self,
        agent: &RegisteredAgent,
        run_id: RunId,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport> {
        let actions = self.actions().await?;
        let follower = self.follower(actions);
        let mut followed = follower.follow(agent, run_id, limits, stop).await?;
        let report = artifact::report(actions, agent, &mut followed).await;
        follower.record(&followed.progress);
        report
    }
}

#[async_trait]
impl AgentHost for ActionsHost {
    fn handle(&self, running: &RunningAgent) -> Option<AgentHandle> {
        match running.run {
            Some(run_id) => Some(AgentHandle::Actions { run_id }),
            None => self.local.handle(running),
        }
    }

    fn register(&self, agent: &RegisteredAgent) -> Result<(), RegistryError> {
        if let AgentHandle::Actions { run_id } = agent.handle
            && self.registry.run(run_id)?.is_none()
        {
            self.registry.record_run(&dispatched(run_id))?;
        }
        self.local.register(agent)
    }

    fn forget(&self, slot: &str) -> Result<(), RegistryError> {
        self.local.forget(slot)
    }

    fn list(&self) -> Result<Vec<RegisteredAgent>, RegistryError> {
        self.local.list()
    }

    fn is_alive(&self, handle: &AgentHandle) -> bool {
        match *handle {
            // Not seen yet: just dispatched.
            AgentHandle::Actions { run_id } => self
                .seen(run_id)
                .is_none_or(|seen| seen.status != RunStatus::Completed),
            AgentHandle::Local { .. } => self.local.is_alive(handle),
        }
    }

    fn pid(&self, handle: &AgentHandle) -> u32 {
        match handle {
            AgentHandle::Actions { .. } => 0,
            AgentHandle::Local { .. } => self.local.pid(handle),
        }
    }

    fn last_activity(&self, agent: &RegisteredAgent) -> Option<Timestamp> {
        match agent.handle {
            AgentHandle::Actions { run_id } => self
                .seen(run_id)
                .and_then(|seen| seen.last_activity)
                .or(Some(agent.started_at)),
            AgentHandle::Local { .. } => self.local.last_activity(agent),
        }
    }

    fn run_progress(&self, handle: &AgentHandle) -> Option<RunProgress> {
        match *handle {
            AgentHandle::Actions { run_id } => self.seen(run_id),
            AgentHandle::Local { .. } => None,
        }
    }

    async fn refresh(&self, agents: &[RegisteredAgent]) {
        for agent in agents {
            let AgentHandle::Actions { run_id } = agent.handle else {
                continue;
            };
            let mut progress = self.seen(run_id).unwrap_or_else(|| dispatched(run_id));
            // Seen this recently (by its watcher, say): asking again would say the same.
            let fresh = progress.status != RunStatus::Requested
                && Timestamp::now().duration_since(progress.seen_at)
                    < jiff::SignedDuration::try_from(self.settings.poll).unwrap_or_default();
            if fresh || progress.status == RunStatus::Completed {
                continue;
            }
            let Ok(actions) = self.actions().await else {
                return;
            };
            progress.requests += 1;
            match actions.run(run_id).await {
                Ok(run) => observe(&mut progress, &run, None),
                Err(error) => {
                    tracing::warn!(run_id, %error, "could not read the agent's run");
                    continue;
                }
            }
            self.follower(actions).record(&progress);
        }
    }

    async fn said(&self, log: &Path, window: EventWindow) -> std::io::Result<Said> {
        self.local.said(log, window).await
    }

    async fn watch(
        &self,
        running: RunningAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport> {
        let Some(run_id) = running.run else {
            return self.local.watch(running, limits, stop).await;
        };
        let handle = AgentHandle::Actions { run_id };
        let registered = self.list().map_err(std::io::Error::other)?;
        let agent = registered
            .iter()
            .find(|agent| agent.handle == handle)
            .ok_or_else(|| std::io::Error::other(format!("run {run_id} was never registered")))?;
        self.follow(agent, run_id, limits, stop).await
    }

    async fn adopt(
        &self,
        agent: &RegisteredAgent,
        limits: Limits,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<AttemptReport> {
        match agent.handle {
            AgentHandle::Actions { run_id } => {
                tracing::info!(agent = %agent.agent, run_id, "re-adopting a run on GitHub Actions");
                self.follow(agent, run_id, limits, stop).await
            }
            AgentHandle::Local { .. } => self.local.adopt(agent, limits, stop).await,
        }
    }

    async fn stop(&self, agent: &RegisteredAgent, grace: Duration) -> Stopped {
        let AgentHandle::Actions { run_id } = agent.handle else {
            return self.local.stop(agent, grace).await;
        };
        let Ok(actions) = self.actions().await else {
            tracing::warn!(
                run_id,
                "GitHub Actions cannot be reached: the run is not cancelled"
            );
            return Stopped::AlreadyGone;
        };
        let follower = self.follower(actions);
        let mut progress = self.seen(run_id).unwrap_or_else(|| dispatched(run_id));
        progress.requests += 1;
        match actions.run(run_id).await {
            Ok(run) if run.status == RunStatus::Completed => {
                observe(&mut progress, &run, None);
                follower.record(&progress);
                return Stopped::AlreadyGone;
            }
            Ok(run) => observe(&mut progress, &run, None),
            Err(error) => tracing::warn!(run_id, %error, "could not read the agent's run"),
        }
        // GitHub stops the run's steps itself: what it pushed so far stays on the remote.
        follower.cancel(run_id, &mut progress).await;
        Stopped::Gracefully
    }

    async fn stop_unregistered(&self, worktree: &Path, grace: Duration) {
        self.local.stop_unregistered(worktree, grace).await;
    }
}
