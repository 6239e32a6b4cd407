//! The forge port: issues, labels, comments and pull requests, shaped after GitHub's semantics
//! so that the GitHub backend and the embedded local forge are interchangeable.

use async_trait::async_trait;
use jiff::Timestamp;
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

/// Issues and pull requests share one sequence of numbers, as on GitHub.
pub type Number = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub number: Number,
    pub title: String,
    pub body: String,
    pub state: IssueState,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// How many comments it has (GitHub's `comments`): with none, listing them is not needed.
    #[serde(default)]
    pub comments: u64,
    /// How many open issues the forge itself records as blocking this one (GitHub's issue
    /// dependencies: `issue_dependencies_summary.blocked_by`); 0 on a forge without them.
    /// With none, [`Forge::blocked_by`] need not be asked.
    #[serde(default)]
    pub open_blockers: u64,
}

impl Issue {
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    /// Six hex digits, without `#`.
    pub color: String,
    pub description: String,
}

/// What `ensure_label` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelChange {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub issue: Number,
    pub author: String,
    /// The author's relation to the repository, as GitHub reports it: what decides whether
    /// the comment's words may reach an agent's prompt.
    pub author_association: AuthorAssociation,
    pub body: String,
    pub created_at: Timestamp,
}

/// GitHub's `author_association`: how a comment's author relates to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorAssociation {
    Owner,
    Member,
    Collaborator,
    Contributor,
    FirstTimeContributor,
    FirstTimer,
    Mannequin,
    None,
}

impl AuthorAssociation {
    /// The owner, members of the owning organisation and collaborators: people who can push.
    pub fn is_trusted(self) -> bool {
        matches!(self, Self::Owner | Self::Member | Self::Collaborator)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestState {
    Open,
    Closed,
    Merged,
}

impl PullRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Merged => "merged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: Number,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub state: PullRequestState,
    /// The head branch's tip: live while open, as merged or closed once it is; `None` if the
    /// branch was gone.
    pub head_sha: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub merged_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    pub title: String,
    pub body: String,
    pub head: String,
    /// `None`: the forge's default branch.
    pub base: Option<String>,
}

/// A pull request's new title and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEdit {
    pub title: String,
    pub body: String,
}

/// What a review of a pull request says, as GitHub's review `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    ChangesRequested,
    Approved,
    Commented,
    /// A review whose verdict was taken back.
    Dismissed,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChangesRequested => "changes_requested",
            Self::Approved => "approved",
            Self::Commented => "commented",
            Self::Dismissed => "dismissed",
        }
    }
}

/// A submitted review of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    pub pull_request: Number,
    pub author: String,
    /// As for comments: whether the review's words may reach an agent's prompt.
    pub author_association: AuthorAssociation,
    pub state: ReviewState,
    pub body: String,
    pub submitted_at: Option<Timestamp>,
}

/// A review to submit: its verdict (not `Dismissed`, which only a person's dismissal makes)
/// and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub state: ReviewState,
    pub body: String,
}

/// Which issues to list. `state: None` lists open and closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueFilter {
    pub state: Option<IssueState>,
    /// Issues carrying every one of these labels.
    pub labels: Vec<String>,
}

impl IssueFilter {
    pub fn open() -> Self {
        Self {
            state: Some(IssueState::Open),
            labels: Vec::new(),
        }
    }
}

/// Which pull requests to list. `state: None` lists all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequestFilter {
    pub state: Option<PullRequestState>,
    pub head: Option<String>,
}

/// An opaque token naming one state of one listing, as an HTTP `ETag` does: handed back with the
/// next request for the same listing, it lets the forge answer "not modified" instead of sending
/// everything again. Only the forge that issued it can interpret it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validator(String);

impl Validator {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer to a conditional listing: GitHub's `304 Not Modified`, or `200` with the items
/// and the `ETag` to send next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing<T> {
    /// Nothing the listing returns has changed since the validator was issued.
    NotModified,
    Modified {
        items: Vec<T>,
        validator: Validator,
    },
}

/// A merged pull request and the issues its closing keywords closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeOutcome {
    pub pull_request: PullRequest,
    pub closed_issues: Vec<Number>,
}

