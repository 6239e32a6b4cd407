//! GitHub's issue dependencies: which issues block which. Listed from the blocked issue
//! (`.../dependencies/blocked_by`), added by the blocker's database id as GitHub takes it, and
//! counted on every issue as `issue_dependencies_summary`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, parse_body};
use crate::pages::{created, paginate};
use crate::render;
use crate::server::App;
use crate::state::{IssueState, State as Memory, timestamp};

type IssuePath = Path<(String, String, u64)>;

/// `GET /repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by`: the issues blocking
/// it, open or closed, in the order they were added.
pub async fn list_blocked_by(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = app.lock();
    if state.issues.get(&number).is_none_or(|i| i.pull.is_some()) {
        return Err(ApiError::not_found());
    }
    let blockers: Vec<_> = state
        .dependencies
        .iter()
        .filter(|(blocked, _)| *blocked == number)
        .filter_map(|(_, blocker)| state.issues.get(blocker))
        .collect();
    paginate(&app.api_url, &uri, blockers, |issue| {
        render::issue(&app, &state, issue)
    })
}

#[derive(Debug, Deserialize)]
struct NewDependency {
    issue_id: u64,
}

/// `POST /repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by`: the issue whose
/// database id is `issue_id` blocks `number` from now on; answers the blocker.
pub async fn add_blocked_by(
    State(app): State<Arc<App>>,
    Path((_, _, number)): IssuePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let NewDependency { issue_id } = parse_body(&body)?;
    let mut state = app.lock();
    let blocker = state
        .issues
        .values()
        .find(|issue| issue.id == issue_id)
        .map(|issue| issue.number)
        .ok_or_else(|| ApiError::validation("IssueDependency", "issue_id", "invalid"))?;
    add(&mut state, number, blocker)?;
    let value = render::issue(&app, &state, &state.issues[&blocker]);
    drop(state);
    Ok(created(&value))
}

/// Records that issue `blocker` blocks issue `blocked` (both numbers). Refused as GitHub
/// refuses it: no such issue (404), a pull request, the issue itself, or a repeat (422).
pub fn add(state: &mut Memory, blocked: u64, blocker: u64) -> Result<(), ApiError> {
    if state.issues.get(&blocked).is_none_or(|i| i.pull.is_some()) {
        return Err(ApiError::not_found());
    }
    let refused = || ApiError::validation("IssueDependency", "issue_id", "invalid");
    if blocker == blocked || state.issues.get(&blocker).is_none_or(|i| i.pull.is_some()) {
        return Err(refused());
    }
    if state.dependencies.contains(&(blocked, blocker)) {
        return Err(refused());
    }
    state.dependencies.push((blocked, blocker));
    if let Some(issue) = state.issues.get_mut(&blocked) {
        issue.updated_at = timestamp();
    }
    Ok(())
}

/// `issue_dependencies_summary` of issue `number`: `blocked_by` and `blocking` count the open
/// issues on the other side, the totals every one.
pub fn summary(state: &Memory, number: u64) -> Value {
    let open = |n: &u64| {
        state
            .issues
            .get(n)
            .is_some_and(|i| i.state == IssueState::Open)
    };
    let blockers: Vec<u64> = state
        .dependencies
        .iter()
        .filter(|(blocked, _)| *blocked == number)
        .map(|(_, blocker)| *blocker)
        .collect();
    let blocking: Vec<u64> = state
        .dependencies
        .iter()
        .filter(|(_, blocker)| *blocker == number)
        .map(|(blocked, _)| *blocked)
        .collect();
    json!({
        "blocked_by": blockers.iter().filter(|n| open(n)).count(),
        "blocking": blocking.iter().filter(|n| open(n)).count(),
        "total_blocked_by": blockers.len(),
        "total_blocking": blocking.len(),
    })
}
