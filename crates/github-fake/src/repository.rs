//! The repository itself and the rate limit endpoint.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::render;
use crate::server::App;

/// `GET /repos/{owner}/{repo}`.
pub async fn get_repository(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let default_branch = app.repo.default_branch().await?;
    let state = app.lock();
    Ok(Json(render::repository(&app, &state, &default_branch)).into_response())
}

/// `GET /rate_limit`, which GitHub does not charge.
pub async fn rate_limit(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let state = app.lock();
    let rate = &state.rate;
    let core = json!({
        "limit": rate.limit, "used": rate.used, "remaining": rate.remaining(), "reset": rate.reset,
    });
    let search = json!({ "limit": 30, "used": 0, "remaining": 30, "reset": rate.reset });
    Json(json!({ "resources": { "core": core, "search": search }, "rate": core }))
}
