//! The GitHub forge: the port over GitHub's REST API through octocrab, frugal with requests
//! (conditional listings, nothing asked twice) and careful with GitHub's limits and faults
//! (see `http`). Semantics follow the local forge.

mod actions;
mod checks;
mod create_key;
mod creates;
mod errors;
mod http;
mod issues;
mod labels;
mod listing;
mod merge;
mod pulls;
mod reviews;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use octocrab::Octocrab;
use tokio::sync::OnceCell;

use crate::ports::Clock;
use crate::ports::forge::{
    Comment, Forge, ForgeError, ForgeResult, ForgeUsage, Issue, IssueFilter, IssueState, Label,
    LabelChange, Listing, MergeOutcome, NewIssue, NewPullRequest, NewReview, Number, PullRequest,
    PullRequestEdit, PullRequestFilter, Review, Validator,
};
pub use actions::GithubActions;
pub use checks::{ChecksSettings, GithubChecks};
use errors::{Subject, accepted};
use http::{Http, Request};
pub use wire::Permissions;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than GitHub's own ten-second limit on a request's work.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A GitHub token. Neither `Debug` nor `Display` shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for what must hand it on (the HTTP client, git's credentials).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(hidden)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GitHub token (hidden)")
    }
}

/// Where the repository is and who asks.
#[derive(Clone)]
pub struct GithubSettings {
    /// `https://api.github.com`, a GitHub Enterprise `https://host/api/v3`, or a fake.
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    pub token: Token,
    pub clock: Arc<dyn Clock>,
    /// The least time between two mutating requests; GitHub asks for a second.
    pub mutation_interval: Duration,
}

/// The login [`Access`] gives for an installation token, which acts for no user.
pub const INSTALLATION: &str = "an installation token";

/// What the token may do: whose it is, its permissions on the repository, and the branch
/// work lands on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    pub login: String,
    pub permissions: Permissions,
    pub default_branch: String,
}

/// Where the repository's endpoints are.
#[derive(Debug, Clone)]
pub struct RepoUrls {
    /// The API's root.
    api: url::Url,
    owner: String,
    repo: String,
}

impl RepoUrls {
    /// The URL of `segments` under the API root, with `query`.
    fn root_url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("checked in GithubForge::new: the API URL can be a base")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url.into()
    }

    /// The URL of `segments` under the repository.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        let mut all = vec!["repos", self.owner.as_str(), self.repo.as_str()];
        all.extend_from_slice(segments);
        self.root_url(&all, query)
    }
}

pub struct GithubForge {
    /// Shared with the repository's [`GithubActions`]: one client, one view of the limits.
    http: Arc<Http>,
    urls: RepoUrls,
    clock: Arc<dyn Clock>,
    /// Creates whose outcome is unknown: their next attempt looks before it sends.
    unsettled: creates::Unsettled,
    default_branch: OnceCell<String>,
    /// The token's user's login, asked once: see [`Forge::own_login`].
    own_login: OnceCell<Option<String>>,
    /// Each issue as GitHub last answered it: a label edit, whose answers give the labels
    /// only, completes the issue from here instead of reading it again.
    seen: std::sync::Mutex<std::collections::HashMap<Number, Issue>>,
    /// Each issue's labels as the last labels answer listed them, with its `ETag`: what the
    /// read before a label edit confirms with a free `304`.
    label_tags: std::sync::Mutex<std::collections::HashMap<Number, labels::KnownLabels>>,
    /// The repository's labels, listed once by the first `ensure_label` and kept up to date by
    /// the next ones: setting up the label set reads one listing, not a label per label.
    labels: tokio::sync::Mutex<Option<Vec<Label>>>,
}

