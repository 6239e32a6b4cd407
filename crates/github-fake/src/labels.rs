//! The repository's labels, and the labels on an issue.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{ApiError, parse_body};
use crate::issues::LabelArg;
use crate::pages::{created, paginate};
use crate::render;
use crate::server::App;
use crate::state::{Label, timestamp};

/// `GET /repos/{owner}/{repo}/labels`.
pub async fn list(State(app): State<Arc<App>>, uri: Uri) -> Result<Response, ApiError> {
    let state = app.lock();
    let labels: Vec<_> = state.labels.iter().collect();
    paginate(&app.api_url, &uri, labels, |label| {
        render::label(&app, label)
    })
}

/// `GET /repos/{owner}/{repo}/labels/{name}`, matched case-insensitively.
pub async fn get(
    State(app): State<Arc<App>>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = app.lock();
    let label = state.label(&name).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::label(&app, label)).into_response())
}

#[derive(Debug, Deserialize)]
struct NewLabel {
    name: String,
    color: Option<String>,
    description: Option<String>,
}

/// A six-digit hex colour, with GitHub's tolerance for a leading `#`.
fn color(color: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(color) = color else { return Ok(None) };
    let color = color.trim_start_matches('#').to_ascii_lowercase();
    if color.len() == 6 && color.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(Some(color))
    } else {
        Err(ApiError::validation("Label", "color", "invalid"))
    }
}

/// `POST /repos/{owner}/{repo}/labels`: 422 `already_exists` for a name taken in any case.
pub async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let new: NewLabel = parse_body(&body)?;
    if new.name.trim().is_empty() {
        return Err(ApiError::validation("Label", "name", "missing_field"));
    }
    let color = color(new.color)?.unwrap_or_else(|| "ededed".to_string());
    let mut state = app.lock();
    if state.label(&new.name).is_some() {
        return Err(ApiError::validation("Label", "name", "already_exists"));
    }
    let label = Label {
        id: state.take_id(),
        name: new.name,
        color,
        description: new.description,
    };
    state.labels.push(label.clone());
    Ok(created(&render::label(&app, &label)))
}

#[derive(Debug, Deserialize)]
struct LabelPatch {
    new_name: Option<String>,
    color: Option<String>,
    description: Option<String>,
}

/// `PATCH /repos/{owner}/{repo}/labels/{name}`; a rename follows onto every issue.
pub async fn update(
    State(app): State<Arc<App>>,
    Path((_, _, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch: LabelPatch = parse_body(&body)?;
    let color = color(patch.color)?;
    let mut state = app.lock();
    let old_name = state
        .label(&name)
        .ok_or_else(ApiError::not_found)?
        .name
        .clone();
    if let Some(new_name) = &patch.new_name
        && state
            .label(new_name)
            .is_some_and(|other| other.name != old_name)
    {
        return Err(ApiError::validation("Label", "name", "already_exists"));
    }
    let label = state
        .labels
        .iter_mut()
        .find(|label| label.name == old_name)
        .expect("found above");
    if let Some(color) = color {
        label.color = color;
    }
    if let Some(description) = patch.description {
        label.description = Some(description);
    }
    if let Some(new_name) = &patch.new_name {
        label.name = new_name.clone();
    }
    let label = label.clone();
    for issue in state.issues.values_mut() {
        for on_issue in issue.labels.iter_mut().filter(|l| **l == old_name) {
            *on_issue = label.name.clone();
        }
    }
    Ok(Json(render::label(&app, &label)).into_response())
}

/// The body of adding or setting labels: `{"labels": [...]}` or a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IssueLabels {
    Wrapped { labels: Vec<LabelArg> },
    Bare(Vec<LabelArg>),
}

impl IssueLabels {
    fn names(&self) -> Vec<&str> {
        match self {
            IssueLabels::Wrapped { labels } | IssueLabels::Bare(labels) => {
                labels.iter().map(LabelArg::name).collect()
            }
        }
    }
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds, creating unknown labels.
pub async fn add_to_issue(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let labels: IssueLabels = parse_body(&body)?;
    edit_issue_labels(&app, number, &labels.names(), false)
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`, in the issue's order.
pub async fn list_on_issue(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = app.lock();
    let issue = state.issues.get(&number).ok_or_else(ApiError::not_found)?;
    let labels: Vec<_> = issue
        .labels
        .iter()
        .filter_map(|name| state.label(name))
        .collect();
    paginate(&app.api_url, &uri, labels, |label| {
        render::label(&app, label)
    })
}

/// `PUT /repos/{owner}/{repo}/issues/{number}/labels`: replaces the issue's labels.
pub async fn set_on_issue(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let labels: IssueLabels = parse_body(&body)?;
    edit_issue_labels(&app, number, &labels.names(), true)
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels`: every label off, `204`.
pub async fn remove_all_from_issue(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let mut state = app.lock();
    let issue = state
        .issues
        .get_mut(&number)
        .ok_or_else(ApiError::not_found)?;
    issue.labels.clear();
    issue.updated_at = timestamp();
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn edit_issue_labels(
    app: &App,
    number: u64,
    names: &[&str],
    replace: bool,
) -> Result<Response, ApiError> {
    let mut state = app.lock();
    if !state.issues.contains_key(&number) {
        return Err(ApiError::not_found());
    }
    let names: Vec<String> = names.iter().map(|name| state.ensure_label(name)).collect();
    let issue = state.issues.get_mut(&number).expect("checked above");
    if replace {
        issue.labels.clear();
    }
    for name in names {
        if !issue.labels.contains(&name) {
            issue.labels.push(name);
        }
    }
    issue.updated_at = timestamp();
    let issue = issue.clone();
    Ok(Json(render::issue_labels(app, &state, &issue)).into_response())
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}`: 404 if the issue lacks it.
pub async fn remove_from_issue(
    State(app): State<Arc<App>>,
    Path((_, _, number, name)): Path<(String, String, u64, String)>,
) -> Result<Response, ApiError> {
    let mut state = app.lock();
    let issue = state
        .issues
        .get_mut(&number)
        .ok_or_else(ApiError::not_found)?;
    let before = issue.labels.len();
    issue
        .labels
        .retain(|label| !label.eq_ignore_ascii_case(&name));
    if issue.labels.len() == before {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Label does not exist"));
    }
    issue.updated_at = timestamp();
    let issue = issue.clone();
    Ok(Json(render::issue_labels(&app, &state, &issue)).into_response())
}
