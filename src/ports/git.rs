//! The git ports: what the app needs from the repository, named by use. [`Refs`] reads and moves
//! references, [`Worktrees`] manages the checkouts agents work in, [`MergeEngine`] merges in
//! memory and writes merge commits, and [`Remote`] is where branches (and the references that
//! hold claims) are published (the repository itself on the local forge, `origin` on GitHub).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use miette::Diagnostic;

/// The oldest git Clambake works with: trial merges need `merge-tree --write-tree` (2.38),
/// drift detection needs `for-each-ref --format=%(ahead-behind:...)` (2.41).
pub const MINIMUM_VERSION: (u32, u32) = (2, 41);

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum GitError {
    #[error("could not run git: {0}")]
    #[diagnostic(help("install git {}.{} or later and make sure it is on PATH", MINIMUM_VERSION.0, MINIMUM_VERSION.1))]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Failed {
        args: String,
        dir: String,
        code: Option<i32>,
        stderr: String,
    },
    /// Git's object database read or written in process (trial merges) failed.
    #[error("could not {action} in process: {message}")]
    #[diagnostic(help("the repository may be damaged: `git fsck` says more"))]
    InProcess {
        action: &'static str,
        message: String,
    },
    #[error("unexpected output from `git {args}`: {output}")]
    Unparsable { args: String, output: String },
    #[error("refused to delete branch `{branch}`: {why}")]
    #[diagnostic(help(
        "Clambake deletes only its own branches (`agentNNN/...`, `clambake/...`), never the base"
    ))]
    DeletionRefused { branch: String, why: String },
    #[error("the remote has no branch `{branch}`")]
    #[diagnostic(help(
        "commits are counted against the base branch: create it, or set the forge's default branch"
    ))]
    NoRemoteBranch { branch: String },
}

pub type GitResult<T> = Result<T, GitError>;

/// A trial merge's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialMerge {
    /// The merged tree's id.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

/// One merge of a batch: `theirs` into `ours`, against `base` if given (else their merge base).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeSpec<'a> {
    pub base: Option<&'a str>,
    pub ours: &'a str,
    pub theirs: &'a str,
}

/// One worktree of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    pub head: Option<String>,
    /// The checked-out branch's short name, `None` when detached.
    pub branch: Option<String>,
}

/// What the guarded deletion ([`Refs::delete_branch`]) found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchDeletion {
    /// Deleted; `archived` names the archive reference that keeps a tip the base lacks.
    Deleted { archived: Option<String> },
    /// There was no such branch.
    Absent,
    /// The branch had moved to `found`, so it was kept.
    Moved { found: String },
}

/// A reference as drift detection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyedRef {
    /// The full name (`refs/heads/...`, `refs/clambake/archive/...`).
    pub name: String,
    pub tip: String,
    /// Commits on it that the commit it was surveyed against lacks.
    pub commits_ahead: u32,
    /// When its tip was committed.
    pub committed_at: Timestamp,
}

/// How far a worktree goes when it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Refused if it has changes, so that uncommitted work never vanishes.
    Clean,
    /// Its changes go with it.
    Discard,
    /// Even a locked one (a checkout interrupted while being made) goes.
    Locked,
}

/// Who a commit is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// What a fetch from the remote brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing: the remote is this repository, its branches are already here.
    SameRepository,
    /// The remote's branches, into their tracking references (those it deleted, pruned).
    Remote,
}

