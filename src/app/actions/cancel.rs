//! `actions cancel`: asks GitHub to cancel a run of one of Clambake's workflows.

use serde::Serialize;

use super::{clambake_workflows, require_github, workflow_file};
use crate::app::{AppError, AppResult, Workspace};
use crate::ports::actions::{RunId, RunStatus, WorkflowRun};

#[derive(Debug, Clone, Serialize)]
pub struct Cancelled {
    /// The run as it stood when cancelling was asked.
    pub run: WorkflowRun,
    /// It had completed already: nothing was asked of GitHub.
    pub already_completed: bool,
}

/// Cancels run `id`, refused unless it runs one of Clambake's workflows.
pub async fn cancel(workspace: &Workspace, id: RunId) -> AppResult<Cancelled> {
    let config = workspace.load_config()?.config;
    require_github(&config)?;
    let actions = workspace.open_actions().await?;
    let run = actions.run(id).await?;
    let workflows = clambake_workflows(&config);
    if !workflows.contains(&workflow_file(&run.path)) {
        return Err(AppError::NotClambakeRun {
            id,
            path: run.path,
            workflows: workflows.join(", "),
        });
    }
    let already_completed = run.status == RunStatus::Completed;
    if !already_completed {
        actions.cancel(id).await?;
    }
    Ok(Cancelled {
        run,
        already_completed,
    })
}
