//! The branch of a bundle closed without merging: removed, so that such branches do not pile
//! up, and archived first when it holds work no other reference keeps.

use std::collections::BTreeMap;

use super::Bundler;
use crate::app::workspace::AppResult;
use crate::core::bundle_pr::BundleRecord;
use crate::core::reconcile::archive_ref;
use crate::ports::forge::PullRequest;

impl Bundler<'_> {
    /// Removes the branch of `pr`, a bundle closed unmerged, unless an open pull request still
    /// has it as its head. Its tip is archived (`refs/clambake/archive/<branch>/<tip>`) first
    /// when the branch moved since the train wrote it (someone pushed to it) or holds a commit
    /// that no other branch or archive reaches (a member's head that has moved on since).
    /// Returns the repair made, if any.
    pub(super) async fn clean_closed(
        &self,
        pr: &PullRequest,
        record: &BundleRecord,
        tips: &BTreeMap<String, String>,
        open_heads: &[&str],
    ) -> AppResult<Option<String>> {
        // The pull request's own head, never a name read from its body.
        let branch = &pr.head;
        let Some(tip) = tips.get(branch) else {
            return Ok(None);
        };
        if open_heads.contains(&branch.as_str()) {
            return Ok(None);
        }
        let moved = *tip != record.tip;
        let mut archived = None;
        if moved || self.git.holds_commits_of_its_own(branch, tip).await? {
            let archive = archive_ref(branch, tip);
            let written = self
                .git
                .compare_and_swap_ref(&archive, tip, None, "clambake: archive a closed bundle")
                .await?;
            if !written && self.git.resolve(&archive).await?.as_deref() != Some(tip.as_str()) {
                tracing::warn!(
                    branch,
                    archive,
                    "the archive reference of a closed bundle points elsewhere; the branch is kept"
                );
                return Ok(None);
            }
            archived = Some(archive);
        }
        if !self.remove_branch(branch, tip).await? {
            return Ok(None);
        }
        Ok(Some(match archived {
            Some(archive) => format!(
                "removed `{branch}`: #{} was closed unmerged (its tip is kept under `{archive}`)",
                pr.number
            ),
            None => format!(
                "removed `{branch}`: #{} was closed unmerged and it held nothing else",
                pr.number
            ),
        }))
    }
}
