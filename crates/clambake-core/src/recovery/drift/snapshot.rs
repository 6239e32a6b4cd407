//! The world as observed at one moment: issues, pull requests, references, worktrees and agent
//! processes, as the application gathers them for drift detection, and where archived branch
//! tips are kept.

use std::collections::BTreeSet;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::queue::labels::agent_slot;

/// The last recorded attempt at an open issue: the attempt log's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptFacts {
    pub issue: u64,
    pub agent: String,
    pub attempt: u32,
    pub succeeded: bool,
}

/// An issue as the forge shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueFacts {
    pub number: u64,
    pub open: bool,
    pub labels: Vec<String>,
}

impl IssueFacts {
    pub(super) fn has(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// The agent labels on the issue, `agent001` first.
    pub(super) fn agents(&self) -> BTreeSet<&str> {
        self.labels
            .iter()
            .map(String::as_str)
            .filter(|l| agent_slot(l).is_some())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestStatus {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestFacts {
    pub number: u64,
    pub status: PullRequestStatus,
}

/// A git reference and how far it is ahead of the base branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefFacts {
    /// A branch name (`agent001/12-fix`), or a full archive reference name.
    pub name: String,
    pub tip: String,
    pub commits_ahead: u32,
}

/// A linked worktree Clambake made for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorktreeFacts {
    pub path: PathBuf,
    /// The commit checked out.
    pub head: String,
    /// `None` when detached.
    pub branch: Option<String>,
    /// Uncommitted changes: removing the worktree would lose them.
    pub dirty: bool,
}

/// An entry of the agent process registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessFacts {
    pub agent: String,
    pub issue: u64,
    /// The attempt it ran, when the registry knows it.
    pub attempt: Option<u32>,
    pub alive: bool,
    /// The last sign of life: an output event, a commit.
    pub last_activity: Timestamp,
}

/// The world as observed, all at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub issues: Vec<IssueFacts>,
    pub pull_requests: Vec<PullRequestFacts>,
    /// Local branches (any; only agent branches are considered).
    pub branches: Vec<RefFacts>,
    /// References under [`ARCHIVE_PREFIX`].
    pub archives: Vec<RefFacts>,
    pub worktrees: Vec<WorktreeFacts>,
    pub processes: Vec<ProcessFacts>,
    /// The last recorded attempt at each open issue that has one.
    pub last_attempts: Vec<AttemptFacts>,
}

/// Where branch tips are kept before anything that could drop commits.
pub const ARCHIVE_PREFIX: &str = "refs/clambake/archive/";

/// The archive reference that keeps `tip` of `branch`: one per tip, so archiving twice is
/// harmless and an older tip is never overwritten.
pub fn archive_ref(branch: &str, tip: &str) -> String {
    format!("{ARCHIVE_PREFIX}{branch}/{tip}")
}

/// The branch an archive reference keeps, if `name` is one made by [`archive_ref`].
pub fn archived_branch(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(ARCHIVE_PREFIX)?;
    let (branch, _tip) = rest.rsplit_once('/')?;
    Some(branch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_refs_name_the_branch_and_the_tip() {
        let name = archive_ref("agent001/12-fix", "abc123");
        assert_eq!(name, "refs/clambake/archive/agent001/12-fix/abc123");
        assert_eq!(archived_branch(&name), Some("agent001/12-fix"));
        assert_eq!(archived_branch("refs/heads/agent001/12-fix"), None);
    }
}
