//! Creates that must not happen twice (an issue, a comment, a pull request) though an answer
//! may be lost. Each create carries a key of its own, a random nonce in an HTML comment at the
//! end of the body it sends (invisible where GitHub renders it, and taken off again wherever
//! a body is read); after a failure, only an item carrying that key is taken for the create's
//! work, never one that was there before with the same text. This costs no request before the
//! send. A create whose outcome stays unknown, because the look for it failed too, is
//! remembered with its key: the next attempt at the same create in this process looks for it
//! before it sends anything, and sends the same key.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::GithubForge;
use super::create_key::CreateKey;
use super::errors::{Subject, accepted};
use super::http::{Reply, Request};
use super::issues::only_issues;
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::{WireComment, WireIssue};
use crate::ports::forge::{Comment, ForgeError, ForgeResult, Issue, NewIssue, Number, PullRequest};

/// How far back before a create's first send its comment is looked for: GitHub's clock and
/// ours may differ by this much.
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// Creates whose outcome is unknown, by what they send, with their key.
#[derive(Debug, Default)]
pub struct Unsettled(Mutex<HashMap<String, CreateKey>>);

impl Unsettled {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, CreateKey>> {
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

/// `request` with `key` at the end of the `body` field of what it sends; `None` when the body
/// is too long to carry it.
fn keyed(request: &Request, key: &CreateKey) -> Option<Request> {
    let mut request = request.clone();
    if let Some(fields) = request.body.as_mut().and_then(|body| body.as_object_mut()) {
        let body = fields
            .get("body")
            .and_then(|b| b.as_str())
            .unwrap_or_default();
        let marked = key.marked(body)?;
        fields.insert("body".to_owned(), marked.into());
    }
    Some(request)
}

impl GithubForge {
    /// Sends the create `request` at most once in effect, its body keyed: `look` finds what a
    /// lost answer made (carrying the key, as GitHub holds it), `accept` reads an answer that
    /// came. Unless an answer came or `look` found the work, the create stays unsettled and
    /// its next attempt looks before sending.
    pub(super) async fn create_once<T, Look, Found>(
        &self,
        request: &Request,
        look: Look,
        accept: impl FnOnce(Reply) -> ForgeResult<T>,
    ) -> ForgeResult<T>
    where
        Look: Fn(CreateKey) -> Found,
        Found: Future<Output = ForgeResult<Option<T>>>,
    {
        let identity = identity(request);
        let remembered = self.unsettled.entries().get(&identity).cloned();
        let key = match remembered {
            Some(key) => {
                if let Some(found) = look(key.clone()).await? {
                    self.unsettled.entries().remove(&identity);
                    return Ok(found);
                }
                key
            }
            None => {
                let key = CreateKey::new(self.clock.now());
                self.unsettled
                    .entries()
                    .insert(identity.clone(), key.clone());
                key
            }
        };
        let Some(sent) = keyed(request, &key) else {
            self.unsettled.entries().remove(&identity);
            return self.create_unkeyed(request, accept).await;
        };
        let made = || {
            let found = look(key.clone());
            async move { Ok(found.await?.map(Ok)) }
        };
        let settled = self
            .http
            .send_unrepeated(&sent, made, |reply| Ok(accept(reply)))
            .await
            .map_err(|error| match error {
                ForgeError::Transient(why) => ForgeError::Transient(format!(
                    "{why}; whether the create took effect is unknown, and its next try here \
                     looks for it first"
                )),
                error => error,
            })?;
        self.unsettled.entries().remove(&identity);
        settled
    }

    /// Sends a create whose body is too long to carry a key. Nothing could tell its work
    /// from what was there before, so a failed send is never repeated: its outcome is
    /// reported unknown.
    async fn create_unkeyed<T>(
        &self,
        request: &Request,
        accept: impl FnOnce(Reply) -> ForgeResult<T>,
    ) -> ForgeResult<T> {
        let unknown = || async {
            Err(ForgeError::Transient(format!(
                "{} failed, and its body is too long to carry the key that would find what it \
                 made: whether it took effect is unknown, so it is not sent again",
                request.describe()
            )))
        };
        self.http.send_unrepeated(request, unknown, accept).await
    }

    /// The issue with `new`'s title that carries `key`: what a create whose answer was lost
    /// made, if it made anything. It is among the hundred newest issues and pull requests
    /// unless a hundred others were made since.
    pub(super) async fn issue_made(
        &self,
        new: &NewIssue,
        key: CreateKey,
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
        let issues: Vec<WireIssue> = reply.json()?;
        // Newest first: the oldest carrying the key is the create's, any later one a copy of it
        // that someone made after seeing it.
        let made = issues.into_iter().rfind(|issue| {
            issue.title == new.title && issue.body.as_deref().is_some_and(|b| key.carried_by(b))
        });
        Ok(only_issues(made.into_iter().collect()).pop())
    }

    /// The comment on `number` that carries `key`. Who wrote it is not asked: an installation
    /// token has no user to ask `GET /user` about.
    pub(super) async fn comment_made(
        &self,
        number: Number,
        key: CreateKey,
    ) -> ForgeResult<Option<Comment>> {
        let since = key.first_sent - CLOCK_SKEW;
        let url = self.comments_since_url(number, since);
        let comments = self.read_sent_comments(url, number).await?;
        Ok(comments
            .into_iter()
            .find(|(sent, _)| key.carried_by(sent))
            .map(|(_, comment)| comment))
    }

    /// The URL of the comments on `number` changed at `since` or later.
    fn comments_since_url(&self, number: Number, since: Timestamp) -> String {
        let since = since.to_string();
        let query = [("per_page", PER_PAGE_TEXT), ("since", since.as_str())];
        self.repo_url(&["issues", &number.to_string(), "comments"], &query)
    }

    /// The comments at `url`, each with its body as GitHub holds it, key and all.
    async fn read_sent_comments(
        &self,
        url: String,
        number: Number,
    ) -> ForgeResult<Vec<(String, Comment)>> {
        let subject = Subject::IssueOrPullRequest(number);
        let comments: Vec<WireComment> = listing::all(&self.http, url, subject).await?;
        Ok(comments
            .into_iter()
            .map(|comment| {
                let sent = comment.body.clone().unwrap_or_default();
                (sent, comment.into_comment(number))
            })
            .collect())
    }

    /// The pull request from `head` into `base` that carries `key`, if one is open.
    pub(super) async fn pull_made(
        &self,
        head: &str,
        base: &str,
        key: CreateKey,
    ) -> ForgeResult<Option<PullRequest>> {
        let open = self.open_wire_from(head, base).await?;
        Ok(open
            .filter(|pull| pull.body.as_deref().is_some_and(|b| key.carried_by(b)))
            .map(PullRequest::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_goes_into_the_body_field_of_what_is_sent() {
        let key = CreateKey::new(Timestamp::UNIX_EPOCH);
        let request = Request::new(
            ::http::Method::POST,
            "http://h/x".to_owned(),
            Some(serde_json::json!({ "title": "t", "body": "b" })),
        );
        let sent = keyed(&request, &key).unwrap();
        let body = sent.body.unwrap();
        assert_eq!(body["title"], "t");
        assert!(key.carried_by(body["body"].as_str().unwrap()));
    }

    #[test]
    fn a_create_is_known_by_what_it_sends() {
        let body = |text: &str| Some(serde_json::json!({ "body": text }));
        let post = |text| Request::new(::http::Method::POST, "http://h/x".to_owned(), body(text));
        assert_eq!(identity(&post("a")), identity(&post("a")));
        assert_ne!(identity(&post("a")), identity(&post("b")));
    }
}
