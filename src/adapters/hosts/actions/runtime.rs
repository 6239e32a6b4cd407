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
        let dispatch = Dispatch {
            workflow: self.workflow.clone(),
            git_ref: self.git_ref.clone(),
            inputs,
            key: format!(
                "{}-{}-{}-{:08x}",
                spec.agent,
                spec.issue,
                spec.attempt,
                rand::random::<u32>()
            ),
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
        Ok(RunningAgent {
            pid: None,
            run: Some(run),
            output: mpsc::channel(1).1,
            exit: oneshot::channel().1,
            control: Box::new(CancelRun {
                actions: self.actions.clone(),
                run,
            }),
            containment: None,
        })
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
