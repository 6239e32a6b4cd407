//! `actions logs`: each job's log of a completed run.

use crate::app::{AppError, AppResult, Workspace};
use crate::ports::actions::{JobLog, RunId, RunStatus, WorkflowRun};

/// The run and each of its jobs' logs; refused while the run has not completed, as GitHub
/// keeps no logs archive of it before.
pub async fn logs(workspace: &Workspace, id: RunId) -> AppResult<(WorkflowRun, Vec<JobLog>)> {
    let actions = workspace.open_actions().await?;
    let run = actions.run(id).await?;
    if run.status != RunStatus::Completed {
        return Err(AppError::RunNotCompleted {
            id,
            status: run.status.as_str().replace('_', " "),
        });
    }
    let logs = actions.logs(id).await?;
    Ok((run, logs))
}
