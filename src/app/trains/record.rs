//! Which bundle record a train trusts. A pull request's body can be edited by others and holds
//! their titles, so the record Clambake put at its end is checked against the journal, where
//! the record was kept when the bundle was opened; with no journal entry (another machine
//! opened it, or the journal was lost) the body's record is used only if it passes
//! [`BundleRecord::check`].

use crate::app::AppResult;
use crate::app::trains::bundle::Bundler;
use crate::core::trains::pull_request::{BundleRecord, read_record};
use crate::ports::forge::PullRequest;

impl Bundler<'_> {
    /// The record of bundle pull request `pr` into `base`, or `None` (with a warning) when it
    /// has none that can be trusted.
    pub(super) fn trusted_record(
        &self,
        pr: &PullRequest,
        base: &str,
    ) -> AppResult<Option<BundleRecord>> {
        let journaled = self.train_log.bundle_record(&pr.head)?;
        let read = read_record(&pr.body, &pr.head, base);
        Ok(match (journaled, read) {
            (Some(journaled), Ok(read)) if journaled == read => Some(journaled),
            (Some(journaled), _) => {
                tracing::warn!(
                    pull_request = pr.number,
                    "the bundle record in the pull request's body is not the one Clambake wrote; the journal's is used"
                );
                Some(journaled)
            }
            (None, Ok(read)) => Some(read),
            (None, Err(why)) => {
                tracing::warn!(
                    pull_request = pr.number,
                    %why,
                    "a bundle pull request's record is not trusted; the train leaves it alone"
                );
                None
            }
        })
    }
}
