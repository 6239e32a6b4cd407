//! [`MergeEngine`]'s trial merges in process, with gitoxide: no `git` process per merge, and
//! one object cache for the many merges a plan makes. Git stays the authority: a merge gix
//! calls conflicted is asked of `git merge-tree` again, whose verdict is the answer (a conflict
//! is what sets a branch aside, so it must never be one git would not see); clean merges agree
//! with git's tree, as a property test over generated repositories checks
//! (`tests/it/merge_engines.rs`). Merge bases and the commits that record merges stay on git.

use std::sync::Mutex;

use async_trait::async_trait;
use gix::merge::tree::TreatAsUnresolved;
use jiff::Timestamp;

use super::Git;
use crate::ports::git::{GitError, GitResult, MergeEngine, MergeSpec, TrialMerge};

/// How much of the object database a plan keeps decoded in memory.
const OBJECT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Trial merges in process, the rest on `git`.
pub struct GixMerges {
    /// One handle, so its object cache serves every merge of a plan.
    repo: Mutex<gix::Repository>,
    git: Git,
}

impl GixMerges {
    /// Opens the repository `git` works in.
    pub fn open(git: Git) -> GitResult<Self> {
        let mut repo =
            gix::open(git.dir()).map_err(|error| in_process("open the repository", error))?;
        repo.object_cache_size(OBJECT_CACHE_BYTES);
        Ok(Self {
            repo: Mutex::new(repo),
            git,
        })
    }

    fn repo(&self) -> std::sync::MutexGuard<'_, gix::Repository> {
        self.repo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `theirs` into `ours` against `base` (trees, or commits standing for theirs), in process
    /// alone: the merged tree, or `None` where gix sees a conflict, which git then settles. The
    /// property test compares this with git's own answer.
    pub fn merge_in_process(
        &self,
        base: &str,
        ours: &str,
        theirs: &str,
    ) -> GitResult<Option<String>> {
        let repo = self.repo();
        let tree = |revision: &str| -> GitResult<gix::ObjectId> {
            let id = resolve(&repo, revision)?;
            let object = repo
                .find_object(id)
                .map_err(|error| in_process("find an object", error))?;
            Ok(object
                .peel_to_tree()
                .map_err(|error| in_process("peel to a tree", error))?
                .id)
        };
        let (base, ours, theirs) = (tree(base)?, tree(ours)?, tree(theirs)?);
        let options = repo
            .tree_merge_options()
            .map_err(|error| in_process("read the merge options", error))?;
        let mut outcome = repo
            .merge_trees(base, ours, theirs, Default::default(), options)
            .map_err(|error| in_process("merge trees", error))?;
        if outcome.has_unresolved_conflicts(TreatAsUnresolved::git()) {
            return Ok(None);
        }
        let merged = outcome
            .tree
            .write()
            .map_err(|error| in_process("write the merged tree", error))?;
        Ok(Some(merged.to_string()))
    }

    /// The merge base of two commits for a merge in process; `None` when git must merge them
    /// (no common history, or several bases, which git merges recursively).
    fn single_base(&self, ours: &str, theirs: &str) -> GitResult<Option<String>> {
        let repo = self.repo();
        let bases = repo
            .merge_bases_many(resolve(&repo, ours)?, &[resolve(&repo, theirs)?])
            .map_err(|error| in_process("find the merge base", error))?;
        Ok(match bases.as_slice() {
            [only] => Some(only.to_string()),
            _ => None,
        })
    }
}

#[async_trait]
impl MergeEngine for GixMerges {
    async fn trial_merge(&self, ours: &str, theirs: &str) -> GitResult<TrialMerge> {
        let Some(base) = self.single_base(ours, theirs)? else {
            return self.git.trial_merge(ours, theirs).await;
        };
        match self.merge_in_process(&base, ours, theirs)? {
            Some(tree) => Ok(TrialMerge::Clean(tree)),
            None => self.git.trial_merge(ours, theirs).await,
        }
    }

    async fn trial_merge_onto(
        &self,
        base: &str,
        ours: &str,
        theirs: &str,
    ) -> GitResult<TrialMerge> {
        match self.merge_in_process(base, ours, theirs)? {
            Some(tree) => Ok(TrialMerge::Clean(tree)),
            None => self.git.trial_merge_onto(base, ours, theirs).await,
        }
    }

    async fn trial_merges(&self, merges: &[MergeSpec<'_>]) -> GitResult<Vec<TrialMerge>> {
        let mut answers = Vec::with_capacity(merges.len());
        for merge in merges {
            answers.push(match merge.base {
                Some(base) => {
                    self.trial_merge_onto(base, merge.ours, merge.theirs)
                        .await?
                }
                None => self.trial_merge(merge.ours, merge.theirs).await?,
            });
        }
        Ok(answers)
    }

    async fn merge_base(&self, a: &str, b: &str) -> GitResult<Option<String>> {
        self.git.merge_base(a, b).await
    }

    async fn merge_bases(&self, base: &str, heads: &[&str]) -> GitResult<Vec<Option<String>>> {
        self.git.merge_bases(base, heads).await
    }

    async fn write_commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: Timestamp,
    ) -> GitResult<String> {
        self.git.write_commit(tree, parents, message, at).await
    }

    async fn empty_tree(&self) -> GitResult<String> {
        self.git.empty_tree().await
    }
}

/// An object id, or what a branch or other revision names.
fn resolve(repo: &gix::Repository, revision: &str) -> GitResult<gix::ObjectId> {
    if let Ok(id) = gix::ObjectId::from_hex(revision.as_bytes()) {
        return Ok(id);
    }
    Ok(repo
        .rev_parse_single(revision)
        .map_err(|error| in_process("resolve a revision", error))?
        .detach())
}

fn in_process(action: &'static str, error: impl std::fmt::Display) -> GitError {
    GitError::InProcess {
        action,
        message: error.to_string(),
    }
}
