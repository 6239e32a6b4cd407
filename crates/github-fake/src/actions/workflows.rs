//! Workflows: the `.github/workflows/*.yml|*.yaml` files on the default branch, read from git
//! on each request (so a pushed file is a workflow at once), what their YAML declares, and
//! the get, enable and disable endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_yaml_ng::Value as Yaml;

use crate::error::ApiError;
use crate::server::App;

use super::render;

/// Where GitHub looks for workflow files.
pub const WORKFLOWS_DIR: &str = ".github/workflows";

/// A workflow file on the default branch.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: u64,
    /// `.github/workflows/<file>`.
    pub path: String,
    pub definition: Definition,
    pub disabled: bool,
    /// When the fake first saw it.
    pub created_at: String,
}

/// What the fake reads from a workflow's YAML.
#[derive(Debug, Clone, Default)]
pub struct Definition {
    /// `name`, or the file's path as GitHub shows a workflow without one.
    pub name: String,
    pub run_name: Option<String>,
    /// `on.workflow_dispatch.inputs`; `None` when it has no `workflow_dispatch` trigger.
    pub dispatch_inputs: Option<BTreeMap<String, Input>>,
    /// It has a `schedule` trigger.
    pub scheduled: bool,
}

/// One `workflow_dispatch` input.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// `string` (the default), `boolean`, `choice`, `number` or `environment`.
    pub kind: String,
    pub required: bool,
    pub default: Option<serde_json::Value>,
    /// A `choice` input's `options`.
    pub options: Vec<String>,
}

impl Definition {
    /// Reads `yaml`; a file that does not parse declares nothing (GitHub shows such a
    /// workflow, named by its path, and runs nothing of it).
    pub fn parse(path: &str, yaml: &str) -> Definition {
        let document: Yaml = serde_yaml_ng::from_str(yaml).unwrap_or(Yaml::Null);
        let text = |key: &str| document.get(key).and_then(Yaml::as_str).map(str::to_string);
        // YAML 1.1 reads a bare `on` as `true`; GitHub means the key.
        let on = document
            .get("on")
            .or_else(|| document.get(Yaml::Bool(true)));
        let trigger = |event: &str| -> Option<Yaml> {
            match on? {
                Yaml::String(only) => (only == event).then_some(Yaml::Null),
                Yaml::Sequence(events) => events
                    .iter()
                    .any(|e| e.as_str() == Some(event))
                    .then_some(Yaml::Null),
                Yaml::Mapping(events) => events.get(event).cloned(),
                _ => None,
            }
        };
        let dispatch_inputs = trigger("workflow_dispatch").map(|dispatch| {
            dispatch
                .get("inputs")
                .and_then(Yaml::as_mapping)
                .into_iter()
                .flatten()
                .filter_map(|(name, input)| Some((name.as_str()?.to_string(), input_of(input))))
                .collect()
        });
        Definition {
            name: text("name").unwrap_or_else(|| path.to_string()),
            run_name: text("run-name"),
            dispatch_inputs,
            scheduled: trigger("schedule").is_some(),
        }
    }
}

fn input_of(input: &Yaml) -> Input {
    let kind = input
        .get("type")
        .and_then(Yaml::as_str)
        .unwrap_or("string")
        .to_string();
    let default = input.get("default").and_then(|default| match default {
        Yaml::Bool(value) => Some(serde_json::Value::Bool(*value)),
        Yaml::Number(number) => serde_json::to_value(number).ok(),
        Yaml::String(text) => Some(serde_json::Value::String(text.clone())),
        _ => None,
    });
    Input {
        kind,
        required: input
            .get("required")
            .and_then(Yaml::as_bool)
            .unwrap_or(false),
        default,
        options: input
            .get("options")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|option| option.as_str().map(str::to_string))
            .collect(),
    }
}

