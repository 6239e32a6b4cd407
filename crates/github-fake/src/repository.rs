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

/// `GET /user`: the token's user, with the `x-oauth-scopes` of a classic token that may
/// write to repositories; refused to an installation token, which has no user.
pub async fn authenticated_user(State(app): State<Arc<App>>) -> Response {
    if app.options.installation {
        let refused = ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
        return refused.into_response();
    }
    let mut user = render::user(&app, &app.options.login);
    for (field, value) in [
        ("name", json!(null)),
        ("company", json!(null)),
        ("blog", json!("")),
        ("location", json!(null)),
        ("email", json!(null)),
        ("hireable", json!(null)),
        ("bio", json!(null)),
        ("public_repos", json!(1)),
        ("public_gists", json!(0)),
        ("followers", json!(0)),
        ("following", json!(0)),
        ("created_at", json!("2026-01-01T00:00:00Z")),
        ("updated_at", json!("2026-01-01T00:00:00Z")),
        ("private_gists", json!(0)),
        ("total_private_repos", json!(1)),
        ("owned_private_repos", json!(1)),
        ("disk_usage", json!(0)),
        ("collaborators", json!(0)),
        ("two_factor_authentication", json!(true)),
    ] {
        user[field] = value;
    }
    ([("x-oauth-scopes", "repo")], Json(user)).into_response()
}
