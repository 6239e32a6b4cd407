//! Issues and comments on GitHub. The issue endpoints also serve pull requests (they carry a
//! `pull_request` key): those are left out, as the port's issues are issues only.

use ::http::Method;
use serde_json::json;

use super::GithubForge;
use super::errors::{Subject, accepted};
use super::http::Request;
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::{WireComment, WireIssue};
use crate::ports::forge::{
    Comment, ForgeError, ForgeResult, Issue, IssueFilter, IssueState, Listing, NewIssue, Number,
};

impl GithubForge {
    /// The first page's URL of the issue listing for `filter`, lowest number first.
    fn issues_url(&self, filter: &IssueFilter) -> String {
        let state = filter.state.map_or("all", IssueState::as_str);
        let labels = filter.labels.join(",");
        let mut query = vec![
            ("state", state),
            ("sort", "created"),
            ("direction", "asc"),
            ("per_page", PER_PAGE_TEXT),
        ];
        if !labels.is_empty() {
            query.push(("labels", &labels));
        }
        self.repo_url(&["issues"], &query)
    }

    pub(super) async fn all_issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        let url = self.issues_url(filter);
        let items = listing::all(&self.http, url, Subject::Repository).await?;
        Ok(self.remember_all(only_issues(items)))
    }

    pub(super) async fn list_issues(
        &self,
        filter: &IssueFilter,
        known: Option<&crate::ports::forge::Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        let url = self.issues_url(filter);
        let name = format!("issues {url}");
        let listing = listing::if_changed(&self.http, &name, url, Subject::Repository, known);
        Ok(match listing.await? {
            Listing::NotModified => Listing::NotModified,
            Listing::Modified { items, validator } => Listing::Modified {
                items: self.remember_all(only_issues(items)),
                validator,
            },
        })
    }

    pub(super) async fn read_issue(&self, number: Number) -> ForgeResult<Issue> {
        let url = self.repo_url(&["issues", &number.to_string()], &[]);
        let reply = accepted(
            self.http.send(&Request::get(url)).await?,
            Subject::Issue(number),
        )?;
        let issue = issue_only(reply.json()?, number)?;
        Ok(self.remember(issue))
    }

    /// Keeps `issues` as GitHub answered them, for [`Self::as_seen`]; returns them.
    fn remember_all(&self, issues: Vec<Issue>) -> Vec<Issue> {
        let mut seen = self.seen.lock().expect("the seen issues' lock");
        for issue in &issues {
            seen.insert(issue.number, issue.clone());
        }
        issues
    }

    fn remember(&self, issue: Issue) -> Issue {
        let mut seen = self.seen.lock().expect("the seen issues' lock");
        seen.insert(issue.number, issue.clone());
        issue
    }

    /// Whether GitHub answered with issue `number` before.
    pub(super) fn has_seen(&self, number: Number) -> bool {
        let seen = self.seen.lock().expect("the seen issues' lock");
        seen.contains_key(&number)
    }

    /// Issue `number` as GitHub last answered it, with `labels`: what a label edit made of
    /// it, known from the edit's answers (labels only) without reading it again. Its
    /// `updated_at` is as last read. `None` for an issue not seen yet.
    pub(super) fn as_seen(&self, number: Number, labels: Vec<String>) -> Option<Issue> {
        let mut seen = self.seen.lock().expect("the seen issues' lock");
        let issue = seen.get_mut(&number)?;
        issue.labels = labels;
        Some(issue.clone())
    }

    pub(super) async fn open_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        if new.title.trim().is_empty() {
            return Err(ForgeError::Invalid("an issue needs a title".to_owned()));
        }
        let body = json!({
            "title": new.title,
            "body": new.body,
            "labels": new.labels,
            "assignees": new.assignees,
        });
        let request = Request::new(Method::POST, self.repo_url(&["issues"], &[]), Some(body));
        let look = |key| self.issue_made(new, key);
        self.create_once(&request, look, |reply| {
            let reply = accepted(reply, Subject::Repository)?;
            Ok(Issue::from(reply.json::<WireIssue>()?))
        })
        .await
        .map(|issue| self.remember(issue))
    }

    pub(super) async fn update_issue_state(
        &self,
        number: Number,
        state: IssueState,
    ) -> ForgeResult<Issue> {
        let url = self.repo_url(&["issues", &number.to_string()], &[]);
        let body = json!({ "state": state.as_str() });
        let reply = self
            .http
            .send(&Request::new(Method::PATCH, url, Some(body)))
            .await?;
        let issue = issue_only(accepted(reply, Subject::Issue(number))?.json()?, number)?;
        Ok(self.remember(issue))
    }

    pub(super) async fn comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        if body.trim().is_empty() {
            return Err(ForgeError::Invalid("a comment needs a body".to_owned()));
        }
        let url = self.repo_url(&["issues", &number.to_string(), "comments"], &[]);
        let request = Request::new(Method::POST, url, Some(json!({ "body": body })));
        let look = |key| self.comment_made(number, key);
        self.create_once(&request, look, |reply| {
            let reply = accepted(reply, Subject::IssueOrPullRequest(number))?;
            Ok(reply.json::<WireComment>()?.into_comment(number))
        })
        .await
    }

    pub(super) async fn list_comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        let url = self.repo_url(
            &["issues", &number.to_string(), "comments"],
            &[("per_page", PER_PAGE_TEXT)],
        );
        self.read_comments(url, number).await
    }

    /// `GET .../issues/{n}/dependencies/blocked_by`: the issues GitHub records as blocking it.
    pub(super) async fn list_blocked_by(&self, number: Number) -> ForgeResult<Vec<Number>> {
        let url = self.repo_url(
            &["issues", &number.to_string(), "dependencies", "blocked_by"],
            &[("per_page", PER_PAGE_TEXT)],
        );
        let subject = Subject::IssueOrPullRequest(number);
        let blockers: Vec<WireIssue> = listing::all(&self.http, url, subject).await?;
        Ok(blockers.into_iter().map(|issue| issue.number).collect())
    }

    pub(super) async fn read_comments(
        &self,
        url: String,
        number: Number,
    ) -> ForgeResult<Vec<Comment>> {
        let subject = Subject::IssueOrPullRequest(number);
        let comments: Vec<WireComment> = listing::all(&self.http, url, subject).await?;
        Ok(comments
            .into_iter()
            .map(|comment| comment.into_comment(number))
            .collect())
    }
}

/// The issues among what an issue listing returned, lowest number first, each once (a listing
/// that changes while its pages are read may show one on two pages).
pub(super) fn only_issues(items: Vec<WireIssue>) -> Vec<Issue> {
    let mut issues: Vec<Issue> = items
        .into_iter()
        .filter(|item| !item.is_pull_request())
        .map(Issue::from)
        .collect();
    issues.sort_by_key(|issue| issue.number);
    issues.dedup_by_key(|issue| issue.number);
    issues
}

/// `item` as an issue, unless it is a pull request.
fn issue_only(item: WireIssue, number: Number) -> ForgeResult<Issue> {
    if item.is_pull_request() {
        return Err(ForgeError::NotFound {
            kind: "issue",
            number,
        });
    }
    Ok(item.into())
}
