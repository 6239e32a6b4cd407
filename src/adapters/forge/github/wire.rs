//! The parts of GitHub's JSON that the port needs, and their translation into its types.
//! Fields GitHub may send as `null` or leave out are optional here.

use jiff::Timestamp;
use serde::Deserialize;

use super::create_key::unmarked;

use crate::ports::forge::{
    AuthorAssociation, Comment, Issue, IssueState, Label, Number, PullRequest, PullRequestState,
};

#[derive(Debug, Deserialize)]
pub struct User {
    pub login: String,
}

/// The login GitHub shows for a deleted account.
const GHOST: &str = "ghost";

pub fn login(user: Option<User>) -> String {
    user.map_or_else(|| GHOST.to_owned(), |user| user.login)
}

#[derive(Debug, Deserialize)]
pub struct WireLabel {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl From<WireLabel> for Label {
    fn from(label: WireLabel) -> Self {
        Self {
            name: label.name,
            color: label.color.unwrap_or_default().to_ascii_lowercase(),
            description: label.description.unwrap_or_default(),
        }
    }
}

/// An issue's label: GitHub's description allows a bare name as well as an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IssueLabel {
    Name(String),
    Label(WireLabel),
}

impl IssueLabel {
    fn into_name(self) -> String {
        match self {
            Self::Name(name) => name,
            Self::Label(label) => label.name,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireIssue {
    pub number: Number,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    state: IssueState,
    #[serde(default)]
    labels: Vec<IssueLabel>,
    #[serde(default)]
    assignees: Option<Vec<User>>,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default)]
    closed_at: Option<Timestamp>,
    #[serde(default)]
    comments: u64,
    /// GitHub's issue dependencies, counted; absent where the server has none.
    #[serde(default)]
    issue_dependencies_summary: Option<DependenciesSummary>,
    /// There on the pull requests that issue endpoints also return.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

/// `issue_dependencies_summary`: `blocked_by` counts the open blockers only.
#[derive(Debug, Deserialize)]
pub struct DependenciesSummary {
    blocked_by: u64,
}

impl WireIssue {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }
}

impl From<WireIssue> for Issue {
    fn from(issue: WireIssue) -> Self {
        Self {
            number: issue.number,
            title: issue.title,
            body: unmarked(issue.body.unwrap_or_default()),
            state: issue.state,
            labels: issue
                .labels
                .into_iter()
                .map(IssueLabel::into_name)
                .collect(),
            assignees: issue
                .assignees
                .unwrap_or_default()
                .into_iter()
                .map(|user| user.login)
                .collect(),
            created_at: issue.created_at,
            updated_at: issue.updated_at,
            closed_at: issue.closed_at,
            comments: issue.comments,
            open_blockers: issue
                .issue_dependencies_summary
                .map_or(0, |summary| summary.blocked_by),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Branch {
    #[serde(rename = "ref")]
    pub name: String,
    #[serde(default)]
    pub sha: Option<String>,
    /// The repository the branch is in; `null` for a deleted fork's.
    #[serde(default)]
    pub repo: Option<Repository>,
}

#[derive(Debug, Deserialize)]
pub struct WirePull {
    pub number: Number,
    title: String,
    #[serde(default)]
    pub body: Option<String>,
    state: IssueState,
    pub head: Branch,
    pub base: Branch,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default)]
    closed_at: Option<Timestamp>,
    #[serde(default)]
    pub merged_at: Option<Timestamp>,
    /// Whether GitHub can merge it; `None` while it works that out (or in listings).
    #[serde(default)]
    pub mergeable: Option<bool>,
}

impl From<WirePull> for PullRequest {
    fn from(pull: WirePull) -> Self {
        let state = match (pull.state, pull.merged_at) {
            (_, Some(_)) => PullRequestState::Merged,
            (IssueState::Open, None) => PullRequestState::Open,
            (IssueState::Closed, None) => PullRequestState::Closed,
        };
        Self {
            number: pull.number,
            title: pull.title,
            body: unmarked(pull.body.unwrap_or_default()),
            head: pull.head.name,
            base: pull.base.name,
            state,
            head_sha: pull.head.sha,
            // GitHub fills it in for open pull requests too (a test merge): only a merge
            // made one that landed.
            merge_commit_sha: pull.merge_commit_sha.filter(|_| pull.merged_at.is_some()),
            created_at: pull.created_at,
            updated_at: pull.updated_at,
            closed_at: pull.closed_at,
            merged_at: pull.merged_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireComment {
    id: u64,
    #[serde(default)]
    user: Option<User>,
    /// Kept as text: an association GitHub adds later reads as untrusted, not as a failure.
    author_association: String,
    #[serde(default)]
    pub body: Option<String>,
    created_at: Timestamp,
}

impl WireComment {
    pub fn into_comment(self, issue: Number) -> Comment {
        Comment {
            id: self.id,
            issue,
            author: login(self.user),
            author_association: association(&self.author_association),
            body: unmarked(self.body.unwrap_or_default()),
            created_at: self.created_at,
        }
    }
}

/// GitHub's `author_association`; one this version does not know is `None`, trusted with
/// nothing.
pub fn association(text: &str) -> AuthorAssociation {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .unwrap_or(AuthorAssociation::None)
}

/// What the token may do in the repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Permissions {
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub maintain: bool,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub triage: bool,
    #[serde(default)]
    pub pull: bool,
}

#[derive(Debug, Deserialize)]
pub struct Repository {
    pub default_branch: String,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

#[derive(Debug, Deserialize)]
pub struct Merged {
    #[serde(default)]
    pub merged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn associations_github_may_add_later_are_trusted_with_nothing() {
        assert_eq!(association("MEMBER"), AuthorAssociation::Member);
        assert_eq!(
            association("FIRST_TIME_CONTRIBUTOR"),
            AuthorAssociation::FirstTimeContributor
        );
        assert_eq!(association("SOMETHING_NEW"), AuthorAssociation::None);
    }

    #[test]
    fn a_pull_request_is_merged_when_github_says_when() {
        let pull: WirePull = serde_json::from_value(serde_json::json!({
            "number": 7, "title": "t", "body": null, "state": "closed",
            "head": {"ref": "feature", "sha": "abc"}, "base": {"ref": "main", "sha": "def"},
            "merge_commit_sha": "123", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z", "closed_at": "2026-01-02T00:00:00Z",
            "merged_at": "2026-01-02T00:00:00Z"
        }))
        .unwrap();
        let pull = PullRequest::from(pull);
        assert_eq!(pull.state, PullRequestState::Merged);
        assert_eq!(pull.head_sha.as_deref(), Some("abc"));
        assert_eq!(pull.merge_commit_sha.as_deref(), Some("123"));
        assert_eq!(pull.body, "");
    }

    #[test]
    fn an_open_pull_requests_test_merge_is_not_its_merge_commit() {
        let pull: WirePull = serde_json::from_value(serde_json::json!({
            "number": 7, "title": "t", "state": "open",
            "head": {"ref": "feature", "sha": "abc"}, "base": {"ref": "main"},
            "merge_commit_sha": "123", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z", "mergeable": null
        }))
        .unwrap();
        let pull = PullRequest::from(pull);
        assert_eq!(pull.state, PullRequestState::Open);
        assert_eq!(pull.merge_commit_sha, None);
    }

    #[test]
    fn issue_labels_may_be_objects_or_names_and_pull_requests_are_recognised() {
        let issue: WireIssue = serde_json::from_value(serde_json::json!({
            "number": 3, "title": "t", "state": "open",
            "labels": [{"name": "bug", "color": "FF0000"}, "route:ready"],
            "assignees": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "pull_request": {"url": "x"}
        }))
        .unwrap();
        assert!(issue.is_pull_request());
        let issue = Issue::from(issue);
        assert_eq!(issue.labels, ["bug", "route:ready"]);
        assert!(issue.assignees.is_empty());
    }
}
