//! Creating runs: the dispatch endpoint with GitHub's refusals, the scheduler's runs, and the
//! hand-over of each new run to the configured [`crate::runner_contract::Runner`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, parse_body};
use crate::runner_contract::{Outcome, RunSpec};
use crate::server::App;
use crate::state::timestamp;

use super::events::Recorder;
use super::workflows::{self, Workflow};
use super::{RunStatus, WorkflowRun};

#[derive(Debug, Deserialize)]
struct DispatchRequest {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
    #[serde(default)]
    return_run_details: bool,
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    Path((_, _, workflow_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DispatchRequest = parse_body(&body)?;
    let workflow = workflows::find(&app, &workflow_id).await?;
    if workflow.disabled {
        return Err(unprocessable(
            "Cannot trigger a 'workflow_dispatch' on a disabled workflow".to_string(),
        ));
    }
    let (branch, sha) = resolve_ref(&app, &request.git_ref)
        .await?
        .ok_or_else(|| unprocessable(format!("No ref found for: {}", request.git_ref)))?;
    let yaml = app
        .repo
        .file_at(&sha, &workflow.path)
        .await?
        .unwrap_or_default();
    let definition = workflows::Definition::parse(&workflow.path, &yaml);
    let declared = definition.dispatch_inputs.clone().ok_or_else(|| {
        unprocessable("Workflow does not have 'workflow_dispatch' trigger".to_string())
    })?;
    let unexpected: Vec<&String> = request
        .inputs
        .keys()
        .filter(|name| !declared.contains_key(*name))
        .collect();
    if !unexpected.is_empty() {
        let listed: Vec<String> = unexpected.iter().map(|name| format!("{name:?}")).collect();
        let listed = listed.join(", ");
        return Err(unprocessable(format!(
            "Unexpected inputs provided: [{listed}]"
        )));
    }
    for (name, value) in &request.inputs {
        let input = &declared[name];
        let text = value
            .as_str()
            .map(str::to_string)
            .unwrap_or(value.to_string());
        if input.kind == "choice" && !input.options.contains(&text) {
            return Err(unprocessable(format!(
                "Provided value '{text}' for input '{name}' not in the list of allowed values"
            )));
        }
    }
    let mut inputs = request.inputs;
    for (name, input) in &declared {
        match (inputs.contains_key(name), &input.default) {
            (true, _) => {}
            (false, Some(default)) => {
                inputs.insert(name.clone(), default.clone());
            }
            (false, None) if input.required => {
                return Err(unprocessable(format!(
                    "Required input '{name}' not provided"
                )));
            }
            (false, None) => {}
        }
    }
    let run = NewRun {
        workflow: Workflow {
            definition,
            ..workflow
        },
        yaml,
        event: "workflow_dispatch",
        branch,
        sha,
        inputs,
    };
    let id = create(&app, run).await?;
    let without_details = app.actions.lock().dispatch_without_details;
    if !request.return_run_details || without_details {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let run_url = format!("{}/actions/runs/{id}", crate::render::repo_url(&app));
    let html_url = format!("{}/actions/runs/{id}", crate::render::html_repo_url(&app));
    Ok(
        Json(json!({ "workflow_run_id": id, "run_url": run_url, "html_url": html_url }))
            .into_response(),
    )
}

/// The branch (or tag) a dispatch's `ref` names and its commit, if it names one.
async fn resolve_ref(app: &App, git_ref: &str) -> Result<Option<(String, String)>, ApiError> {
    let short = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref);
    for full in [format!("refs/heads/{short}"), format!("refs/tags/{short}")] {
        if let Some(sha) = app.repo.commit(&full).await? {
            return Ok(Some((short.to_string(), sha)));
        }
    }
    Ok(None)
}

/// A run about to be created.
struct NewRun {
    workflow: Workflow,
    /// The workflow file at `sha`.
    yaml: String,
    event: &'static str,
    branch: String,
    sha: String,
    inputs: BTreeMap<String, Value>,
}

/// Creates the run, queued, and hands it to the runner if there is one (else it stays queued
/// for ever, as on a repository whose runners never come). Returns its id.
async fn create(app: &Arc<App>, new: NewRun) -> Result<u64, ApiError> {
    let head_commit = app
        .repo
        .log(&["-1", &new.sha])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("the dispatched commit has no log"))?;
    let now = timestamp();
    let actor = app.options.login.clone();
    let (id, runner, spec) = {
        let mut store = app.actions.lock();
        let id = store.next_id + 1;
        let run_number = store
            .run_numbers
            .get(&new.workflow.id)
            .copied()
            .unwrap_or(0)
            + 1;
        let spec = RunSpec {
            run_id: id,
            run_number,
            event: new.event.to_string(),
            workflow_path: new.workflow.path.clone(),
            workflow_yaml: new.yaml.clone(),
            git_ref: new.branch.clone(),
            sha: new.sha.clone(),
            inputs: new.inputs.clone(),
            owner: app.options.owner.clone(),
            repo: app.options.repo.clone(),
            bare_repo: app.repo.path().to_path_buf(),
            api_url: app.api_url.clone(),
            token: app.options.token.clone(),
        };
        let display_title = match &new.workflow.definition.run_name {
            Some(run_name) => crate::runner::display_title(&spec, run_name).map_err(|error| {
                unprocessable(format!(
                    "Invalid workflow file {}: {error}",
                    new.workflow.path
                ))
            })?,
            None => new.workflow.definition.name.clone(),
        };
        assert_eq!(store.take_id(), id, "the id just read is the next");
        store.run_numbers.insert(new.workflow.id, run_number);
        let run = WorkflowRun {
            id,
            workflow_id: new.workflow.id,
            path: new.workflow.path.clone(),
            name: new.workflow.definition.name.clone(),
            run_number,
            event: new.event.to_string(),
            status: RunStatus::Queued,
            conclusion: None,
            head_branch: new.branch.clone(),
            head_sha: new.sha.clone(),
            display_title,
            inputs: new.inputs.clone(),
            actor,
            created_at: now.clone(),
            updated_at: now,
            jobs: Vec::new(),
            artifacts: Vec::new(),
            summaries: Vec::new(),
            head_commit,
            workflow_yaml: new.yaml,
        };
        store.runs.insert(id, run);
        (id, store.runner.clone(), spec)
    };
    let Some(runner) = runner else {
        return Ok(id);
    };
    // The runner may report at once: no lock is held while it starts.
    let control: Arc<dyn crate::runner_contract::RunControl> =
        Arc::from(runner.start(spec, Arc::new(Recorder::new(&app.actions))));
    let cancelled_meanwhile = {
        let mut store = app.actions.lock();
        match store.runs.get(&id) {
            Some(run) if run.status == RunStatus::Completed => {
                run.conclusion == Some(Outcome::Cancelled)
            }
            _ => {
                store.controls.insert(id, control.clone());
                false
            }
        }
    };
    if cancelled_meanwhile {
        control.cancel();
    }
    Ok(id)
}

/// Starts a run of the workflow at `.github/workflows/<file>` on the default branch with
/// event `schedule`, as GitHub's scheduler does; `None` if the workflow is disabled.
/// Panics if there is no such workflow or it has no `schedule` trigger.
pub async fn schedule(app: &Arc<App>, file: &str) -> Option<u64> {
    let workflow = workflows::find(app, file)
        .await
        .unwrap_or_else(|_| panic!("schedule: no workflow {file}"));
    assert!(
        workflow.definition.scheduled,
        "schedule: {file} has no schedule trigger"
    );
    if workflow.disabled {
        return None;
    }
    let branch = app.repo.default_branch().await.expect("a default branch");
    let sha = app
        .repo
        .branch_sha(&branch)
        .await
        .expect("git runs")
        .expect("the default branch has a commit");
    let yaml = app
        .repo
        .file_at(&sha, &workflow.path)
        .await
        .expect("git runs")
        .expect("the workflow is on the default branch");
    let run = NewRun {
        workflow,
        yaml,
        event: "schedule",
        branch,
        sha,
        inputs: BTreeMap::new(),
    };
    Some(create(app, run).await.expect("the run is created"))
}
