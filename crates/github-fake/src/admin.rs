//! `/_fake/...`: inspect and steer the fake from another process. Not part of GitHub's API,
//! so neither authenticated, charged, recorded nor validated.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{ApiError, parse_body};
use crate::faults::{FaultPlan, Faults};
use crate::issues::add_comment;
use crate::render;
use crate::server::App;

/// `GET /_fake/violations`: every request or response that broke the OpenAPI description.
pub async fn violations(State(app): State<Arc<App>>) -> Json<Vec<String>> {
    Json(app.lock().violations.clone())
}

/// `GET /_fake/requests`: every API request, in order.
pub async fn requests(State(app): State<Arc<App>>) -> Json<Vec<crate::RecordedRequest>> {
    Json(app.lock().requests.clone())
}

/// `POST /_fake/faults` with a [`Faults`] object replaces the faults in force.
pub async fn set_faults(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let faults: Faults = parse_body(&body)?;
    app.lock().faults = FaultPlan::new(faults);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct StrangerComment {
    issue: u64,
    login: String,
    #[serde(default = "no_association")]
    association: String,
    body: String,
}

fn no_association() -> String {
    "NONE".to_string()
}

/// `POST /_fake/comments` with `{issue, login, association?, body}`: a comment by someone
/// other than the token's user (`association` defaults to `NONE`).
pub async fn comment(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let comment: StrangerComment = parse_body(&body)?;
    let posted = add_comment(
        &mut app.lock(),
        comment.issue,
        &comment.login,
        &comment.association,
        &comment.body,
    )
    .ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(render::comment(&app, &posted))).into_response())
}

#[derive(Debug, Deserialize)]
struct RateLimitWindow {
    remaining: u64,
    reset_in_seconds: u64,
}

/// `POST /_fake/rate_limit` with `{remaining, reset_in_seconds}`: see
/// [`crate::FakeGithub::set_rate_limit`].
pub async fn set_rate_limit(
    State(app): State<Arc<App>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let window: RateLimitWindow = parse_body(&body)?;
    let reset_in = std::time::Duration::from_secs(window.reset_in_seconds);
    app.lock().rate.set(window.remaining, reset_in);
    Ok(StatusCode::NO_CONTENT.into_response())
}
