//! Reviews of pull requests on GitHub: listed (`pulls/list-reviews`), and submitted
//! (`pulls/create-review`) with its verdict as GitHub's `event`.

use ::http::Method;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::GithubForge;
use super::creates::CLOCK_SKEW;
use super::errors::{Subject, accepted};
use super::http::Request;
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::{User, association, login};
use crate::ports::forge::{ForgeError, ForgeResult, NewReview, Number, Review, ReviewState};

/// A review as GitHub sends it.
#[derive(Debug, Deserialize)]
struct WireReview {
    id: u64,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    body: Option<String>,
    /// `PENDING` for a review not yet submitted, which the port does not show.
    state: String,
    /// Kept as text, as for comments: one GitHub adds later reads as untrusted.
    author_association: String,
    #[serde(default)]
    submitted_at: Option<Timestamp>,
}

impl WireReview {
    fn into_review(self, pull_request: Number) -> Option<Review> {
        let state = match self.state.as_str() {
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "APPROVED" => ReviewState::Approved,
            "COMMENTED" => ReviewState::Commented,
            "DISMISSED" => ReviewState::Dismissed,
            _ => return None,
        };
        Some(Review {
            id: self.id,
            pull_request,
            author: login(self.user),
            author_association: association(&self.author_association),
            state,
            body: self.body.unwrap_or_default(),
            submitted_at: self.submitted_at,
        })
    }
}

/// GitHub's `event` for submitting a review with `state`.
fn event(state: ReviewState) -> ForgeResult<&'static str> {
    match state {
        ReviewState::ChangesRequested => Ok("REQUEST_CHANGES"),
        ReviewState::Approved => Ok("APPROVE"),
        ReviewState::Commented => Ok("COMMENT"),
        ReviewState::Dismissed => Err(ForgeError::Invalid(
            "a review is submitted as changes requested, approved or commented; dismissed is \
             what a dismissal makes of one"
                .to_owned(),
        )),
    }
}

impl GithubForge {
    pub(super) async fn list_reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        let url = self.repo_url(
            &["pulls", &number.to_string(), "reviews"],
            &[("per_page", PER_PAGE_TEXT)],
        );
        let reviews: Vec<WireReview> =
            listing::all(&self.http, url, Subject::PullRequest(number)).await?;
        Ok(reviews
            .into_iter()
            .filter_map(|review| review.into_review(number))
            .collect())
    }

    /// Submits a review. Sent again after a lost answer only if no review with the same
    /// verdict and text was submitted since just before the first send.
    pub(super) async fn submit_review(
        &self,
        number: Number,
        new: &NewReview,
    ) -> ForgeResult<Review> {
        let body = json!({ "event": event(new.state)?, "body": new.body });
        let url = self.repo_url(&["pulls", &number.to_string(), "reviews"], &[]);
        let since = self.clock.now() - CLOCK_SKEW;
        let made = || async move {
            let reviews = self.list_reviews(number).await?;
            Ok(reviews.into_iter().rev().find(|review| {
                review.state == new.state
                    && review.body == new.body
                    && review.submitted_at.is_some_and(|at| at >= since)
            }))
        };
        let accept = |reply| -> ForgeResult<Review> {
            let wire: WireReview = accepted(reply, Subject::PullRequest(number))?.json()?;
            wire.into_review(number).ok_or_else(|| {
                ForgeError::Backend(format!("GitHub left the review of #{number} pending"))
            })
        };
        self.http
            .send_unrepeated(&Request::new(Method::POST, url, Some(body)), made, accept)
            .await
    }
}
