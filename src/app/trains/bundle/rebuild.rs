//! The shared rebuild: an open bundle pull request rebuilt in place without some members (the
//! culprits of a failing bisection, the members a reviewer sent back). The remaining members'
//! chain is merged again onto the bundle's recorded base, the branch published with a lease on
//! its old tip, the record (journal first, then the body) made to say who rides and who was
//! taken out and why; a bundle left with nothing to carry is closed with a comment.
//!
//! Repeatable: the chain is dated by the departure, so the same members give the same commits;
//! a member already taken out is only relabelled again.

use crate::app::{AppError, AppResult};
use crate::core::forge_text::pull_requests::{self, PullRequestText};
use crate::core::queue::labels;
use crate::core::trains::plan::{BundlePlan, Candidate, Member};
use crate::core::trains::pull_request::{BundleRecord, RecordedTakenOut};
use crate::ports::forge::{IssueState, Number, PullRequestEdit, PullRequestState};
use crate::ports::git::TrialMerge;

use super::Bundler;

/// Where a member taken out goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentBack {
    /// `route:ready`: to an agent, to continue on its branch.
    Ready,
    /// `route:failed`: its attempts are used up.
    Failed,
}

impl SentBack {
    fn label(self) -> &'static str {
        match self {
            Self::Ready => labels::READY,
            Self::Failed => labels::FAILED,
        }
    }
}

/// A member to take out of a bundle, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOut {
    pub issue: Number,
    /// A short reason, one line, shown in the body (no closing keyword, no HTML).
    pub why: String,
    /// Where to read more: the failing log, the review.
    pub link: Option<String>,
    /// The tail of a failing log, already redacted.
    pub tail: Option<String>,
    pub sent_back: SentBack,
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebuilt {
    /// The bundle now carries `members`, its branch at `tip`.
    InPlace { tip: String, members: Vec<Number> },
    /// No member was left: the bundle was closed.
    Closed,
    /// None of those named rode in it (already taken out, or never a member).
    Unchanged,
}

