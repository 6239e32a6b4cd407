//! The branches a train reads: the remote's, so that a train takes what another orchestrator
//! landed and pushed, with this repository's tip where it holds more. No commit is lost: of
//! two tips one of which contains the other, the one that contains it is read; two that have
//! diverged are left out of the trains, their work said to wait.

use std::collections::{BTreeMap, BTreeSet};

use crate::app::AppResult;

use super::Bundler;

/// The branch tips the trains read, and the branches they leave out.
pub(super) struct TrainTips {
    /// Each branch's tip: the remote's, or this repository's where it is ahead of it. A branch
    /// that diverged has the remote's here, what was published, so that a bundle that carries
    /// it is not taken for moved.
    pub tips: BTreeMap<String, String>,
    /// Branches whose tip here and on the remote each hold commits the other lacks.
    pub diverged: BTreeSet<String>,
    /// Branches whose tip here is ahead of the remote's, with the remote's tip (`None`: it has
    /// no such branch): a train that sends one publishes it first, so that every orchestrator
    /// reads the head its bundle recorded.
    pub unpublished: BTreeMap<String, Option<String>>,
}

impl Bundler<'_> {
    /// Reads the remote's branches (as last fetched) and this repository's, and settles each.
    pub(super) async fn train_tips(&self) -> AppResult<TrainTips> {
        let mut tips = self.git.remote.branch_tips().await?;
        let mut diverged = BTreeSet::new();
        let mut unpublished = BTreeMap::new();
        for (branch, here) in self.git.refs.branch_tips().await? {
            let Some(published) = tips.get(&branch).cloned() else {
                unpublished.insert(branch.clone(), None);
                tips.insert(branch, here);
                continue;
            };
            if published == here || self.git.refs.is_ancestor(&here, &published).await? {
                continue;
            }
            if self.git.refs.is_ancestor(&published, &here).await? {
                unpublished.insert(branch.clone(), Some(published));
                tips.insert(branch, here);
            } else {
                diverged.insert(branch);
            }
        }
        Ok(TrainTips {
            tips,
            diverged,
            unpublished,
        })
    }

    /// Publishes those of `branches` whose tip here the remote lacks, each only while the
    /// remote's is still where it was read (a lease): one that moved meanwhile is kept, and said.
    pub(super) async fn publish_unpublished(
        &self,
        tips: &TrainTips,
        branches: &[&str],
    ) -> AppResult<()> {
        for &branch in branches {
            let (Some(lease), Some(tip)) = (tips.unpublished.get(branch), tips.tips.get(branch))
            else {
                continue;
            };
            if !self
                .git
                .remote
                .publish(branch, tip, lease.as_deref(), "clambake: for review")
                .await?
            {
                tracing::warn!(
                    branch,
                    "the remote's branch moved while a train published it: kept"
                );
            }
        }
        Ok(())
    }
}
