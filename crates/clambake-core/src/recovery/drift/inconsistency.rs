//! Each kind of difference between the journal's belief and the observed world, with the
//! evidence its recovery plan needs.

use serde::Serialize;

use super::{RefFacts, WorktreeFacts, archived_branch};
use crate::branches::name::{parse_branch_name, parse_worktree_name};
use crate::lifecycle::machine::State;

/// A claim: an agent on an issue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Claim {
    pub agent: String,
    pub issue: u64,
}

/// A difference between belief and the world, with the evidence its recovery plan needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Inconsistency {
    /// An open issue carries an agent label, but that agent has no branch for it.
    LabeledButNoBranch {
        issue: u64,
        agent: String,
        /// The journal has the agent holding this issue.
        believed: bool,
        process_alive: bool,
    },
    /// An agent branch for an open issue that carries neither the agent's label nor a
    /// landed label (`route:review`, `route:bundled`).
    BranchButNoLabel {
        agent: String,
        issue: u64,
        branch: RefFacts,
        /// The journal has the branch's agent holding this issue: the label was lost.
        believed: bool,
    },
    /// The slot holds an issue, its process is gone, and it left no commits.
    WorkingButNoCommits {
        agent: String,
        issue: u64,
        branch: Option<RefFacts>,
    },
    /// The slot's work landed (or moved on to a bundle or a merge) but the issue still
    /// carries the agent's label.
    LandedButNotFreed {
        agent: String,
        issue: u64,
        state: State,
    },
    /// The slot holds an issue, its process is gone, and its branch has commits to land, but
    /// no success is recorded for it (finished work waiting for `land` is not drift).
    ProcessDeadButWorking {
        agent: String,
        issue: u64,
        branch: RefFacts,
    },
    /// An agent worktree that no busy slot uses.
    OrphanWorktree { worktree: WorktreeFacts },
    /// Two agent labels on one issue, or one agent claiming two issues; `keep` stays.
    DuplicateClaim { claims: Vec<Claim>, keep: Claim },
    /// An issue waiting for a train whose branch is gone; `archive` can bring it back.
    ReviewButBranchMissing {
        issue: u64,
        archive: Option<RefFacts>,
    },
    /// The slot's bundle pull request was closed without merging.
    BundledButPrClosedUnmerged {
        agent: String,
        issues: Vec<u64>,
        bundle_pr: u64,
        branches: Vec<RefFacts>,
    },
    /// The slot's work merged, but the issue is still open.
    MergedButIssueOpen { agent: String, issue: u64 },
    /// The slot's process is alive but has shown no activity for too long.
    StaleClaim {
        agent: String,
        issue: u64,
        idle_minutes: i64,
        branch: Option<RefFacts>,
    },
    /// An agent label and its branch on an open issue the journal knows nothing about
    /// (the slot is free): the journal adopts it.
    UnjournaledClaim {
        agent: String,
        issue: u64,
        branch: RefFacts,
    },
}

impl Inconsistency {
    /// The kind's name, as in JSON (`"kind"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LabeledButNoBranch { .. } => "LabeledButNoBranch",
            Self::BranchButNoLabel { .. } => "BranchButNoLabel",
            Self::WorkingButNoCommits { .. } => "WorkingButNoCommits",
            Self::LandedButNotFreed { .. } => "LandedButNotFreed",
            Self::ProcessDeadButWorking { .. } => "ProcessDeadButWorking",
            Self::OrphanWorktree { .. } => "OrphanWorktree",
            Self::DuplicateClaim { .. } => "DuplicateClaim",
            Self::ReviewButBranchMissing { .. } => "ReviewButBranchMissing",
            Self::BundledButPrClosedUnmerged { .. } => "BundledButPrClosedUnmerged",
            Self::MergedButIssueOpen { .. } => "MergedButIssueOpen",
            Self::StaleClaim { .. } => "StaleClaim",
            Self::UnjournaledClaim { .. } => "UnjournaledClaim",
        }
    }

    /// Whether it concerns the slot `agent`, for commands scoped to one agent.
    pub fn concerns(&self, agent: &str) -> bool {
        match self {
            Self::LabeledButNoBranch { agent: a, .. }
            | Self::BranchButNoLabel { agent: a, .. }
            | Self::WorkingButNoCommits { agent: a, .. }
            | Self::LandedButNotFreed { agent: a, .. }
            | Self::ProcessDeadButWorking { agent: a, .. }
            | Self::BundledButPrClosedUnmerged { agent: a, .. }
            | Self::MergedButIssueOpen { agent: a, .. }
            | Self::StaleClaim { agent: a, .. }
            | Self::UnjournaledClaim { agent: a, .. } => a == agent,
            Self::OrphanWorktree { worktree } => {
                let by_branch = worktree.branch.as_deref().and_then(parse_branch_name);
                let by_path = worktree
                    .path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .and_then(parse_worktree_name);
                by_branch.is_some_and(|owner| owner.agent == agent)
                    || by_path.is_some_and(|(owner, _)| owner == agent)
            }
            Self::DuplicateClaim { claims, .. } => claims.iter().any(|c| c.agent == agent),
            Self::ReviewButBranchMissing { archive, .. } => archive
                .as_ref()
                .and_then(|a| archived_branch(&a.name))
                .and_then(parse_branch_name)
                .is_some_and(|owner| owner.agent == agent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::drift::tests::branch;
    use crate::recovery::drift::{archive_ref, claim};

    #[test]
    fn inconsistencies_name_their_kind_and_the_agents_they_concern() {
        let orphan = |branch: Option<&str>, path: &str| Inconsistency::OrphanWorktree {
            worktree: WorktreeFacts {
                path: path.into(),
                head: "abc".into(),
                branch: branch.map(str::to_owned),
                dirty: false,
            },
        };
        let by_branch = orphan(Some("agent002/13-fix"), "/w/other");
        assert_eq!(by_branch.kind(), "OrphanWorktree");
        assert!(by_branch.concerns("agent002") && !by_branch.concerns("agent001"));
        assert!(orphan(None, "/w/agent003-7").concerns("agent003"));
        let duplicate = Inconsistency::DuplicateClaim {
            claims: vec![claim("agent001", 12), claim("agent002", 12)],
            keep: claim("agent001", 12),
        };
        assert!(duplicate.concerns("agent002") && !duplicate.concerns("agent003"));
        let review = |archive| Inconsistency::ReviewButBranchMissing { issue: 13, archive };
        let kept = branch(&archive_ref("agent002/13-fix", "abc"), 1);
        assert!(review(Some(kept)).concerns("agent002"));
        assert!(!review(None).concerns("agent002"));
        let merged = Inconsistency::MergedButIssueOpen {
            agent: "agent003".into(),
            issue: 14,
        };
        assert_eq!(
            serde_json::to_value(&merged).unwrap()["kind"],
            merged.kind()
        );
        assert!(merged.concerns("agent003"));
    }
}
