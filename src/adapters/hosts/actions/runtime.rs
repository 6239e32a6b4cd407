//! The agent runtime of remote slots: an attempt starts as a dispatch of the agent workflow on
//! GitHub Actions, whose run (not a process) the host then follows.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::core::agents::remote::{
    INPUT_ATTEMPT, INPUT_BRANCH, INPUT_CLAIM, INPUT_ISSUE, INPUT_SLOT,
};
use crate::ports::actions::{Actions, Dispatch, RunId};
use crate::ports::agent::{
    AgentControl, AgentRuntime, AgentSpec, AgentStartError, RunningAgent, Stray,
};

/// Dispatches attempts to the agent workflow.
pub struct ActionsRuntime {
    pub actions: Arc<dyn Actions>,
    /// `github_actions.agent_workflow`.
    pub workflow: String,
    /// The branch whose workflow file runs: the repository's default branch.
    pub git_ref: String,
    /// The runtime the runner runs (`agents.runtime`), named as local attempts name theirs.
    pub name: &'static str,
    pub reports_result: bool,
}

#[async_trait]
impl AgentRuntime for ActionsRuntime {
    fn name(&self) -> &'static str {
        self.name
    }

    fn reports_result(&self) -> bool {
        self.reports_result
    }

    fn runs_elsewhere(&self) -> bool {
        true
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let inputs = BTreeMap::from([
            (INPUT_ISSUE.to_owned(), spec.issue.to_string()),
            (INPUT_SLOT.to_owned(), spec.agent.clone()),
            (INPUT_BRANCH.to_owned(), spec.branch.clone()),
            (INPUT_ATTEMPT.to_owned(), spec.attempt.to_string()),
            (
                INPUT_CLAIM.to_owned(),
                spec.claim.clone().unwrap_or_default(),
            ),
        ]);
        // The dispatch key names the attempt, then a nonce: a run with this attempt's prefix
        // was dispatched by an orchestrator killed before it could register it.
        let attempt_key = format!("{}-{}-{}-", spec.agent, spec.issue, spec.attempt);
        if let Some(run) = self.dispatched_before(&attempt_key).await {
            tracing::info!(agent = %spec.agent, issue = spec.issue, run, "taking up the run an earlier dispatch of this attempt started");
            return Ok(self.running(run));
        }
        let dispatch = Dispatch {
            workflow: self.workflow.clone(),
            git_ref: self.git_ref.clone(),
            inputs,
            key: format!("{attempt_key}{:08x}", rand::random::<u32>()),
        };
        let run =
            self.actions
                .dispatch(&dispatch)
                .await
                .map_err(|source| AgentStartError::Dispatch {
                    workflow: self.workflow.clone(),
                    source,
                })?;
        tracing::info!(agent = %spec.agent, issue = spec.issue, run, "dispatched the attempt to GitHub Actions");
        Ok(self.running(run))
    }
}

/// How many of the agent workflow's latest runs are looked through for an earlier dispatch.
const EARLIER_RUNS: usize = 30;

impl ActionsRuntime {
    /// The run among the agent workflow's latest whose name carries `attempt_key`, if any.
    async fn dispatched_before(&self, attempt_key: &str) -> Option<RunId> {
        match self.actions.runs(&self.workflow, EARLIER_RUNS).await {
            Ok(runs) => runs
                .into_iter()
                .find(|run| run.display_title.contains(attempt_key))
                .map(|run| run.id),
            Err(error) => {
                tracing::warn!(%error, "could not list the agent workflow's runs");
                None
            }
        }
    }

    fn running(&self, run: RunId) -> RunningAgent {
        RunningAgent {
            pid: None,
            run: Some(run),
            output: mpsc::channel(1).1,
            exit: oneshot::channel().1,
            control: Box::new(CancelRun {
                actions: self.actions.clone(),
                run,
            }),
            containment: None,
        }
    }
}

/// Stopping a run: asking GitHub to cancel it. Nothing of it runs here to clean up.
struct CancelRun {
    actions: Arc<dyn Actions>,
    run: RunId,
}

impl CancelRun {
    fn cancel(&self) {
        let (actions, run) = (self.actions.clone(), self.run);
        tokio::spawn(async move {
            if let Err(error) = actions.cancel(run).await {
                tracing::warn!(run, %error, "could not cancel the agent's run");
            }
        });
    }
}

#[async_trait]
impl AgentControl for CancelRun {
    fn interrupt(&self) {
        self.cancel();
    }

    fn kill(&self) {
        self.cancel();
    }

    async fn clean_up(&self) -> Vec<Stray> {
        Vec::new()
    }
}