impl GithubForge {
    /// A client for one repository. Call it inside the Tokio runtime that will use it: the
    /// HTTP client's worker runs there.
    pub fn new(settings: GithubSettings) -> ForgeResult<Self> {
        let invalid_url = |why: &dyn fmt::Display| {
            ForgeError::Invalid(format!("`{}` is not an API URL: {why}", settings.api_url))
        };
        let api = url::Url::parse(&settings.api_url).map_err(|e| invalid_url(&e))?;
        if api.cannot_be_a_base() || !matches!(api.scheme(), "http" | "https") {
            return Err(invalid_url(&"it needs http or https"));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ForgeError::Backend(
                "the GitHub client needs a Tokio runtime".to_owned(),
            ));
        }
        let octocrab = Octocrab::builder()
            .base_uri(settings.api_url.as_str())
            .map_err(|e| invalid_url(&e))?
            .personal_token(settings.token.expose_secret().to_owned())
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT))
            .set_write_timeout(Some(READ_TIMEOUT))
            .build()
            .map_err(|e| ForgeError::Backend(format!("the GitHub client: {e}")))?;
        Ok(Self {
            http: Arc::new(Http::new(
                octocrab,
                &api,
                settings.clock.clone(),
                settings.mutation_interval,
            )),
            urls: RepoUrls {
                api,
                owner: settings.owner,
                repo: settings.repo,
            },
            clock: settings.clock,
            unsettled: creates::Unsettled::default(),
            default_branch: OnceCell::new(),
            own_login: OnceCell::new(),
            seen: std::sync::Mutex::default(),
            label_tags: std::sync::Mutex::default(),
            labels: tokio::sync::Mutex::default(),
        })
    }

    /// Whom the token acts for, its permissions on the repository, and the default branch.
    /// An installation token (a GitHub App's, or Actions' `GITHUB_TOKEN`) has no user:
    /// GitHub refuses it `GET /user` ("Resource not accessible by integration"), so its
    /// login is [`INSTALLATION`], and what it may do is what the repository's `permissions`
    /// say, as for any token.
    pub async fn access(&self) -> ForgeResult<Access> {
        let repository = self.repository().await?;
        Ok(Access {
            login: self.login().await?,
            permissions: repository.permissions.unwrap_or_default(),
            default_branch: repository.default_branch,
        })
    }

    /// The repository as GitHub describes it; its default branch is remembered.
    async fn repository(&self) -> ForgeResult<wire::Repository> {
        let url = self.repo_url(&[], &[]);
        let reply = accepted(
            self.http.send(&Request::get(url)).await?,
            Subject::Repository,
        )?;
        let repository: wire::Repository = reply.json()?;
        let _ = self.default_branch.set(repository.default_branch.clone());
        Ok(repository)
    }

    /// The token's user's login, or [`INSTALLATION`] for a token that has none.
    async fn login(&self) -> ForgeResult<String> {
        let url = self.url(&["user"], &[]);
        let reply = self.http.send(&Request::get(url)).await?;
        if reply.status == ::http::StatusCode::FORBIDDEN
            && reply.message().contains("not accessible by integration")
        {
            return Ok(INSTALLATION.to_owned());
        }
        Ok(accepted(reply, Subject::User)?.json::<wire::User>()?.login)
    }

    /// The repository's GitHub Actions, through this forge's client: what one asks counts
    /// against the same limits as what the other does.
    pub fn actions(&self) -> ForgeResult<GithubActions> {
        GithubActions::new(self.http.clone(), self.urls.clone(), self.clock.clone())
    }

    /// A commit's checks by the repository's CI, through this forge's client.
    pub fn commit_checks(&self, settings: ChecksSettings) -> GithubChecks {
        GithubChecks::new(
            self.http.clone(),
            self.urls.clone(),
            self.clock.clone(),
            settings,
        )
    }

    /// The URL of `segments` under the API root, with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        self.urls.root_url(segments, query)
    }

    /// The URL of `segments` under the repository.
    fn repo_url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        self.urls.url(segments, query)
    }
}

#[async_trait]
impl Forge for GithubForge {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.default_branch
            .get_or_try_init(|| async { Ok(self.repository().await?.default_branch) })
            .await
            .cloned()
    }
    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.list_labels().await
    }
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        self.put_label(label).await
    }
    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        self.open_issue(new).await
    }
    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.read_issue(number).await
    }
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        self.all_issues(filter).await
    }
    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        self.list_issues(filter, known).await
    }
    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        self.relabel(number, add, remove).await
    }
    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue> {
        self.update_issue_state(number, state).await
    }
    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        self.comment(number, body).await
    }
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        self.list_comments(number).await
    }
    async fn blocked_by(&self, number: Number) -> ForgeResult<Vec<Number>> {
        self.list_blocked_by(number).await
    }
    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        self.open_pull_request(new).await
    }
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        Ok(self.read_pull(number).await?.into())
    }
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        self.all_pull_requests(filter).await
    }
    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        self.list_pull_requests(filter, known).await
    }
    async fn merge_pull_request(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome> {
        self.merge(number, expected_head).await
    }
    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.close_pull(number).await
    }
    async fn edit_pull_request(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest> {
        self.edit_pull(number, edit).await
    }
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.list_reviews(number).await
    }
    async fn own_login(&self) -> ForgeResult<Option<String>> {
        let login = self
            .own_login
            .get_or_try_init(|| async {
                let login = self.login().await?;
                ForgeResult::Ok((login != INSTALLATION).then_some(login))
            })
            .await?;
        Ok(login.clone())
    }
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        self.submit_review(number, new).await
    }
    fn usage(&self) -> ForgeUsage {
        self.http.usage()
    }
    /// A pull request whose body names an issue shows on the issue's timeline, and one that
    /// closes it under the issue's Development.
    fn shows_mentions(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_itself() {
        let token = Token::new("ghp_secret123");
        assert!(!format!("{token:?}").contains("secret"));
        assert!(!format!("{token}").contains("secret"));
        assert_eq!(token.expose_secret(), "ghp_secret123");
    }
}
