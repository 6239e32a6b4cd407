//! The JSON shapes of Actions' objects (workflows, runs, jobs, artifacts), with every field
//! the OpenAPI description requires.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::render::{html_repo_url, repo_url, repository, user};
use crate::server::App;
use crate::state::State;

use super::workflows::{self, Workflow};
use super::{Artifact, Job, WorkflowRun};

/// The days GitHub keeps an artifact by default.
const ARTIFACT_RETENTION_DAYS: i64 = 90;

pub fn workflow(app: &App, workflow: &Workflow, default_branch: &str) -> Value {
    let html = html_repo_url(app);
    let file = workflow.path.rsplit('/').next().unwrap_or_default();
    json!({
        "id": workflow.id,
        "node_id": format!("W_fake{}", workflow.id),
        "name": workflow.definition.name,
        "path": workflow.path,
        "state": if workflow.disabled { "disabled_manually" } else { "active" },
        "created_at": workflow.created_at,
        "updated_at": workflow.created_at,
        "url": format!("{}/actions/workflows/{}", repo_url(app), workflow.id),
        "html_url": format!("{html}/blob/{default_branch}/{}", workflow.path),
        "badge_url": format!("{html}/workflows/{file}/badge.svg"),
    })
}

/// A run, with the repository as `repository` and `head_repository` (it is no fork).
pub fn run(app: &App, state: &State, run: &WorkflowRun, default_branch: &str) -> Value {
    let api = repo_url(app);
    let url = format!("{api}/actions/runs/{}", run.id);
    let commit = &run.head_commit;
    let repository = repository(app, state, default_branch);
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": format!("WFR_fake{}", run.id),
        "check_suite_id": run.id,
        "check_suite_node_id": format!("CS_fake{}", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status.as_str(),
        "conclusion": run.conclusion.map(|outcome| outcome.as_str()),
        "workflow_id": run.workflow_id,
        "url": url,
        "html_url": format!("{}/actions/runs/{}", html_repo_url(app), run.id),
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "run_started_at": run.created_at,
        "actor": user(app, &run.actor),
        "triggering_actor": user(app, &run.actor),
        "referenced_workflows": [],
        "jobs_url": format!("{url}/jobs"),
        "logs_url": format!("{url}/logs"),
        "check_suite_url": format!("{api}/check-suites/{}", run.id),
        "artifacts_url": format!("{url}/artifacts"),
        "cancel_url": format!("{url}/cancel"),
        "rerun_url": format!("{url}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{api}/actions/workflows/{}", run.workflow_id),
        "head_commit": {
            "id": commit.sha,
            "tree_id": commit.tree,
            "message": commit.message,
            "timestamp": commit.committer.2,
            "author": { "name": commit.author.0, "email": commit.author.1 },
            "committer": { "name": commit.committer.0, "email": commit.committer.1 },
        },
        "head_repository_id": repository["id"],
        "repository": repository,
        "head_repository": repository,
    })
}

pub fn job(app: &App, run: &WorkflowRun, job: &Job) -> Value {
    let api = repo_url(app);
    let steps: Vec<Value> = job
        .steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "number": step.number,
                "status": step.status.as_str(),
                "conclusion": step.conclusion.map(|outcome| outcome.as_str()),
                "started_at": step.started_at,
                "completed_at": step.completed_at,
            })
        })
        .collect();
    json!({
        "id": job.id,
        "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": format!("CR_fake{}", job.id),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "workflow_name": run.name,
        "url": format!("{api}/actions/jobs/{}", job.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", html_repo_url(app), run.id, job.id),
        "status": job.status.as_str(),
        "conclusion": job.conclusion.map(|outcome| outcome.as_str()),
        "created_at": job.started_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "name": job.name,
        "steps": steps,
        "check_run_url": format!("{api}/check-runs/{}", job.id),
        "labels": workflows::runs_on(&run.workflow_yaml, &job.name),
        "runner_id": 1,
        "runner_name": "fake-runner",
        "runner_group_id": 1,
        "runner_group_name": "Default",
    })
}

pub fn artifact(app: &App, run: &WorkflowRun, artifact: &Artifact, repository_id: &Value) -> Value {
    let url = format!("{}/actions/artifacts/{}", repo_url(app), artifact.id);
    let expires_at = artifact
        .created_at
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|created| {
            created
                .checked_add(jiff::SignedDuration::from_hours(
                    24 * ARTIFACT_RETENTION_DAYS,
                ))
                .ok()
        })
        .map(|expires| expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    json!({
        "id": artifact.id,
        "node_id": format!("A_fake{}", artifact.id),
        "name": artifact.name,
        "size_in_bytes": artifact.zip.len(),
        "url": url,
        "archive_download_url": format!("{url}/zip"),
        "expired": false,
        "created_at": artifact.created_at,
        "updated_at": artifact.created_at,
        "expires_at": expires_at,
        "digest": format!("sha256:{}", hex::encode(Sha256::digest(&artifact.zip))),
        "workflow_run": {
            "id": run.id,
            "repository_id": repository_id,
            "head_repository_id": repository_id,
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
        },
    })
}
