//! Reviews of pull requests: listed oldest first, and submitted by the token's user (or, from a
//! test, by anyone it names).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, parse_body};
use crate::pages::paginate;
use crate::render::{html_repo_url, repo_url, user};
use crate::server::App;
use crate::state::{IssueState, State as Memory, timestamp};

type PullPath = Path<(String, String, u64)>;

/// A submitted review.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub id: u64,
    pub pull: u64,
    pub author: String,
    pub author_association: String,
    /// GitHub's state: `CHANGES_REQUESTED`, `APPROVED` or `COMMENTED`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub submitted_at: String,
}

/// `GET /repos/{owner}/{repo}/pulls/{number}/reviews`, oldest first.
pub async fn list(
    State(app): State<Arc<App>>,
    Path((_, _, number)): PullPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = app.lock();
    if state.issues.get(&number).is_none_or(|i| i.pull.is_none()) {
        return Err(ApiError::not_found());
    }
    let reviews: Vec<_> = state.reviews.iter().filter(|r| r.pull == number).collect();
    paginate(&app.api_url, &uri, reviews, |review| render(&app, review))
}

#[derive(Debug, Deserialize)]
struct NewReview {
    event: Option<String>,
    #[serde(default)]
    body: String,
}

/// `POST /repos/{owner}/{repo}/pulls/{number}/reviews`, by the token's user. Without an
/// `event` GitHub leaves a review pending, which the fake does not keep.
pub async fn create(
    State(app): State<Arc<App>>,
    Path((_, _, number)): PullPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewReview = parse_body(&body)?;
    ApiError::check_body("PullRequestReview", Some(&new.body))?;
    let (login, association) = (&app.options.login, &app.options.association);
    let review = submit(&mut app.lock(), number, login, association, new)?;
    Ok((StatusCode::OK, Json(render(&app, &review))).into_response())
}

/// Submits a review as `login`, related to the repository as `association`, with GitHub's
/// `event` (`REQUEST_CHANGES`, `APPROVE`, `COMMENT`).
pub fn submit_as(
    state: &mut Memory,
    number: u64,
    login: &str,
    association: &str,
    event: &str,
    body: &str,
) -> Result<Review, ApiError> {
    let new = NewReview {
        event: Some(event.to_owned()),
        body: body.to_owned(),
    };
    submit(state, number, login, association, new)
}

fn submit(
    state: &mut Memory,
    number: u64,
    login: &str,
    association: &str,
    new: NewReview,
) -> Result<Review, ApiError> {
    let review_state = match new.event.as_deref() {
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("APPROVE") => "APPROVED",
        Some("COMMENT") => "COMMENTED",
        _ => {
            return Err(ApiError::validation(
                "PullRequestReview",
                "event",
                "invalid",
            ));
        }
    };
    if review_state != "APPROVED" && new.body.is_empty() {
        return Err(ApiError::validation(
            "PullRequestReview",
            "body",
            "missing_field",
        ));
    }
    let id = state.take_id();
    let issue = state
        .issues
        .get_mut(&number)
        .ok_or_else(ApiError::not_found)?;
    let pull = issue.pull.as_ref().ok_or_else(ApiError::not_found)?;
    if issue.state != IssueState::Open {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity: the pull request is closed",
        ));
    }
    let review = Review {
        id,
        pull: number,
        author: login.to_owned(),
        author_association: association.to_owned(),
        state: review_state.to_owned(),
        body: new.body,
        commit_id: pull.head_sha.clone(),
        submitted_at: timestamp(),
    };
    issue.updated_at = review.submitted_at.clone();
    state.reviews.push(review.clone());
    Ok(review)
}

fn render(app: &App, review: &Review) -> Value {
    let html = format!(
        "{}/pull/{}#pullrequestreview-{}",
        html_repo_url(app),
        review.pull,
        review.id
    );
    let pull_url = format!("{}/pulls/{}", repo_url(app), review.pull);
    json!({
        "id": review.id,
        "node_id": format!("PRR_fake{}", review.id),
        "user": user(app, &review.author),
        "body": review.body,
        "state": review.state,
        "commit_id": review.commit_id,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": { "html": { "href": html }, "pull_request": { "href": pull_url } },
        "author_association": review.author_association,
        "submitted_at": review.submitted_at,
    })
}
