//! Comparing two commits: how far a branch is ahead of and behind another.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::git::CommitInfo;
use crate::render::repo_url;
use crate::server::App;

/// GitHub lists at most this many commits in a comparison.
const MAX_COMMITS: usize = 250;

fn commit(app: &App, commit: &CommitInfo) -> Value {
    let url = repo_url(app);
    let html = format!("{}/{}/{}", app.api_url, app.options.owner, app.options.repo);
    let sha = &commit.sha;
    let person = |(name, email, date): &(String, String, String)| json!({ "name": name, "email": email, "date": date });
    let parents: Vec<Value> = commit
        .parents
        .iter()
        .map(|parent| {
            json!({
                "sha": parent,
                "url": format!("{url}/commits/{parent}"),
                "html_url": format!("{html}/commit/{parent}"),
            })
        })
        .collect();
    json!({
        "url": format!("{url}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_fake{}", &sha[..sha.len().min(12)]),
        "html_url": format!("{html}/commit/{sha}"),
        "comments_url": format!("{url}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{url}/git/commits/{sha}"),
            "author": person(&commit.author),
            "committer": person(&commit.committer),
            "message": commit.message,
            "comment_count": 0,
            "tree": { "sha": commit.tree, "url": format!("{url}/git/trees/{}", commit.tree) },
        },
        "author": null,
        "committer": null,
        "parents": parents,
    })
}

async fn one(app: &App, sha: &str) -> Result<CommitInfo, ApiError> {
    let commits = app.repo.log(&["-1", sha]).await?;
    commits.into_iter().next().ok_or_else(ApiError::not_found)
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`: `status`, `ahead_by`, `behind_by`
/// and the commits of head since the merge base (at most 250).
pub async fn compare(
    State(app): State<Arc<App>>,
    Path((_, _, range)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (base_name, head_name) = range
        .split_once("...")
        .or_else(|| range.split_once(".."))
        .ok_or_else(ApiError::not_found)?;
    let base = app
        .repo
        .commit(base_name)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let head = app
        .repo
        .commit(head_name)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let merge_base = app.repo.merge_base(&base, &head).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No common ancestor between {base_name} and {head_name}."),
        )
    })?;
    let ahead = app.repo.commits_between(&merge_base, &head).await?;
    let behind = app.repo.commits_between(&merge_base, &base).await?;
    let status = match (ahead, behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let commits = app.repo.log(&[&format!("{merge_base}..{head}")]).await?;
    let commits: Vec<Value> = commits
        .iter()
        .take(MAX_COMMITS)
        .map(|c| commit(&app, c))
        .collect();
    let url = repo_url(&app);
    let html = format!("{}/{}/{}", app.api_url, app.options.owner, app.options.repo);
    Ok(Json(json!({
        "url": format!("{url}/compare/{range}"),
        "html_url": format!("{html}/compare/{range}"),
        "permalink_url": format!("{html}/compare/{base}...{head}"),
        "diff_url": format!("{html}/compare/{range}.diff"),
        "patch_url": format!("{html}/compare/{range}.patch"),
        "base_commit": commit(&app, &one(&app, &base).await?),
        "merge_base_commit": commit(&app, &one(&app, &merge_base).await?),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": commits,
    }))
    .into_response())
}