impl Bundler<'_> {
    /// Rebuilds the open bundle pull request `number` without the members in `take_out`, and
    /// sends each of them where its [`TakeOut::sent_back`] says (off `route:bundled`).
    pub async fn rebuild_without(
        &self,
        number: Number,
        take_out: &[TakeOut],
    ) -> AppResult<Rebuilt> {
        let pr = self.forge.pull_request(number).await?;
        let base = self.forge.default_branch().await?;
        let record = match self.trusted_record(&pr, &base)? {
            Some(record) if pr.state == PullRequestState::Open => record,
            _ => {
                return Err(AppError::NotAnOpenBundle {
                    pull_request: number,
                });
            }
        };
        let leaving: Vec<&TakeOut> = take_out
            .iter()
            .filter(|t| record.members.iter().any(|m| m.issue == t.issue))
            .collect();
        let rebuilt = if leaving.is_empty() {
            Rebuilt::Unchanged
        } else {
            let new = self.without(&record, &leaving).await?;
            if new.members.is_empty() {
                self.train_log.record_bundle(&new)?;
                let comment = pull_requests::emptied(&new);
                if !self
                    .forge
                    .comments(number)
                    .await?
                    .iter()
                    .any(|c| c.body == comment)
                {
                    self.forge.create_comment(number, &comment).await?;
                }
                self.forge.close_pull_request(number).await?;
                Rebuilt::Closed
            } else {
                self.publish_rebuilt(&record, &new).await?;
                let PullRequestText { title, body } =
                    pull_requests::bundle(&new, &self.plan_of(&new).await?, &[]);
                self.forge
                    .edit_pull_request(number, &PullRequestEdit { title, body })
                    .await?;
                Rebuilt::InPlace {
                    tip: new.tip.clone(),
                    members: new.member_issues(),
                }
            }
        };
        tracing::info!(
            pull_request = number,
            taken_out = ?leaving.iter().map(|t| t.issue).collect::<Vec<_>>(),
            ?rebuilt,
            "rebuilt a bundle without some members"
        );
        // Those it carried, or had taken out already (a rebuild repeated after a crash).
        let ours = |issue: Number| {
            leaving.iter().any(|t| t.issue == issue)
                || record.taken_out.iter().any(|t| t.issue == issue)
        };
        for taken in take_out.iter().filter(|t| ours(t.issue)) {
            let issue = self.forge.issue(taken.issue).await?;
            if issue.state == IssueState::Open && issue.has_label(labels::BUNDLED) {
                self.forge
                    .edit_labels(
                        taken.issue,
                        &[taken.sent_back.label().to_owned()],
                        &[labels::BUNDLED.to_owned()],
                    )
                    .await?;
            }
        }
        Ok(rebuilt)
    }

    /// `record` without the members `leaving`: the remaining chain written again onto its
    /// base tip, dated by its departure.
    async fn without(
        &self,
        record: &BundleRecord,
        leaving: &[&TakeOut],
    ) -> AppResult<BundleRecord> {
        let merges = self.git.merges.as_ref();
        let mut new = record.clone();
        new.members
            .retain(|m| leaving.iter().all(|t| t.issue != m.issue));
        for taken in leaving {
            let member = record
                .members
                .iter()
                .find(|m| m.issue == taken.issue)
                .expect("only members are taken out");
            new.taken_out.push(RecordedTakenOut {
                issue: member.issue,
                branch: member.branch.clone(),
                head: member.head.clone(),
                why: taken.why.clone(),
                link: taken.link.clone(),
                tail: taken.tail.clone(),
            });
        }
        let mut tip = record.base_tip.clone();
        for member in &new.members {
            let merge_base = merges
                .merge_base(&record.base_tip, &member.head)
                .await?
                .unwrap_or_else(|| record.base_tip.clone());
            let tree = match merges
                .trial_merge_onto(&merge_base, &tip, &member.head)
                .await?
            {
                TrialMerge::Clean(tree) => tree,
                TrialMerge::Conflict(paths) => {
                    return Err(AppError::RebuildConflict {
                        branch: record.branch.clone(),
                        issue: member.issue,
                        paths,
                    });
                }
            };
            let message = format!("Merge branch '{}' (#{})", member.branch, member.issue);
            tip = merges
                .write_commit(&tree, &[&tip, &member.head], &message, record.departure)
                .await?;
        }
        new.tip = tip;
        Ok(new)
    }

    /// Records `new` (the journal first: a crash after it leaves the journal's record, which
    /// the next train trusts over the body's) and moves the branch from `old`'s tip to it.
    async fn publish_rebuilt(&self, old: &BundleRecord, new: &BundleRecord) -> AppResult<()> {
        let remote = self.git.remote.as_ref();
        let found = remote.tip(&new.branch).await?;
        if found.as_deref() == Some(new.tip.as_str()) {
            self.train_log.record_bundle(new)?;
            return Ok(());
        }
        if found.as_deref() != Some(old.tip.as_str()) {
            return Err(AppError::BundleBranchTaken {
                branch: new.branch.clone(),
            });
        }
        self.train_log.record_bundle(new)?;
        if !remote
            .publish(
                &new.branch,
                &new.tip,
                Some(&old.tip),
                "clambake: rebuild bundle",
            )
            .await?
        {
            // Someone pushed onto it meanwhile: the old record stays the true one.
            self.train_log.record_bundle(old)?;
            return Err(AppError::BundleBranchTaken {
                branch: new.branch.clone(),
            });
        }
        Ok(())
    }

    /// The plan a bundle's body is written from: its members with their issues' titles.
    async fn plan_of(&self, record: &BundleRecord) -> AppResult<BundlePlan> {
        let mut members = Vec::new();
        for member in &record.members {
            let issue = self.forge.issue(member.issue).await?;
            members.push(Member {
                candidate: Candidate {
                    issue: member.issue,
                    title: issue.title,
                    branch: member.branch.clone(),
                    head: member.head.clone(),
                    priority: 0,
                    landed_at: issue.updated_at,
                },
                tip: String::new(),
            });
        }
        Ok(BundlePlan {
            base: record.base_tip.clone(),
            members,
            set_aside: Vec::new(),
        })
    }
}