/// What can go wrong talking to a forge. Each says what to do about it.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ForgeError {
    #[error("there is no {kind} #{number}")]
    #[diagnostic(help(
        "`clambake issue list --state all` and `clambake pr list --state all` list what exists"
    ))]
    NotFound { kind: &'static str, number: Number },
    #[error("there is no workflow .github/workflows/{file} on the repository's default branch")]
    #[diagnostic(help(
        "`clambake actions install` writes Clambake's workflows: commit and push them to the \
         default branch"
    ))]
    NoWorkflow { file: String },
    #[error("there is no workflow run {id}")]
    #[diagnostic(help("`clambake actions status` lists the recent runs of Clambake's workflows"))]
    NoRun { id: u64 },
    #[error("there is no branch `{0}`")]
    #[diagnostic(help("`git branch --list` shows the branches"))]
    NoSuchBranch(String),
    #[error("{0}")]
    Invalid(String),
    #[error("pull request #{number} is {state}, not open")]
    NotOpen { number: Number, state: &'static str },
    #[error("pull request #{number} conflicts with `{base}` in: {}", paths.join(", "))]
    #[diagnostic(help(
        "merge `{base}` into the head branch and resolve the conflicts, then try again"
    ))]
    MergeConflict {
        number: Number,
        base: String,
        paths: Vec<String>,
    },
    #[error("`{branch}` moved while pull request #{number} was being merged; nothing was changed")]
    #[diagnostic(help("run the merge again: it will merge onto the new tip"))]
    BaseMoved { number: Number, branch: String },
    #[error("a pull request from `{head}` into `{base}` is already open: #{number}")]
    DuplicatePullRequest {
        number: Number,
        head: String,
        base: String,
    },
    #[error("`{branch}` moved while pull request #{number} was being merged; nothing was changed")]
    #[diagnostic(help("read the pull request again and merge the head you reviewed"))]
    HeadMoved { number: Number, branch: String },
    #[error("the forge's rate limit is spent until {until}")]
    #[diagnostic(help("Clambake waits it out; nothing was changed by the refused request"))]
    RateLimited { until: Timestamp },
    #[error("the forge refused the credentials: {0}")]
    #[diagnostic(help(
        "set GH_TOKEN or GITHUB_TOKEN, or log in with `gh auth login`; the token needs read and \
         write access to issues, pull requests and contents"
    ))]
    Unauthorized(String),
    #[error("the forge refused the change as conflicting: {0}")]
    Conflict(String),
    /// The conversation of issue or pull request `0` is locked, and the forge takes no comment
    /// on it from this token (GitHub takes them only from collaborators with write access, not
    /// from an app's token); its labels can still be edited.
    #[error("#{0} is locked: the forge takes no comment on it from this token")]
    #[diagnostic(help(
        "unlock the conversation, or give Clambake the token of a collaborator with write access"
    ))]
    Locked(Number),
    #[error("the forge did not answer in time, or failed: {0}")]
    #[diagnostic(help("this is usually passing: try again (the run loop does on its next pass)"))]
    Transient(String),
    #[error("{0}")]
    #[diagnostic(code(clambake::forge::backend))]
    Backend(String),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Damaged(#[from] crate::ports::database::DamagedDatabase),
}

pub type ForgeResult<T> = Result<T, ForgeError>;

/// What one process has asked of a forge so far, and what the forge's rate limit says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeUsage {
    /// Reads answered with content (a `200` on GitHub): charged to the rate limit.
    pub fresh_reads: u64,
    /// Conditional reads answered "not modified" (`304`): free.
    pub not_modified: u64,
    /// Requests that change something: charged, and spaced apart on GitHub.
    pub mutations: u64,
    /// The last rate-limit headers seen; `None` for a forge without one.
    pub rate_limit: Option<RateLimit>,
}

/// GitHub's `x-ratelimit-*` headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Timestamp,
}

/// A place that holds issues and pull requests. Branch contents travel through git; the forge
/// only names branches and merges them.
#[async_trait]
pub trait Forge: Send + Sync {
    /// The branch pull requests target by default.
    async fn default_branch(&self) -> ForgeResult<String>;

    async fn labels(&self) -> ForgeResult<Vec<Label>>;
    /// Creates the label, or brings its colour and description up to date.
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange>;

    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue>;
    async fn issue(&self, number: Number) -> ForgeResult<Issue>;
    /// Matching issues, lowest number first.
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>>;
    /// `issues` as a conditional request (`If-None-Match` on GitHub): `NotModified` when
    /// nothing this listing returns changed since `known` was issued for the same filter.
    /// Without `known`, or with one issued for another filter, the items always come back.
    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>>;
    /// Adds and removes labels in one step; unknown labels are created, as GitHub does.
    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue>;
    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue>;
    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment>;
    /// Comments on an issue or pull request, oldest first.
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>>;

    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest>;
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest>;
    /// Matching pull requests, lowest number first.
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>>;
    /// `pull_requests` as a conditional request, as `issues_if_changed` is for issues; a head
    /// branch that moves changes the listing.
    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>>;
    /// Merges with a merge commit; closing keywords in the body close their issues. With
    /// `expected_head`, refuses with [`ForgeError::HeadMoved`] unless the head is still there.
    async fn merge_pull_request(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome>;
    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest>;
    /// Replaces an open pull request's title and body: a bundle rebuilt without some members
    /// says what it carries now. Answers [`ForgeError::NotOpen`] when it is closed or merged
    /// (GitHub may have changed the text all the same).
    async fn edit_pull_request(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest>;

    /// The submitted reviews of a pull request, oldest first.
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>>;
    /// Submits a review of an open pull request.
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review>;
    /// The login Clambake's comments and reviews are written as, when the forge says: its own
    /// words are trusted whatever their author association. `None` for a GitHub installation
    /// token, which has no user to ask about.
    async fn own_login(&self) -> ForgeResult<Option<String>>;
    /// The issues the forge itself records as blocking `number` (GitHub's issue
    /// dependencies), open or closed; none on a forge without them.
    async fn blocked_by(&self, number: Number) -> ForgeResult<Vec<Number>> {
        let _ = number;
        Ok(Vec::new())
    }

    /// The requests this process made and the last rate limit seen.
    fn usage(&self) -> ForgeUsage {
        ForgeUsage::default()
    }

    /// Whether the forge itself shows, on an issue, the pull requests whose body names it
    /// (GitHub's cross-references): a comment saying so would only repeat it.
    fn shows_mentions(&self) -> bool {
        false
    }
}
