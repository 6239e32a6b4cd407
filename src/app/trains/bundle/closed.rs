//! The branch of a bundle closed without merging: removed, so that such branches do not pile
//! up, its tip archived first by the guarded deletion.

use std::collections::BTreeMap;

use super::Bundler;
use crate::app::AppResult;
use crate::core::recovery::drift::archive_ref;
use crate::ports::forge::PullRequest;

impl Bundler<'_> {
    /// Removes the branch of `pr`, a bundle closed unmerged, unless an open pull request still
    /// has it as its head. The guarded deletion keeps its tip under
    /// `refs/clambake/archive/<branch>/<tip>` first, so that nothing anyone pushed onto it, and
    /// no member head that has moved on since, is lost. Returns the repair made, if any.
    pub(super) async fn clean_closed(
        &self,
        pr: &PullRequest,
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
        if !self.remove_branch(branch, tip).await? {
            return Ok(None);
        }
        // The guarded deletion archives a tip the base cannot reach, as a closed bundle's is.
        let archive = archive_ref(branch, tip);
        let archived = self.git.refs.resolve(&archive).await?.as_deref() == Some(tip.as_str());
        Ok(Some(match archived {
            true => format!(
                "removed `{branch}`: #{} was closed unmerged (its tip is kept under `{archive}`)",
                pr.number
            ),
            false => format!(
                "removed `{branch}`: #{} was closed unmerged and the base holds all of it",
                pr.number
            ),
        }))
    }
}
