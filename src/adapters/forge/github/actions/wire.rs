//! The parts of GitHub Actions' JSON that the `Actions` port needs, and their translation into
//! its types. Statuses, conclusions and states are read as text: a value GitHub adds later is
//! mapped to the nearest one the port knows (and logged), never a failure to read the answer.

use jiff::Timestamp;
use serde::Deserialize;

use crate::ports::actions::{
    Conclusion, Job, RunId, RunStatus, Step, Workflow, WorkflowRun, WorkflowState,
};

#[derive(Debug, Deserialize)]
pub struct WireWorkflow {
    id: u64,
    name: String,
    path: String,
    state: String,
}

impl From<WireWorkflow> for Workflow {
    fn from(workflow: WireWorkflow) -> Self {
        Self {
            state: workflow_state(&workflow.state),
            id: workflow.id,
            name: workflow.name,
            path: workflow.path,
        }
    }
}

fn workflow_state(state: &str) -> WorkflowState {
    match state {
        "active" => WorkflowState::Active,
        "deleted" => WorkflowState::Deleted,
        "disabled_fork" => WorkflowState::DisabledFork,
        "disabled_inactivity" => WorkflowState::DisabledInactivity,
        "disabled_manually" => WorkflowState::DisabledManually,
        other if other.starts_with("disabled") => {
            tracing::warn!(
                state = other,
                "GitHub named a workflow state Clambake does not know"
            );
            WorkflowState::DisabledManually
        }
        other => {
            tracing::warn!(
                state = other,
                "GitHub named a workflow state Clambake does not know"
            );
            WorkflowState::Active
        }
    }
}

/// What a dispatch asked to return its run's details answers (200).
#[derive(Debug, Deserialize)]
pub struct DispatchDetails {
    pub workflow_run_id: RunId,
}

#[derive(Debug, Deserialize)]
pub struct WireRuns {
    pub workflow_runs: Vec<WireRun>,
}

#[derive(Debug, Deserialize)]
pub struct WireRun {
    pub id: RunId,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    pub display_title: String,
    #[serde(default)]
    path: String,
    event: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    head_sha: String,
    pub created_at: Timestamp,
    #[serde(default)]
    run_started_at: Option<Timestamp>,
    updated_at: Timestamp,
    html_url: String,
}

