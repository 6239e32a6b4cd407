//! `actions status`: the recent runs of Clambake's workflows, newest first.

use jiff::Timestamp;
use serde::Serialize;

use super::{clambake_workflows, require_github};
use crate::app::{AppResult, Workspace, compose};
use crate::ports::actions::{RunStatus, WorkflowRun};
use crate::ports::forge::ForgeError;

/// One run, with its workflow's file and how long it ran (or has been running).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub workflow: String,
    #[serde(flatten)]
    pub run: WorkflowRun,
    /// When it started running, or was created if it has not started.
    pub started_at: Timestamp,
    /// From its start to its end, or to now while it runs.
    pub duration_seconds: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionsStatus {
    pub runs: Vec<RunReport>,
    /// Clambake's workflows the repository does not have.
    pub missing_workflows: Vec<String>,
}

/// The latest `limit` runs of each of Clambake's workflows, together newest first; a
/// workflow the repository lacks is reported, not an error.
pub async fn status(workspace: &Workspace, limit: usize) -> AppResult<ActionsStatus> {
    let config = workspace.load_config()?.config;
    require_github(&config)?;
    let actions = workspace.open_actions().await?;
    let now = compose::clock().now();
    let mut runs = Vec::new();
    let mut missing_workflows = Vec::new();
    for file in clambake_workflows(&config) {
        match actions.runs(file, limit).await {
            Ok(found) => runs.extend(found.into_iter().map(|run| report(file, run, now))),
            Err(ForgeError::NoWorkflow { file }) => missing_workflows.push(file),
            Err(error) => return Err(error.into()),
        }
    }
    runs.sort_by_key(|report| std::cmp::Reverse((report.run.created_at, report.run.id)));
    Ok(ActionsStatus {
        runs,
        missing_workflows,
    })
}

fn report(file: &str, run: WorkflowRun, now: Timestamp) -> RunReport {
    let started_at = run.run_started_at.unwrap_or(run.created_at);
    let end = if run.status == RunStatus::Completed {
        run.updated_at
    } else {
        now
    };
    RunReport {
        workflow: file.to_owned(),
        started_at,
        duration_seconds: end.duration_since(started_at).as_secs().max(0),
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: RunStatus, started: Option<&str>) -> WorkflowRun {
        WorkflowRun {
            id: 1,
            name: "Clambake bundling".to_owned(),
            display_title: "k".to_owned(),
            path: ".github/workflows/clambake-bundling.yml".to_owned(),
            event: "schedule".to_owned(),
            status,
            conclusion: None,
            head_branch: Some("main".to_owned()),
            head_sha: "abc".to_owned(),
            created_at: "2026-12-01T18:00:00Z".parse().unwrap(),
            run_started_at: started.map(|s| s.parse().unwrap()),
            updated_at: "2026-12-01T18:03:00Z".parse().unwrap(),
            html_url: "https://h/runs/1".to_owned(),
        }
    }

    #[test]
    fn a_run_lasts_from_its_start_to_its_end_or_to_now() {
        let now: Timestamp = "2026-12-01T18:10:00Z".parse().unwrap();
        let done = report(
            "b.yml",
            run(RunStatus::Completed, Some("2026-12-01T18:01:00Z")),
            now,
        );
        assert_eq!(done.duration_seconds, 120);
        let going = report("b.yml", run(RunStatus::InProgress, None), now);
        assert_eq!(going.duration_seconds, 600);
        assert_eq!(going.started_at, going.run.created_at);
    }
}
