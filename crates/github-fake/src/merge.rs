//! Merging a pull request for real in the bare repository.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, parse_body};
use crate::git::MergeTree;
use crate::landing::land;
use crate::pulls::refresh;
use crate::server::App;
use crate::state::IssueState;

#[derive(Debug, Deserialize)]
struct MergeRequest {
    commit_title: Option<String>,
    commit_message: Option<String>,
    sha: Option<String>,
    merge_method: Option<String>,
}

fn not_mergeable() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Pull Request is not mergeable",
    )
}

/// `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: 409 if `sha` is not the head, 405 if it
/// cannot merge; the base branch moves by compare-and-swap. Onto the default branch, the
/// closing keywords of the body and of every commit merged close those issues.
pub async fn merge(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: MergeRequest = parse_body(&body)?;
    let _writing = app.serial.lock().await;
    refresh(&app, &[number]).await?;
    let issue = {
        let state = app.lock();
        let issue = state
            .issues
            .get(&number)
            .filter(|issue| issue.pull.is_some());
        issue.cloned().ok_or_else(ApiError::not_found)?
    };
    let pull = issue.pull.as_ref().expect("a pull request");
    if issue.state != IssueState::Open {
        return Err(not_mergeable());
    }
    if pull.draft {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is still a draft",
        ));
    }
    if request
        .sha
        .as_ref()
        .is_some_and(|sha| *sha != pull.head_sha)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let MergeTree::Clean { tree } = app.repo.merge_tree(&pull.base_sha, &pull.head_sha).await?
    else {
        return Err(not_mergeable());
    };
    let owner = &app.options.owner;
    let (parents, default_title, default_message) =
        match request.merge_method.as_deref().unwrap_or("merge") {
            "merge" => (
                vec![pull.base_sha.as_str(), pull.head_sha.as_str()],
                format!(
                    "Merge pull request #{number} from {owner}/{}",
                    pull.head_ref
                ),
                issue.title.clone(),
            ),
            "squash" => (
                vec![pull.base_sha.as_str()],
                format!("{} (#{number})", issue.title),
                issue.body.clone().unwrap_or_default(),
            ),
            "rebase" => {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Rebase merges are not allowed on this repository.",
                ));
            }
            _ => {
                return Err(ApiError::validation(
                    "PullRequest",
                    "merge_method",
                    "invalid",
                ));
            }
        };
    let title = request.commit_title.unwrap_or(default_title);
    let message = request.commit_message.unwrap_or(default_message);
    let full_message = if message.is_empty() {
        title
    } else {
        format!("{title}\n\n{message}")
    };
    let commit = app.repo.commit_tree(&tree, &parents, &full_message).await?;
    let base = format!("refs/heads/{}", pull.base_ref);
    if !app
        .repo
        .update_ref(&base, &commit, Some(&pull.base_sha))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Base branch was modified. Review and try the merge again.",
        ));
    }
    land(&app, number, &commit, &pull.base_sha).await?;
    let answer =
        json!({ "sha": commit, "merged": true, "message": "Pull Request successfully merged" });
    Ok(Json(answer).into_response())
}
