//! Issues (which include pull requests, whose branches are read afresh first), their
//! assignees and their comments.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, parse_body};
use crate::pages::{Params, created, paginate, updated_since};
use crate::pulls::refresh;
use crate::render;
use crate::server::App;
use crate::state::{Comment, Issue, IssueState, State as Memory, timestamp};

type IssuePath = Path<(String, String, u64)>;

/// A label given by name, or as an object with a name, as GitHub accepts both.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LabelArg {
    Name(String),
    Object { name: String },
}

impl LabelArg {
    pub fn name(&self) -> &str {
        match self {
            LabelArg::Name(name) | LabelArg::Object { name } => name,
        }
    }
}

/// `GET /repos/{owner}/{repo}/issues`: issues and pull requests, newest first by default.
pub async fn list(State(app): State<Arc<App>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::from_uri(&uri);
    let pulls: Vec<u64> = app
        .lock()
        .issues
        .values()
        .filter(|i| i.pull.is_some())
        .map(|i| i.number)
        .collect();
    refresh(&app, &pulls).await?;
    let state = app.lock();
    let wanted_state = params.get("state").unwrap_or("open");
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::validation("Issue", "state", "invalid"));
    }
    let labels: Vec<&str> = params
        .get("labels")
        .map(|labels| {
            labels
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = params.since()?;
    let mut issues: Vec<&Issue> = state
        .issues
        .values()
        .filter(|issue| wanted_state == "all" || issue.state.as_str() == wanted_state)
        .filter(|issue| {
            labels
                .iter()
                .all(|wanted| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(wanted)))
        })
        .filter(|issue| match params.get("assignee") {
            None => true,
            Some("*") => !issue.assignees.is_empty(),
            Some("none") => issue.assignees.is_empty(),
            Some(login) => issue
                .assignees
                .iter()
                .any(|a| a.eq_ignore_ascii_case(login)),
        })
        .filter(|issue| since.is_none_or(|since| updated_since(&issue.updated_at, since)))
        .filter(|issue| {
            params
                .get("creator")
                .is_none_or(|c| issue.author.eq_ignore_ascii_case(c))
        })
        .collect();
    match params.get("sort").unwrap_or("created") {
        "created" => issues.sort_by_key(|issue| (issue.created_at.clone(), issue.number)),
        "updated" => issues.sort_by_key(|issue| (issue.updated_at.clone(), issue.number)),
        "comments" => issues.sort_by_key(|issue| (issue.comments, issue.number)),
        _ => return Err(ApiError::validation("Issue", "sort", "invalid")),
    }
    match params.get("direction").unwrap_or("desc") {
        "desc" => issues.reverse(),
        "asc" => {}
        _ => return Err(ApiError::validation("Issue", "direction", "invalid")),
    }
    paginate(&app.api_url, &uri, issues, |issue| {
        render::issue(&app, &state, issue)
    })
}

/// `GET /repos/{owner}/{repo}/issues/{number}`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
) -> Result<Response, ApiError> {
    refresh(&app, &[number]).await?;
    let state = app.lock();
    let issue = state.issues.get(&number).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::issue(&app, &state, issue)).into_response())
}

#[derive(Debug, Deserialize)]
struct NewIssue {
    #[serde(default)]
    title: Value,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<LabelArg>,
    #[serde(default)]
    assignees: Vec<String>,
}

/// `POST /repos/{owner}/{repo}/issues`.
pub async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let new: NewIssue = parse_body(&body)?;
    ApiError::check_body("Issue", new.body.as_deref())?;
    let title = match new.title {
        Value::String(title) if !title.is_empty() => title,
        Value::Number(number) => number.to_string(),
        _ => return Err(ApiError::validation("Issue", "title", "missing_field")),
    };
    let mut state = app.lock();
    let labels = new
        .labels
        .iter()
        .map(|label| state.ensure_label(label.name()))
        .collect();
    let now = timestamp();
    let number = state.take_number();
    let issue = Issue {
        id: state.take_id(),
        number,
        title,
        body: new.body,
        state: IssueState::Open,
        state_reason: None,
        labels,
        assignees: new.assignees,
        author: app.options.login.clone(),
        author_association: app.options.association.clone(),
        created_at: now.clone(),
        updated_at: now,
        closed_at: None,
        closed_by: None,
        comments: 0,
        locked: false,
        pull: None,
    };
    let value = render::issue(&app, &state, &issue);
    state.issues.insert(number, issue);
    Ok(created(&value))
}

