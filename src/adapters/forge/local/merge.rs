//! A pull request merged in two halves: the merge commit written without moving a ref, then
//! the base moved onto it with a compare-and-swap, a clean checkout of the base brought along.

use rusqlite::params;

use super::{LocalForge, git_error};
use crate::adapters::git::Git;
use crate::core::text::closing::closed_issues;
use crate::ports::forge::{Forge, ForgeError, ForgeResult, MergeOutcome, Number, PullRequestState};
use crate::ports::git::{MergeEngine, Refs, TrialMerge, Worktrees};

impl LocalForge {
    /// Makes the checkout of `branch` (if any worktree has it) follow a ref move from `old` to
    /// `new`, as `git merge --ff-only` would. Refuses beforehand if that checkout has changes.
    async fn checkout_of(&self, branch: &str) -> ForgeResult<Option<Git>> {
        let worktrees = self.git.list().await.map_err(git_error)?;
        let Some(tree) = worktrees
            .into_iter()
            .find(|w| w.branch.as_deref() == Some(branch))
        else {
            return Ok(None);
        };
        let checkout = Git::new(tree.path.clone());
        if checkout.has_tracked_changes().await.map_err(git_error)? {
            return Err(ForgeError::Invalid(format!(
                "`{branch}` is checked out in {} with uncommitted changes; commit or stash them \
                 first, so that merging into it cannot overwrite them",
                tree.path.display()
            )));
        }
        Ok(Some(checkout))
    }

    /// Checks the pull request, trial-merges it and writes the merge commit, moving no ref.
    pub async fn prepare_merge(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<PreparedMerge> {
        let pr = self.pull_request(number).await?;
        if pr.state != PullRequestState::Open {
            return Err(ForgeError::NotOpen {
                number,
                state: pr.state.as_str(),
            });
        }
        let head = self.require_branch(&pr.head).await?;
        if expected_head.is_some_and(|expected| expected != head) {
            return Err(ForgeError::HeadMoved {
                number,
                branch: pr.head.clone(),
            });
        }
        let base = self.require_branch(&pr.base).await?;
        let closes = if pr.base == self.default_branch().await? {
            closed_issues(&pr.body)
        } else {
            Vec::new()
        };
        if self
            .git
            .is_ancestor(&head, &base)
            .await
            .map_err(git_error)?
        {
            return Ok(PreparedMerge::AlreadyContained { head, base, closes });
        }
        let tree = match self
            .git
            .trial_merge(&base, &head)
            .await
            .map_err(git_error)?
        {
            TrialMerge::Clean(tree) => tree,
            TrialMerge::Conflict(paths) => {
                return Err(ForgeError::MergeConflict {
                    number,
                    base: pr.base.clone(),
                    paths,
                });
            }
        };
        // No title: it is somebody's text, and GitHub reads closing keywords in the commit
        // messages that reach the default branch.
        let message = format!("Merge pull request #{number} from {}", pr.head);
        let commit = self
            .git
            .commit_tree(&tree, &[&base, &head], &message)
            .await
            .map_err(git_error)?;
        Ok(PreparedMerge::Commit(MergeCommit {
            number,
            base_branch: pr.base,
            base_tip: base,
            head_tip: head,
            commit,
            closes,
        }))
    }

    /// Moves the base onto the merge commit if it has not moved since `prepare_merge`, updates
    /// a clean checkout of it, and records the merge.
    pub async fn finish_merge(&self, merge: MergeCommit) -> ForgeResult<MergeOutcome> {
        let number = merge.number;
        let checkout = self.checkout_of(&merge.base_branch).await?;
        if let Some(checkout) = &checkout {
            // Untracked files the merge would overwrite stop it before the base moves.
            if let Some(problem) = checkout
                .follow_refused(&merge.base_tip, &merge.commit)
                .await
                .map_err(git_error)?
            {
                return Err(ForgeError::Invalid(format!(
                    "`{}` is checked out in {} and the merge cannot update it: {problem}",
                    merge.base_branch,
                    checkout.dir().display(),
                )));
            }
        }
        let reference = format!("refs/heads/{}", merge.base_branch);
        let reason = format!("clambake: merge pull request #{number}");
        let moved = self
            .git
            .compare_and_swap_ref(&reference, &merge.commit, Some(&merge.base_tip), &reason)
            .await
            .map_err(git_error)?;
        if !moved {
            return Err(ForgeError::BaseMoved {
                number,
                branch: merge.base_branch,
            });
        }
        // The base moved: the merge happened, whatever becomes of the checkout.
        let closed = self.mark_merged(number, &merge.head_tip, &merge.commit, &merge.closes)?;
        if let Some(checkout) = checkout {
            // The checkout was clean a moment ago: bring its index and files to the new tip.
            checkout
                .follow(&merge.base_tip, &merge.commit)
                .await
                .map_err(git_error)?;
        }
        Ok(MergeOutcome {
            pull_request: self.pull_request(number).await?,
            closed_issues: closed,
        })
    }

    pub(super) fn mark_merged(
        &self,
        number: Number,
        head_sha: &str,
        merge_sha: &str,
        closes: &[Number],
    ) -> ForgeResult<Vec<Number>> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE pull_requests SET state = 'merged', head_sha = ?2, merge_commit_sha = ?3,
                     merged_at = ?4, closed_at = ?4, updated_at = ?4
                 WHERE number = ?1 AND state = 'open'",
                params![number, head_sha, merge_sha, now],
            )?;
            let mut closed = Vec::new();
            for issue in closes {
                let changed = tx.execute(
                    "UPDATE issues SET state = 'closed', closed_at = ?2, updated_at = ?2
                         WHERE number = ?1 AND state = 'open'",
                    params![issue, now],
                )?;
                if changed > 0 {
                    closed.push(*issue);
                }
            }
            Ok(closed)
        })
    }
}

/// A merge worked out but not yet applied: the two halves of `merge_pull_request`, apart so
/// that a test can move the base in between and see the compare-and-swap refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedMerge {
    /// The head is already in the base (merged by hand, or a crash after the ref moved):
    /// recorded as merged, as GitHub does, without another commit.
    AlreadyContained {
        head: String,
        base: String,
        closes: Vec<Number>,
    },
    Commit(MergeCommit),
}

/// A merge commit written to the object store, waiting to become the base's tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCommit {
    pub number: Number,
    pub base_branch: String,
    pub base_tip: String,
    pub head_tip: String,
    pub commit: String,
    pub closes: Vec<Number>,
}