impl From<WireRun> for WorkflowRun {
    fn from(run: WireRun) -> Self {
        let conclusion = run.conclusion.as_deref().map(conclusion);
        Self {
            id: run.id,
            name: run.name.unwrap_or_default(),
            display_title: run.display_title,
            // A run of a workflow called from elsewhere names it `path@ref`.
            path: run
                .path
                .split_once('@')
                .map_or(run.path.clone(), |(path, _)| path.to_owned()),
            event: run.event,
            status: status(run.status.as_deref(), conclusion),
            conclusion,
            head_branch: run.head_branch,
            head_sha: run.head_sha,
            created_at: run.created_at,
            run_started_at: run.run_started_at,
            updated_at: run.updated_at,
            html_url: run.html_url,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireJobs {
    pub jobs: Vec<WireJob>,
}

#[derive(Debug, Deserialize)]
pub struct WireJob {
    id: u64,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
    #[serde(default)]
    steps: Option<Vec<WireStep>>,
}

impl From<WireJob> for Job {
    fn from(job: WireJob) -> Self {
        let conclusion = job.conclusion.as_deref().map(conclusion);
        Self {
            id: job.id,
            name: job.name,
            status: status(job.status.as_deref(), conclusion),
            conclusion,
            started_at: job.started_at,
            completed_at: job.completed_at,
            steps: job
                .steps
                .unwrap_or_default()
                .into_iter()
                .map(Step::from)
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireStep {
    number: u32,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
}

impl From<WireStep> for Step {
    fn from(step: WireStep) -> Self {
        let conclusion = step.conclusion.as_deref().map(conclusion);
        Self {
            number: step.number,
            name: step.name,
            status: status(step.status.as_deref(), conclusion),
            conclusion,
            started_at: step.started_at,
            completed_at: step.completed_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireArtifacts {
    pub artifacts: Vec<WireArtifact>,
}

#[derive(Debug, Deserialize)]
pub struct WireArtifact {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub expired: bool,
    pub archive_download_url: String,
}

/// GitHub's `status`. One it does not name is read from the conclusion: with one the run is
/// done, without one it is taken as still going.
fn status(status: Option<&str>, conclusion: Option<Conclusion>) -> RunStatus {
    match status {
        Some("requested") => RunStatus::Requested,
        Some("queued") => RunStatus::Queued,
        Some("pending") => RunStatus::Pending,
        Some("waiting") => RunStatus::Waiting,
        Some("in_progress") => RunStatus::InProgress,
        Some("completed") => RunStatus::Completed,
        other => {
            if let Some(other) = other {
                tracing::warn!(
                    status = other,
                    "GitHub named a run status Clambake does not know"
                );
            }
            if conclusion.is_some() {
                RunStatus::Completed
            } else {
                RunStatus::InProgress
            }
        }
    }
}

/// GitHub's `conclusion`; one it does not name is taken as neither success nor failure.
fn conclusion(conclusion: &str) -> Conclusion {
    match conclusion {
        "success" => Conclusion::Success,
        "failure" => Conclusion::Failure,
        "cancelled" => Conclusion::Cancelled,
        "skipped" => Conclusion::Skipped,
        "timed_out" => Conclusion::TimedOut,
        "action_required" => Conclusion::ActionRequired,
        "neutral" => Conclusion::Neutral,
        "stale" => Conclusion::Stale,
        "startup_failure" => Conclusion::StartupFailure,
        other => {
            tracing::warn!(
                conclusion = other,
                "GitHub named a conclusion Clambake does not know"
            );
            Conclusion::Neutral
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, conclusion: &str) -> WorkflowRun {
        let json = format!(
            r#"{{"id": 7, "name": "Clambake bundling", "display_title": "Bundle key-1",
                "path": ".github/workflows/clambake-bundling.yml@refs/heads/main",
                "event": "workflow_dispatch", "status": {status}, "conclusion": {conclusion},
                "head_branch": "main", "head_sha": "abc", "created_at": "2026-12-01T18:00:00Z",
                "updated_at": "2026-12-01T18:01:00Z", "html_url": "https://h/r/actions/runs/7"}}"#
        );
        serde_json::from_str::<WireRun>(&json).unwrap().into()
    }

    #[test]
    fn runs_read_as_github_writes_them() {
        let done = run("\"completed\"", "\"success\"");
        assert_eq!(done.status, RunStatus::Completed);
        assert_eq!(done.conclusion, Some(Conclusion::Success));
        assert_eq!(done.path, ".github/workflows/clambake-bundling.yml");
        assert_eq!(done.run_started_at, None);
        let queued = run("\"queued\"", "null");
        assert_eq!(
            (queued.status, queued.conclusion),
            (RunStatus::Queued, None)
        );
    }

    #[test]
    fn statuses_and_conclusions_github_adds_later_are_read_not_refused() {
        let ended = run("\"finished_somehow\"", "\"exploded\"");
        assert_eq!(ended.status, RunStatus::Completed);
        assert_eq!(ended.conclusion, Some(Conclusion::Neutral));
        let going = run("\"thinking\"", "null");
        assert_eq!(
            (going.status, going.conclusion),
            (RunStatus::InProgress, None)
        );
        let silent = run("null", "null");
        assert_eq!(silent.status, RunStatus::InProgress);
        assert_eq!(
            workflow_state("disabled_by_policy"),
            WorkflowState::DisabledManually
        );
        assert_eq!(workflow_state("active"), WorkflowState::Active);
    }
}
