//! The remote of the local forge: the repository itself. Publishing a branch (or any other
//! reference) is a compare and swap of its own reference, and there is never anything to fetch.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::Git;
use crate::ports::git::{BranchDeletion, Fetched, GitResult, Refs, Remote};

/// The repository as its own remote.
#[derive(Debug, Clone)]
pub struct LocalRemote {
    git: Git,
}

impl LocalRemote {
    pub fn new(git: Git) -> Self {
        Self { git }
    }
}

#[async_trait]
impl Remote for LocalRemote {
    async fn publish(
        &self,
        branch: &str,
        tip: &str,
        lease: Option<&str>,
        reason: &str,
    ) -> GitResult<bool> {
        let reference = format!("refs/heads/{branch}");
        self.git
            .compare_and_swap_ref(&reference, tip, lease, reason)
            .await
    }

    async fn fetch(&self) -> GitResult<Fetched> {
        Ok(Fetched::SameRepository)
    }

    async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>> {
        self.git.branch_tips().await
    }

    async fn tip(&self, branch: &str) -> GitResult<Option<String>> {
        self.git.branch_tip(branch).await
    }

    fn tracking_ref(&self, branch: &str) -> String {
        format!("refs/heads/{branch}")
    }

    async fn delete_branch(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion> {
        self.git.delete_guarded(branch, expected_tip, base).await
    }

    async fn publish_ref(
        &self,
        reference: &str,
        tip: &str,
        lease: Option<&str>,
        reason: &str,
    ) -> GitResult<bool> {
        self.git
            .compare_and_swap_ref(reference, tip, lease, reason)
            .await
    }

    async fn fetch_refs(&self, prefix: &str) -> GitResult<BTreeMap<String, String>> {
        self.git.ref_tips(prefix).await
    }

    async fn commit_message(&self, commit: &str) -> GitResult<String> {
        self.git.message(commit).await
    }
}
