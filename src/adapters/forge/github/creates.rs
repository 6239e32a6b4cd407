//! Creates that must not happen twice (an issue, a comment, a pull request) though an answer
//! may be lost. Before the first send, a [`Mark`] notes the newest number or id there is; after
//! a failure, only an item newer than the mark and made as asked is taken for the create's
//! work, never one that was there before (the same comment posted minutes ago). A create whose
//! outcome stays unknown, because the look for it failed too, is remembered with its mark: the
//! next attempt at the same create in this process looks again before it sends anything.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::GithubForge;
use super::errors::{Subject, accepted};
use super::http::{Reply, Request};
use super::issues::only_issues;
use super::listing::PER_PAGE_TEXT;
use super::wire::WireIssue;
use crate::ports::forge::{Comment, ForgeError, ForgeResult, Issue, NewIssue, Number};

/// How far back the comments of an issue are read to mark the newest: GitHub's clock and ours
/// may differ by this much.
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// The newest issue or pull request number, or comment id, before a create was first sent;
/// `None` when there was none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub newest: Option<u64>,
    /// For comments: from when they were read, and are looked for again.
    pub since: Option<Timestamp>,
}

impl Mark {
    /// Whether the item numbered `id` was made after the mark was taken.
    pub fn precedes(&self, id: u64) -> bool {
        self.newest.is_none_or(|newest| id > newest)
    }
}

/// Creates whose outcome is unknown, by what they send, with the mark of their first send.
#[derive(Debug, Default)]
pub struct Unsettled(Mutex<HashMap<String, Mark>>);

impl Unsettled {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Mark>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a create sends, to know it again: method, URL and body.
fn identity(request: &Request) -> String {
    let body = request.body.as_ref().map(ToString::to_string);
    format!(
        "{} {} {}",
        request.method,
        request.url,
        body.unwrap_or_default()
    )
}

impl GithubForge {
    /// Sends the create `request` at most once in effect: `mark` notes what there is before
    /// the first send, `look` finds what a lost answer made (newer than the mark), `accept`
    /// reads an answer that came. Unless an answer came or `look` found the work, the create
    /// stays unsettled and its next attempt looks before sending.
    pub(super) async fn create_once<T, Marking, Look, Found>(
        &self,
        request: &Request,
        mark: Marking,
        look: Look,
        accept: impl FnOnce(Reply) -> ForgeResult<T>,
    ) -> ForgeResult<T>
    where
        Marking: Future<Output = ForgeResult<Mark>>,
        Look: Fn(Mark) -> Found,
        Found: Future<Output = ForgeResult<Option<T>>>,
    {
        let key = identity(request);
        let remembered = self.unsettled.entries().get(&key).copied();
        let mark = match remembered {
            Some(mark) => {
                if let Some(found) = look(mark).await? {
                    self.unsettled.entries().remove(&key);
                    return Ok(found);
                }
                mark
            }
            None => {
                let mark = mark.await?;
                self.unsettled.entries().insert(key.clone(), mark);
                mark
            }
        };
        let made = || {
            let found = look(mark);
            async move { Ok(found.await?.map(Ok)) }
        };
        let settled = self
            .http
            .send_unrepeated(request, made, |reply| Ok(accept(reply)))
            .await
            .map_err(|error| match error {
                ForgeError::Transient(why) => ForgeError::Transient(format!(
                    "{why}; whether the create took effect is unknown, and its next try here \
                     looks for it first"
                )),
                error => error,
            })?;
        self.unsettled.entries().remove(&key);
        settled
    }

    /// The newest issue or pull request number (they share one sequence), for a mark.
    pub(super) async fn issue_mark(&self) -> ForgeResult<Mark> {
        let url = self.repo_url(
            &["issues"],
            &[
                ("state", "all"),
                ("sort", "created"),
                ("direction", "desc"),
                ("per_page", "1"),
            ],
        );
        let reply = accepted(
            self.http.send(&Request::get(url)).await?,
            Subject::Repository,
        )?;
        let newest: Vec<WireIssue> = reply.json()?;
        Ok(Mark {
            newest: newest.first().map(|item| item.number),
            since: None,
        })
    }

    /// The issue with `new`'s title and body made after `mark`, newest first: what a create
    /// whose answer was lost made, if it made anything. It is among the hundred newest issues
    /// and pull requests unless a hundred others were made since the mark.
    pub(super) async fn issue_made(
        &self,
        new: &NewIssue,
        mark: Mark,
    ) -> ForgeResult<Option<Issue>> {
        let url = self.repo_url(
            &["issues"],
            &[
                ("state", "all"),
                ("sort", "created"),
                ("direction", "desc"),
                ("per_page", PER_PAGE_TEXT),
            ],
        );
        let reply = accepted(
            self.http.send(&Request::get(url)).await?,
            Subject::Repository,
        )?;
        let issues = only_issues(reply.json()?);
        Ok(issues.into_iter().rev().find(|issue| {
            mark.precedes(issue.number) && issue.title == new.title && issue.body == new.body
        }))
    }

    /// The newest comment id on `number` among those changed lately: an older comment is not
    /// among those that [`Mark::since`] finds again.
    pub(super) async fn comment_mark(&self, number: Number) -> ForgeResult<Mark> {
        let since = self.clock.now() - CLOCK_SKEW;
        let comments = self.comments_since(number, Some(since)).await?;
        Ok(Mark {
            newest: comments.iter().map(|comment| comment.id).max(),
            since: Some(since),
        })
    }

    /// The newest comment on `number` with `body` made after `mark`. Who wrote it is not
    /// asked: an installation token has no user to ask `GET /user` about.
    pub(super) async fn comment_made(
        &self,
        number: Number,
        body: &str,
        mark: Mark,
    ) -> ForgeResult<Option<Comment>> {
        let comments = self.comments_since(number, mark.since).await?;
        Ok(comments
            .into_iter()
            .rev()
            .find(|comment| mark.precedes(comment.id) && comment.body == body))
    }

    /// The comments on `number` (changed at `since` or later), oldest first.
    async fn comments_since(
        &self,
        number: Number,
        since: Option<Timestamp>,
    ) -> ForgeResult<Vec<Comment>> {
        let since = since.map(|since| since.to_string());
        let mut query = vec![("per_page", PER_PAGE_TEXT)];
        if let Some(since) = &since {
            query.push(("since", since));
        }
        let url = self.repo_url(&["issues", &number.to_string(), "comments"], &query);
        self.read_comments(url, number).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_newer_than_the_mark_follows_it() {
        let mark = Mark {
            newest: Some(7),
            since: None,
        };
        assert!(!mark.precedes(6));
        assert!(!mark.precedes(7));
        assert!(mark.precedes(8));
        let empty = Mark {
            newest: None,
            since: None,
        };
        assert!(empty.precedes(1));
    }

    #[test]
    fn a_create_is_known_by_what_it_sends() {
        let body = |text: &str| Some(serde_json::json!({ "body": text }));
        let post = |text| Request::new(::http::Method::POST, "http://h/x".to_owned(), body(text));
        assert_eq!(identity(&post("a")), identity(&post("a")));
        assert_ne!(identity(&post("a")), identity(&post("b")));
    }
}
