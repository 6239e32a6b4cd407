//! The fake's memory: the repository's issues, pull requests, labels and comments, and its
//! bookkeeping of requests, violations and rate limit.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::faults::FaultPlan;

/// Whether an issue or pull request is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }
}

/// An issue, or the issue half of a pull request: GitHub numbers both from one sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: IssueState,
    pub state_reason: Option<String>,
    /// Label names, in the order they were added.
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub author_association: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub comments: u64,
    /// Its conversation is locked: only collaborators with write access may comment.
    pub locked: bool,
    /// Present when this number is a pull request.
    pub pull: Option<Pull>,
}

/// What a pull request has beyond its issue.
#[derive(Debug, Clone, Serialize)]
pub struct Pull {
    pub id: u64,
    pub head_ref: String,
    pub base_ref: String,
    /// The head commit as last read from the bare repository; frozen once closed.
    pub head_sha: String,
    pub base_sha: String,
    pub draft: bool,
    pub merged_at: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<String>,
    /// The `(head, base)` pair `mergeable` was computed for, and the answer.
    pub mergeable_for: Option<(String, String, bool)>,
    /// The `(head, base)` pair last checked for a push that merged the head into the base.
    pub landing_checked_for: Option<(String, String)>,
}

/// A repository label.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub author: String,
    pub author_association: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One request the fake answered (or, for a lost answer, acted on without answering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The path with its query string, as sent.
    pub path: String,
    pub status: u16,
    /// Whether it counted against the primary rate limit.
    pub charged: bool,
    /// Whether it changed the fake's state (a successful non-GET).
    pub mutation: bool,
    /// Whether the fake dropped the connection instead of sending the answer.
    pub lost: bool,
    /// When it arrived, in milliseconds since the fake started: to check that a client spaces
    /// its mutations as GitHub asks.
    pub at_ms: u64,
}

/// The primary rate limit of the token: `limit` requests per window.
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub limit: u64,
    pub used: u64,
    /// Unix seconds at which the window ends and `used` returns to 0.
    pub reset: u64,
}

impl RateLimit {
    pub const WINDOW_SECONDS: u64 = 3600;

    pub fn new(limit: u64, now: u64) -> RateLimit {
        RateLimit {
            limit,
            used: 0,
            reset: now + Self::WINDOW_SECONDS,
        }
    }

    /// Starts a new window once the old one has ended.
    pub fn roll(&mut self, now: u64) {
        if now >= self.reset {
            self.used = 0;
            self.reset = now + Self::WINDOW_SECONDS;
        }
    }

    /// Leaves `remaining` requests in a window that ends `reset_in` from now.
    pub fn set(&mut self, remaining: u64, reset_in: std::time::Duration) {
        self.used = self.limit.saturating_sub(remaining);
        self.reset = unix_now() + reset_in.as_secs();
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Everything the fake remembers, behind one lock.
#[derive(Debug)]
pub struct State {
    pub issues: BTreeMap<u64, Issue>,
    pub labels: Vec<Label>,
    pub comments: Vec<Comment>,
    pub reviews: Vec<crate::reviews::Review>,
    /// GitHub's issue dependencies, `(blocked, blocker)` by number, in the order added.
    pub dependencies: Vec<(u64, u64)>,
    pub requests: Vec<RecordedRequest>,
    pub violations: Vec<String>,
    pub rate: RateLimit,
    pub faults: FaultPlan,
    /// Check runs and commit statuses, and the scriptable CI.
    pub checks: crate::checks::Checks,
    next_number: u64,
    next_id: u64,
}

impl State {
    pub fn new(rate_limit: u64) -> State {
        State {
            issues: BTreeMap::new(),
            labels: Vec::new(),
            comments: Vec::new(),
            reviews: Vec::new(),
            dependencies: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            rate: RateLimit::new(rate_limit, unix_now()),
            faults: FaultPlan::default(),
            checks: crate::checks::Checks::default(),
            next_number: 1,
            next_id: 1000,
        }
    }

    /// The next issue or pull request number.
    pub fn take_number(&mut self) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        number
    }

    /// A fresh database id, unique across every kind of object.
    pub fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The label of that name, matched case-insensitively as GitHub does.
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|label| label.name.eq_ignore_ascii_case(name))
    }

    /// The repository's label of that name, created with GitHub's default colour if missing;
    /// returns its canonical name.
    pub fn ensure_label(&mut self, name: &str) -> String {
        if let Some(label) = self.label(name) {
            return label.name.clone();
        }
        let id = self.take_id();
        self.labels.push(Label {
            id,
            name: name.to_string(),
            color: "ededed".to_string(),
            description: None,
        });
        name.to_string()
    }

    /// Closes an issue as GitHub does when someone (or a merged pull request) closes it.
    pub fn close_issue(&mut self, number: u64, by: &str, reason: &str) {
        let now = timestamp();
        if let Some(issue) = self.issues.get_mut(&number)
            && issue.state == IssueState::Open
        {
            issue.state = IssueState::Closed;
            issue.state_reason = Some(reason.to_string());
            issue.closed_at = Some(now.clone());
            issue.closed_by = Some(by.to_string());
            issue.updated_at = now;
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    jiff::Timestamp::now().as_second().max(0) as u64
}

/// Now, in the `2011-01-26T19:01:12Z` form GitHub uses.
pub fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
