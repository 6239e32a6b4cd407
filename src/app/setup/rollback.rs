//! `rollback`: the switches that turn a new capability off (or back on) without a release:
//! bundling trains, real agent processes, the lifecycle state machine, GitHub Actions.

use serde::Serialize;

use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{self, GithubActionsConfig};
use crate::ports::actions::{Actions, RunId, RunStatus};
use crate::ports::forge::ForgeError;

/// How many of each workflow's latest runs are looked at for those still in flight.
const RUNS_LOOKED_AT: usize = 100;

/// A capability that can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Off: every landed branch gets a pull request of its own.
    Bundling,
    /// Off: the built-in simulated agent works instead of Claude Code or a command.
    RealAgents,
    /// Off: labels alone manage the agents; the journal is neither read nor written.
    StateMachine,
    /// Off: trains depart and agents work on this machine, whatever the executors say.
    Actions,
}

impl Feature {
    /// The configuration key the switch sets.
    pub fn key(self) -> &'static str {
        match self {
            Self::Bundling => "bundling.enabled",
            Self::RealAgents => "agents.real_processes",
            Self::StateMachine => "state_machine.enabled",
            Self::Actions => "github_actions.enabled",
        }
    }
}

/// What a switch did.
#[derive(Debug, Clone, Serialize)]
pub struct Switched {
    pub feature: Feature,
    pub key: &'static str,
    pub enabled: bool,
    /// False when the key already had that value.
    pub changed: bool,
}

/// Sets `feature`'s key in `clambake.toml` to `enabled`, keeping the file's comments.
pub fn switch(workspace: &Workspace, feature: Feature, enabled: bool) -> AppResult<Switched> {
    let text = workspace
        .read_config_text()?
        .ok_or_else(|| AppError::NotInitialized {
            root: workspace.root.clone(),
        })?;
    let path = workspace.config_path().display().to_string();
    let new_text = config::set_in_text(&path, &text, feature.key(), &enabled.to_string())?;
    let changed = new_text != text;
    if changed {
        workspace.write_config_text(&new_text)?;
    }
    Ok(Switched {
        feature,
        key: feature.key(),
        enabled,
        changed,
    })
}

/// A Clambake workflow run cancelled by switching GitHub Actions off.
#[derive(Debug, Clone, Serialize)]
pub struct CancelledRun {
    pub id: RunId,
    /// Its workflow's file under `.github/workflows/`.
    pub workflow: String,
    pub display_title: String,
    pub url: String,
}

/// Cancels every run of Clambake's workflows (bundling and agent) not completed yet. Their
/// work is kept: a bundling run's train leaves nothing half-made that the next train here does
/// not pick up, an agent run's pushed branch stays on the remote. A workflow that is not
/// installed has no runs.
pub async fn cancel_runs_in_flight(
    actions: &dyn Actions,
    settings: &GithubActionsConfig,
) -> AppResult<Vec<CancelledRun>> {
    let mut cancelled = Vec::new();
    for workflow in [&settings.bundling_workflow, &settings.agent_workflow] {
        let runs = match actions.runs(workflow, RUNS_LOOKED_AT).await {
            Err(ForgeError::NoWorkflow { .. }) => continue,
            listed => listed?,
        };
        for run in runs
            .into_iter()
            .filter(|r| r.status != RunStatus::Completed)
        {
            actions.cancel(run.id).await?;
            cancelled.push(CancelledRun {
                id: run.id,
                workflow: workflow.clone(),
                display_title: run.display_title,
                url: run.html_url,
            });
        }
    }
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::MemoryActions;
    use crate::ports::actions::Conclusion;

    #[tokio::test]
    async fn switching_actions_off_cancels_every_clambake_run_in_flight() {
        let actions = MemoryActions::active();
        let settings = GithubActionsConfig::default();
        let (bundling, agent) = (&settings.bundling_workflow, &settings.agent_workflow);
        actions.add(1, bundling, RunStatus::Completed);
        actions.add(2, bundling, RunStatus::InProgress);
        actions.add(3, agent, RunStatus::Queued);
        actions.add(4, agent, RunStatus::Completed);
        actions.add(5, "someone-elses.yml", RunStatus::InProgress);
        actions.set(4, RunStatus::Completed, Some(Conclusion::Success));

        let cancelled = cancel_runs_in_flight(&actions, &settings).await.unwrap();

        let ids: Vec<(RunId, &str)> = cancelled
            .iter()
            .map(|run| (run.id, run.workflow.as_str()))
            .collect();
        assert_eq!(ids, [(2, bundling.as_str()), (3, agent.as_str())]);
        assert_eq!(*actions.cancelled.lock().unwrap(), [2, 3]);
    }
}
