//! Reviews of pull requests on the local forge: a person's verdict and its text, kept in the
//! `reviews` table.

use rusqlite::params;

use super::LocalForge;
use super::rows::{parse_time, require_pull_request};
use crate::ports::forge::{
    AuthorAssociation, ForgeError, ForgeResult, NewReview, Number, PullRequestState, Review,
    ReviewState,
};

impl LocalForge {
    pub(super) fn list_reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.read(|conn| {
            require_pull_request(conn, number)?;
            let mut statement = conn.prepare_cached(
                "SELECT id, author, state, body, submitted_at FROM reviews
                     WHERE pull_request = ?1 ORDER BY id",
            )?;
            let rows = statement
                .query_map([number], |r| {
                    Ok((
                        r.get::<_, u64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)?;
            Ok(rows
                .into_iter()
                .map(|(id, author, state, body, submitted_at)| Review {
                    id,
                    pull_request: number,
                    author,
                    // Whoever can write the local forge's database owns the repository.
                    author_association: AuthorAssociation::Owner,
                    state: review_state(&state),
                    body,
                    submitted_at: parse_time(Some(submitted_at)),
                })
                .collect())
        })
    }

    pub(super) fn submit_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        if new.state == ReviewState::Dismissed {
            return Err(ForgeError::Invalid(
                "a review is submitted as changes requested, approved or commented; \
                 dismissed is what a dismissal makes of one"
                    .to_owned(),
            ));
        }
        let now = self.now();
        self.write(|tx| {
            let pr = require_pull_request(tx, number)?;
            if pr.state != PullRequestState::Open {
                return Err(ForgeError::NotOpen {
                    number,
                    state: pr.state.as_str(),
                }
                .into());
            }
            tx.execute(
                "INSERT INTO reviews (pull_request, author, state, body, submitted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![number, self.actor, new.state.as_str(), new.body, now],
            )?;
            Ok(Review {
                id: tx.last_insert_rowid() as u64,
                pull_request: number,
                author: self.actor.clone(),
                author_association: AuthorAssociation::Owner,
                state: new.state,
                body: new.body.clone(),
                submitted_at: now.parse().ok(),
            })
        })
    }
}

/// A stored review state; the table's `CHECK` admits no other.
fn review_state(text: &str) -> ReviewState {
    match text {
        "changes_requested" => ReviewState::ChangesRequested,
        "approved" => ReviewState::Approved,
        "dismissed" => ReviewState::Dismissed,
        _ => ReviewState::Commented,
    }
}
