//! Merging a pull request for real in the bare repository, and the closing keywords that close
//! issues when it lands on the default branch.

use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use regex::Regex;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, parse_body};
use crate::git::MergeTree;
use crate::pulls::refresh;
use crate::server::App;
use crate::state::{IssueState, timestamp};

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
/// cannot merge; the base branch moves by compare-and-swap.
pub async fn merge(
    State(app): State<Arc<App>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: MergeRequest = parse_body(&body)?;
    let _writing = app.git_writes.lock().await;
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
    let default_branch = app.repo.default_branch().await?;
    let login = app.options.login.clone();
    let mut state = app.lock();
    let now = timestamp();
    let stored = state.issues.get_mut(&number).expect("read above");
    stored.state = IssueState::Closed;
    stored.closed_at = Some(now.clone());
    stored.updated_at = now.clone();
    let stored_pull = stored.pull.as_mut().expect("a pull request");
    stored_pull.merged_at = Some(now);
    stored_pull.merge_commit_sha = Some(commit.clone());
    stored_pull.merged_by = Some(login.clone());
    if pull.base_ref == default_branch {
        let repository = format!("{owner}/{}", app.options.repo);
        for closed in closed_issues(issue.body.as_deref().unwrap_or_default(), &repository) {
            if state
                .issues
                .get(&closed)
                .is_some_and(|issue| issue.pull.is_none())
            {
                state.close_issue(closed, &login, "completed");
            }
        }
    }
    let answer =
        json!({ "sha": commit, "merged": true, "message": "Pull Request successfully merged" });
    Ok(Json(answer).into_response())
}

/// `close #1`, `Fixes: #2`, `resolved owner/repo#3`: GitHub's closing keywords.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:([\w.-]+/[\w.-]+))?#(\d+)\b",
    )
    .expect("a valid pattern")
});

/// The numbers a pull request body closes in `repository` (`owner/name`).
pub fn closed_issues(body: &str, repository: &str) -> Vec<u64> {
    CLOSING
        .captures_iter(body)
        .filter(|captures| {
            captures
                .get(1)
                .is_none_or(|r| r.as_str().eq_ignore_ascii_case(repository))
        })
        .filter_map(|captures| captures[2].parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::closed_issues;

    #[test]
    fn closing_keywords_are_read_as_github_reads_them() {
        let body = "Fixes #1, closes: #2\nRESOLVED #3 and resolve o/r#4; close other/repo#5\n\
                    fix#6 prefix#7 closing #8 #9";
        assert_eq!(closed_issues(body, "o/r"), vec![1, 2, 3, 4]);
    }
}