/// The repository's references: branches, archives, and the commits they reach.
#[async_trait]
pub trait Refs: Send + Sync {
    /// The commit a revision names, or `None` if it names none.
    async fn resolve(&self, revision: &str) -> GitResult<Option<String>>;
    /// The tip of a local branch, or `None` if there is no such branch.
    async fn branch_tip(&self, branch: &str) -> GitResult<Option<String>>;
    /// Every local branch and its tip.
    async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>>;
    /// The tips of the local branches, and of the remote's as last fetched, that `commit`
    /// reaches (merged into it).
    async fn branch_tips_merged_into(&self, commit: &str) -> GitResult<BTreeSet<String>>;
    /// The committer time, in seconds since the epoch, of each of `commits`.
    async fn committer_times(&self, commits: &[&str]) -> GitResult<BTreeMap<String, i64>>;
    /// When `revision`'s commit was made, in seconds since the epoch.
    async fn commit_time(&self, revision: &str) -> GitResult<i64>;
    /// Whether `ancestor` is reachable from `descendant`.
    async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> GitResult<bool>;
    /// How many commits of `branch` the commit `of` lacks.
    async fn commits_ahead(&self, branch: &str, of: &str) -> GitResult<u32>;
    /// Every reference under `prefixes`, with its commits ahead of `against` and its tip's
    /// commit time.
    async fn survey(&self, against: &str, prefixes: &[&str]) -> GitResult<Vec<SurveyedRef>>;
    /// Moves `reference` from `old` to `new` only if it still points at `old` (compare and
    /// swap). `old: None` requires that the reference does not exist yet. Returns false if it
    /// moved.
    async fn compare_and_swap_ref(
        &self,
        reference: &str,
        new: &str,
        old: Option<&str>,
        reason: &str,
    ) -> GitResult<bool>;
    /// Makes a new branch at `start`, tracking nothing; fails if it exists.
    async fn create_branch(&self, branch: &str, start: &str) -> GitResult<()>;
    /// Keeps `tip` of `branch` under `refs/clambake/archive/<branch>/<tip>`, so that no commit
    /// of it is lost when the branch moves or goes. Returns the archive reference, or `None` if
    /// that reference exists and points elsewhere.
    async fn archive(&self, branch: &str, tip: &str) -> GitResult<Option<String>>;
    /// The one way Clambake deletes a branch. It refuses `base` and any branch outside
    /// Clambake's namespaces (`agentNNN/...`, `clambake/...`), keeps a tip the base cannot
    /// reach under its archive reference first, and deletes only while the branch still
    /// points at `expected_tip` (a compare and swap).
    async fn delete_branch(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion>;
}

/// The repository's worktrees: the main checkout and those agents work in.
#[async_trait]
pub trait Worktrees: Send + Sync {
    /// Every worktree, the main one first.
    async fn list(&self) -> GitResult<Vec<Worktree>>;
    /// The top of the main working tree.
    async fn main(&self) -> GitResult<PathBuf>;
    /// Checks `branch` out at `path`; with `start`, makes the branch there first.
    async fn add(&self, path: &Path, branch: &str, start: Option<&str>) -> GitResult<()>;
    /// Removes the worktree at `path`, as far as `removal` allows.
    async fn remove(&self, path: &Path, removal: Removal) -> GitResult<()>;
    /// Forgets the metadata of worktrees whose directories are gone.
    async fn prune(&self) -> GitResult<()>;
    /// Whether git still knows `dir` as a working tree: a kill in the middle of adding or
    /// removing one can leave the directory with no metadata behind it.
    async fn is_worktree(&self, dir: &Path) -> bool;
    /// The branch checked out at `dir`, `None` when detached.
    async fn branch(&self, dir: &Path) -> GitResult<Option<String>>;
    /// Whether `dir` has changes, tracked or not.
    async fn is_dirty(&self, dir: &Path) -> GitResult<bool>;
    /// Whether git ignores `path` in the main working tree.
    async fn is_ignored(&self, path: &str) -> bool;
    /// Removes the index lock a killed git left in the worktree at `dir`, unless a live
    /// process works in the worktree or holds the lock open: every later git command that
    /// writes the index there would fail on it. Returns whether a lock was removed.
    async fn clear_stale_lock(&self, dir: &Path) -> GitResult<bool>;
    /// Commits whatever `dir` holds uncommitted, tracked or not, as Clambake, hooks skipped:
    /// saving an agent's work must not depend on them. Returns whether there was anything.
    async fn commit_leftovers(&self, dir: &Path, message: &str) -> GitResult<bool>;
    /// Throws away what `dir` holds uncommitted, tracked or not, but for ignored files (build
    /// output): what the checks changed after the agent's work was committed.
    async fn discard_changes(&self, dir: &Path) -> GitResult<()>;
    /// Commits `paths` of `dir` as `author`.
    async fn commit_files(
        &self,
        dir: &Path,
        paths: &[&str],
        message: &str,
        author: Author<'_>,
    ) -> GitResult<()>;
}

/// Merges in memory, touching no working tree or index, and the commits that record them.
#[async_trait]
pub trait MergeEngine: Send + Sync {
    /// Merges two commits.
    async fn trial_merge(&self, ours: &str, theirs: &str) -> GitResult<TrialMerge>;
    /// Merges `theirs` into `ours` against an explicit merge base. `ours` and `theirs` may be
    /// trees, so a chain of merges needs no commit per step.
    async fn trial_merge_onto(&self, base: &str, ours: &str, theirs: &str)
    -> GitResult<TrialMerge>;
    /// Many independent trial merges at once, answered in input order.
    async fn trial_merges(&self, merges: &[MergeSpec<'_>]) -> GitResult<Vec<TrialMerge>>;
    /// The best common ancestor of two commits, `None` when they share no history.
    async fn merge_base(&self, a: &str, b: &str) -> GitResult<Option<String>>;
    /// The merge base of `base` and each of `heads`, found for all of them at once: `None` for
    /// a head that meets `base`'s history at several commits (or is already in it).
    async fn merge_bases(&self, base: &str, heads: &[&str]) -> GitResult<Vec<Option<String>>>;
    /// Writes a commit of `tree` with Clambake as author and committer, dated `at`, so the
    /// same merge written twice is the same commit.
    async fn write_commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: Timestamp,
    ) -> GitResult<String>;
    /// Writes the empty tree and returns its id: the tree of a commit that records something
    /// (a claim, a sign of life) rather than changing files.
    async fn empty_tree(&self) -> GitResult<String>;
}

/// Where branches are published for the forge to see.
#[async_trait]
pub trait Remote: Send + Sync {
    /// Points the remote's `branch` at `tip` only while it is at `lease` (`None`: only if it
    /// does not exist yet), saying why (`reason`, for the reflog). Returns false if the lease
    /// was stale.
    async fn publish(
        &self,
        branch: &str,
        tip: &str,
        lease: Option<&str>,
        reason: &str,
    ) -> GitResult<bool>;
    /// Brings the remote's branches here.
    async fn fetch(&self) -> GitResult<Fetched>;
    /// The remote's branches and their tips as the last [`Remote::fetch`] brought them: those
    /// other orchestrators pushed among them (on the local forge, this repository's own).
    async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>>;
    /// The remote's tip of `branch` (the base, a bundle), `None` if it has none.
    async fn tip(&self, branch: &str) -> GitResult<Option<String>>;
    /// The reference in this repository that holds the remote's `branch` as last fetched, to
    /// count against without reading its tip first.
    fn tracking_ref(&self, branch: &str) -> String;
    /// Deletes the remote's `branch` through the guarded deletion ([`Refs::delete_branch`]).
    async fn delete_branch(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion>;
    /// Points the remote's `reference` (a full name outside `refs/heads/`, such as a claim
    /// under `refs/clambake/claims/`) at the local commit `tip` only while it is at `lease`
    /// (`None`: only if it does not exist yet), as `git push --force-with-lease=<ref>:<lease>`
    /// does. Returns false if the lease was stale.
    async fn publish_ref(
        &self,
        reference: &str,
        tip: &str,
        lease: Option<&str>,
        reason: &str,
    ) -> GitResult<bool>;
    /// Brings the remote's references under `prefix` (`refs/clambake/claims/`, say) here with
    /// their commits, and returns them by their name on the remote with their tips.
    async fn fetch_refs(&self, prefix: &str) -> GitResult<BTreeMap<String, String>>;
    /// The message of `commit`, one [`Remote::fetch_refs`] brought here or this repository made.
    async fn commit_message(&self, commit: &str) -> GitResult<String>;
}

/// The git ports of one repository, as the app is handed them.
#[derive(Clone)]
pub struct Repository {
    pub refs: Arc<dyn Refs>,
    pub worktrees: Arc<dyn Worktrees>,
    pub merges: Arc<dyn MergeEngine>,
    pub remote: Arc<dyn Remote>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").finish_non_exhaustive()
    }
}