/// The `runs-on` labels of the job that `job` names, by its key or its `name`.
pub fn runs_on(yaml: &str, job: &str) -> Vec<String> {
    let document: Yaml = serde_yaml_ng::from_str(yaml).unwrap_or(Yaml::Null);
    let jobs = document.get("jobs").and_then(Yaml::as_mapping);
    let found = jobs.into_iter().flatten().find(|(key, body)| {
        key.as_str() == Some(job) || body.get("name").and_then(Yaml::as_str) == Some(job)
    });
    match found.and_then(|(_, body)| body.get("runs-on")) {
        Some(Yaml::String(label)) => vec![label.clone()],
        Some(Yaml::Sequence(labels)) => labels
            .iter()
            .filter_map(|label| label.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `path` names a workflow file.
fn is_workflow_file(path: &str) -> bool {
    path.ends_with(".yml") || path.ends_with(".yaml")
}

/// The workflows on the default branch, by path.
pub async fn all(app: &App) -> Result<Vec<Workflow>, ApiError> {
    let branch = app.repo.default_branch().await?;
    let mut files = Vec::new();
    for path in app.repo.files_in(&branch, WORKFLOWS_DIR).await? {
        if is_workflow_file(&path)
            && let Some(yaml) = app.repo.file_at(&branch, &path).await?
        {
            files.push((path, yaml));
        }
    }
    let mut store = app.actions.lock();
    Ok(files
        .into_iter()
        .map(|(path, yaml)| Workflow {
            id: store.workflow_id(&path),
            definition: Definition::parse(&path, &yaml),
            disabled: store.disabled.contains(&path),
            created_at: store.workflows[&path].1.clone(),
            path,
        })
        .collect())
}

/// The workflow a path's `workflow_id` names, its id or its file name, as GitHub takes both.
pub async fn find(app: &App, workflow_id: &str) -> Result<Workflow, ApiError> {
    all(app)
        .await?
        .into_iter()
        .find(|workflow| {
            workflow.id.to_string() == workflow_id
                || workflow.path.rsplit('/').next() == Some(workflow_id)
        })
        .ok_or_else(ApiError::not_found)
}

/// `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}`.
pub async fn get_workflow(
    State(app): State<Arc<App>>,
    Path((_, _, workflow_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let workflow = find(&app, &workflow_id).await?;
    let branch = app.repo.default_branch().await?;
    Ok(Json(render::workflow(&app, &workflow, &branch)).into_response())
}

/// `PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable`.
pub async fn enable(
    State(app): State<Arc<App>>,
    Path((_, _, workflow_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let workflow = find(&app, &workflow_id).await?;
    app.actions.lock().disabled.remove(&workflow.path);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/disable`.
pub async fn disable(
    State(app): State<Arc<App>>,
    Path((_, _, workflow_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let workflow = find(&app, &workflow_id).await?;
    app.actions.lock().disable(&workflow.path);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_dispatchable_workflow_declares_its_inputs() {
        let yaml = "name: Bundle\nrun-name: bundle ${{ inputs.dispatch_key }}\non:\n  \
                    schedule:\n    - cron: '*/10 * * * *'\n  workflow_dispatch:\n    inputs:\n      \
                    force_bundle:\n        type: boolean\n        default: false\n      \
                    mode:\n        type: choice\n        options: [fast, slow]\n      \
                    dispatch_key:\n        required: false\n        default: ''\n      \
                    issue:\n        required: true\njobs: {}\n";
        let definition = Definition::parse(".github/workflows/b.yml", yaml);
        assert_eq!(definition.name, "Bundle");
        assert_eq!(
            definition.run_name.as_deref(),
            Some("bundle ${{ inputs.dispatch_key }}")
        );
        assert!(definition.scheduled);
        let inputs = definition.dispatch_inputs.unwrap();
        assert_eq!(inputs["force_bundle"].kind, "boolean");
        assert_eq!(inputs["mode"].options, ["fast", "slow"]);
        assert_eq!(inputs["force_bundle"].default, Some(json!(false)));
        assert_eq!(inputs["dispatch_key"].default, Some(json!("")));
        assert!(inputs["issue"].required && inputs["issue"].default.is_none());
    }

    #[test]
    fn triggers_read_in_each_spelling() {
        let parse = |on: &str| Definition::parse("w.yml", &format!("on: {on}\njobs: {{}}\n"));
        assert!(parse("workflow_dispatch").dispatch_inputs.is_some());
        assert!(parse("[push, workflow_dispatch]").dispatch_inputs.is_some());
        assert!(parse("{workflow_dispatch: null}").dispatch_inputs.is_some());
        assert!(parse("push").dispatch_inputs.is_none());
        assert_eq!(parse("push").name, "w.yml");
    }

    #[test]
    fn a_jobs_labels_are_its_runs_on() {
        let yaml = "jobs:\n  bundle:\n    name: Bundle\n    runs-on: ubuntu-latest\n  \
                    other:\n    runs-on: [self-hosted, linux]\n";
        assert_eq!(runs_on(yaml, "Bundle"), ["ubuntu-latest"]);
        assert_eq!(runs_on(yaml, "bundle"), ["ubuntu-latest"]);
        assert_eq!(runs_on(yaml, "other"), ["self-hosted", "linux"]);
        assert!(runs_on(yaml, "missing").is_empty());
    }
}
