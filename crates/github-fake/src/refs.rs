//! The git references API, over the refs of the bare repository: an atomic create (422 for
//! an existing ref) is what a claim on the forge can be built on.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, parse_body};
use crate::pages::created;
use crate::render::repo_url;
use crate::server::App;

fn git_ref(app: &App, name: &str, sha: &str) -> Value {
    let url = repo_url(app);
    json!({
        "ref": name,
        "node_id": format!("REF_fake{}", &sha[..sha.len().min(12)]),
        "url": format!("{url}/git/{name}"),
        "object": { "type": "commit", "sha": sha, "url": format!("{url}/git/commits/{sha}") },
    })
}

fn unprocessable(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// The fully qualified name of `heads/x` or `refs/heads/x`.
fn qualified(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_string()
    } else {
        format!("refs/{name}")
    }
}

async fn current(app: &App, name: &str) -> Result<Option<String>, ApiError> {
    let name = qualified(name);
    let refs = app.repo.refs().await?;
    Ok(refs
        .into_iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, sha)| sha))
}

/// `GET /repos/{owner}/{repo}/git/ref/{ref}`, e.g. `heads/main`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let sha = current(&app, &name)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(git_ref(&app, &qualified(&name), &sha)).into_response())
}

/// `GET /repos/{owner}/{repo}/git/matching-refs/{ref}`: every ref whose name starts so.
pub async fn matching(
    State(app): State<Arc<App>>,
    Path((_, _, prefix)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let prefix = qualified(&prefix);
    let refs = app.repo.refs().await?;
    let matching: Vec<Value> = refs
        .iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(name, sha)| git_ref(&app, name, sha))
        .collect();
    Ok(Json(matching).into_response())
}

#[derive(Debug, Deserialize)]
struct NewRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

/// `POST /repos/{owner}/{repo}/git/refs`: 422 "Reference already exists" if it does, atomically.
pub async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let new: NewRef = parse_body(&body)?;
    if !new.name.starts_with("refs/") || new.name.matches('/').count() < 2 {
        return Err(unprocessable("Reference name is not valid"));
    }
    let sha = app
        .repo
        .commit(&new.sha)
        .await?
        .filter(|sha| *sha == new.sha);
    let sha = sha.ok_or_else(|| unprocessable("Object does not exist"))?;
    if !app.repo.update_ref(&new.name, &sha, None).await? {
        return Err(unprocessable("Reference already exists"));
    }
    Ok(created(&git_ref(&app, &new.name, &sha)))
}

#[derive(Debug, Deserialize)]
struct RefUpdate {
    sha: String,
    #[serde(default)]
    force: bool,
}

/// `PATCH /repos/{owner}/{repo}/git/refs/{ref}`: a fast-forward unless `force`.
pub async fn update(
    State(app): State<Arc<App>>,
    Path((_, _, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let update: RefUpdate = parse_body(&body)?;
    let name = qualified(&name);
    let old = current(&app, &name)
        .await?
        .ok_or_else(|| unprocessable("Reference does not exist"))?;
    let sha = app
        .repo
        .commit(&update.sha)
        .await?
        .filter(|sha| *sha == update.sha);
    let sha = sha.ok_or_else(|| unprocessable("Object does not exist"))?;
    if !update.force && !app.repo.is_ancestor(&old, &sha).await? {
        return Err(unprocessable("Update is not a fast forward"));
    }
    if !app.repo.update_ref(&name, &sha, Some(&old)).await? {
        return Err(unprocessable("Reference update failed"));
    }
    Ok(Json(git_ref(&app, &name, &sha)).into_response())
}

/// `DELETE /repos/{owner}/{repo}/git/refs/{ref}`.
pub async fn delete(
    State(app): State<Arc<App>>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let name = qualified(&name);
    let old = current(&app, &name)
        .await?
        .ok_or_else(|| unprocessable("Reference does not exist"))?;
    if !app.repo.delete_ref(&name, &old).await? {
        return Err(unprocessable("Reference update failed"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
