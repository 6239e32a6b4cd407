//! A bundle rebuilt in place without members its checks took out: the remaining members'
//! chain merged onto the bundle's base (the commits a trial of them wrote), the bundle branch
//! published with a lease on its old tip, and its record and body updated to say who was
//! taken out and why. A bundle left with no members is closed with a comment.

use crate::app::agents::simulated_work::simulated_issues;
use crate::app::trains::verify::commit::{Chain, write_members_chain};
use crate::app::{AppError, AppResult};
use crate::core::forge_text::bisection;
use crate::core::forge_text::pull_requests::{self, PullRequestText};
use crate::core::trains::pull_request::{BundleRecord, RecordedTakenOut};
use crate::ports::forge::{PullRequest, PullRequestEdit};

use super::Bundler;

impl Bundler<'_> {
    /// Rebuilds the bundle of `pr` without `taken_out`. Returns whether it is still open, to
    /// be checked again. Repeating it after a crash at any step finishes it: the chain is the
    /// same commits, and a branch already at the new tip is left there.
    pub(super) async fn rebuild(
        &self,
        pr: &PullRequest,
        record: &BundleRecord,
        taken_out: Vec<RecordedTakenOut>,
    ) -> AppResult<bool> {
        let out: Vec<u64> = taken_out.iter().map(|t| t.issue).collect();
        let kept: Vec<u64> = record
            .member_issues()
            .into_iter()
            .filter(|issue| !out.contains(issue))
            .collect();
        if kept.is_empty() {
            self.forge
                .create_comment(pr.number, &bisection::all_taken_out(&out))
                .await?;
            self.forge.close_pull_request(pr.number).await?;
            return Ok(false);
        }
        let tip = match write_members_chain(self.git.merges.as_ref(), record, &kept).await? {
            Chain::Written { tip, .. } => tip,
            Chain::Conflict { member, .. } => {
                // What merged with the culprits does not merge without them: the next train
                // plans the rest afresh.
                tracing::info!(
                    pull_request = pr.number,
                    member,
                    "a bundle's rest does not merge without its culprits; it is closed"
                );
                self.forge
                    .create_comment(pr.number, &bisection::rest_conflicts(member))
                    .await?;
                self.forge.close_pull_request(pr.number).await?;
                self.unboard(record, &Default::default()).await?;
                return Ok(false);
            }
        };
        let current = self.git.remote.tip(&record.branch).await?;
        if current.as_deref() != Some(tip.as_str())
            && !self
                .git
                .remote
                .publish(
                    &record.branch,
                    &tip,
                    Some(&record.tip),
                    "clambake: bundle rebuilt without its culprits",
                )
                .await?
        {
            return Err(AppError::BundleBranchTaken {
                branch: record.branch.clone(),
            });
        }
        let mut rebuilt = record.clone();
        rebuilt.members.retain(|m| kept.contains(&m.issue));
        rebuilt.tip = tip;
        rebuilt.checking = self.verification.is_some();
        rebuilt.taken_out.extend(taken_out);
        self.train_log.record_bundle(&rebuilt)?;
        let simulated = simulated_issues(&self.state_dir, &rebuilt.member_issues())?;
        let PullRequestText { title, body } = pull_requests::rebuilt_bundle(&rebuilt, &simulated);
        self.forge
            .edit_pull_request(pr.number, &PullRequestEdit { title, body })
            .await?;
        Ok(true)
    }
}