#[derive(Debug, Deserialize)]
struct IssuePatch {
    title: Option<String>,
    #[serde(default, with = "double_option")]
    body: Option<Option<String>>,
    state: Option<String>,
    #[serde(default, with = "double_option")]
    state_reason: Option<Option<String>>,
    labels: Option<Vec<LabelArg>>,
    assignees: Option<Vec<String>>,
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}`.
pub async fn update(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch: IssuePatch = parse_body(&body)?;
    ApiError::check_body("Issue", patch.body.clone().flatten().as_deref())?;
    let reason = patch.state_reason.flatten();
    match (patch.state.as_deref(), reason.as_deref()) {
        (None | Some("open"), _) => {}
        (Some("closed"), None | Some("completed" | "not_planned" | "duplicate")) => {}
        (Some("closed"), Some(_)) => {
            return Err(ApiError::validation("Issue", "state_reason", "invalid"));
        }
        (Some(_), _) => return Err(ApiError::validation("Issue", "state", "invalid")),
    }
    let mut state = app.lock();
    let issue = state.issues.get(&number).ok_or_else(ApiError::not_found)?;
    let merged = issue
        .pull
        .as_ref()
        .is_some_and(|pull| pull.merged_at.is_some());
    if patch.state.as_deref() == Some("open") && issue.state == IssueState::Closed && merged {
        return Err(ApiError::custom_validation(
            "PullRequest",
            "state cannot be changed. The pull request cannot be reopened.",
        ));
    }
    let labels = patch.labels.map(|labels| {
        labels
            .iter()
            .map(|label| state.ensure_label(label.name()))
            .collect()
    });
    let login = app.options.login.clone();
    let issue = state.issues.get_mut(&number).expect("checked above");
    if let Some(title) = patch.title {
        issue.title = title;
    }
    if let Some(body) = patch.body {
        issue.body = body;
    }
    if let Some(labels) = labels {
        issue.labels = labels;
    }
    if let Some(assignees) = patch.assignees {
        issue.assignees = assignees;
    }
    match patch.state.as_deref() {
        Some("closed") => {
            if issue.state == IssueState::Open {
                issue.state = IssueState::Closed;
                issue.closed_at = Some(timestamp());
                issue.closed_by = Some(login);
            }
            issue.state_reason = Some(reason.unwrap_or_else(|| "completed".to_string()));
        }
        Some("open") if issue.state == IssueState::Closed => {
            issue.state = IssueState::Open;
            issue.state_reason = Some("reopened".to_string());
            issue.closed_at = None;
            issue.closed_by = None;
        }
        _ => {}
    }
    issue.updated_at = timestamp();
    let issue = issue.clone();
    Ok(Json(render::issue(&app, &state, &issue)).into_response())
}

#[derive(Debug, Deserialize)]
struct Assignees {
    #[serde(default)]
    assignees: Vec<String>,
}

/// `POST /repos/{owner}/{repo}/issues/{number}/assignees`.
pub async fn add_assignees(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Assignees { assignees } = parse_body(&body)?;
    edit_assignees(&app, number, StatusCode::CREATED, |current| {
        for login in assignees {
            if !current.iter().any(|a| a.eq_ignore_ascii_case(&login)) {
                current.push(login);
            }
        }
    })
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/assignees`.
pub async fn remove_assignees(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Assignees { assignees } = parse_body(&body)?;
    edit_assignees(&app, number, StatusCode::OK, |current| {
        current.retain(|a| !assignees.iter().any(|gone| gone.eq_ignore_ascii_case(a)));
    })
}

fn edit_assignees(
    app: &App,
    number: u64,
    status: StatusCode,
    edit: impl FnOnce(&mut Vec<String>),
) -> Result<Response, ApiError> {
    let mut state = app.lock();
    let issue = state
        .issues
        .get_mut(&number)
        .ok_or_else(ApiError::not_found)?;
    edit(&mut issue.assignees);
    issue.updated_at = timestamp();
    let issue = issue.clone();
    Ok((status, Json(render::issue(app, &state, &issue))).into_response())
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`, oldest first.
pub async fn list_comments(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = app.lock();
    if !state.issues.contains_key(&number) {
        return Err(ApiError::not_found());
    }
    let since = Params::from_uri(&uri).since()?;
    let comments: Vec<_> = state
        .comments
        .iter()
        .filter(|c| c.issue == number)
        .filter(|c| since.is_none_or(|since| updated_since(&c.updated_at, since)))
        .collect();
    paginate(&app.api_url, &uri, comments, |comment| {
        render::comment(&app, comment)
    })
}

#[derive(Debug, Deserialize)]
struct NewComment {
    body: String,
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
pub async fn create_comment(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let NewComment { body } = parse_body(&body)?;
    ApiError::check_body("IssueComment", Some(&body))?;
    if body.is_empty() {
        return Err(ApiError::validation(
            "IssueComment",
            "body",
            "missing_field",
        ));
    }
    let (login, association) = (&app.options.login, &app.options.association);
    let mut state = app.lock();
    let locked = state.issues.get(&number).is_some_and(|issue| issue.locked);
    if locked && !may_comment_when_locked(&app.options) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Unable to create comment because issue is locked.",
        ));
    }
    let comment = add_comment(&mut state, number, login, association, &body)
        .ok_or_else(ApiError::not_found)?;
    drop(state);
    Ok(created(&render::comment(&app, &comment)))
}

/// Whether the token's user may comment on a locked conversation: on GitHub, only repository
/// owners and collaborators with write access may; an installation's token (a GitHub App's,
/// Actions' `GITHUB_TOKEN`) is no collaborator and is refused, though it may still edit labels.
fn may_comment_when_locked(options: &crate::Options) -> bool {
    !options.installation
        && matches!(
            options.association.as_str(),
            "OWNER" | "MEMBER" | "COLLABORATOR"
        )
}

/// Adds a comment by `login`; `None` if there is no such issue.
pub fn add_comment(
    state: &mut Memory,
    number: u64,
    login: &str,
    association: &str,
    body: &str,
) -> Option<Comment> {
    let now = timestamp();
    let id = state.take_id();
    let issue = state.issues.get_mut(&number)?;
    issue.comments += 1;
    issue.updated_at = now.clone();
    let comment = Comment {
        id,
        issue: number,
        body: body.to_string(),
        author: login.to_string(),
        author_association: association.to_string(),
        created_at: now.clone(),
        updated_at: now,
    };
    state.comments.push(comment.clone());
    Some(comment)
}

/// Tells a field set to `null` (`Some(None)`) from a field left out (`None`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
