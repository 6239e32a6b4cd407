//! Boarding: a planned bundle written as its branch and pull request, the branches it set aside
//! given pull requests of their own, and the lifecycle of the slots whose work rode.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::app::agents::simulated_work::simulated_issues;
use crate::app::lifecycle::transitions::transition;
use crate::app::trains::comment::comment_unless_locked;
use crate::app::trains::trial::{BranchWrite, publish_head, write_bundle_branch};
use crate::app::{AppError, AppResult};
use crate::core::config::ConflictStrategy;
use crate::core::forge_text::comments;
use crate::core::forge_text::pull_requests::{self, PullRequestText, RIDES_ALONE};
use crate::core::queue::labels;
use crate::core::trains::plan::{BundlePlan, SetAsideReason};
use crate::core::trains::pull_request::{BundleRecord, RecordedBranch};
use crate::ports::forge::{
    IssueState, NewPullRequest, Number, PullRequest, PullRequestFilter, PullRequestState,
};

use super::{Bundler, LifecycleStep, OpenedPullRequest};

impl Bundler<'_> {
    /// Whether a set-aside branch gets its own pull request now (rather than waiting).
    pub(super) fn falls_back(&self, reason: &SetAsideReason) -> bool {
        matches!(reason, SetAsideReason::Conflict { .. })
            && self.config.conflict_strategy == ConflictStrategy::IndividualFallback
    }

    /// Opens the pull requests a bundle's conflicting branches are owed, once each: those
    /// still in review whose branch has no open pull request yet.
    /// `tips` are the branches the trains read.
    pub(super) async fn fallbacks(
        &self,
        record: &BundleRecord,
        tips: &BTreeMap<String, String>,
    ) -> AppResult<Vec<OpenedPullRequest>> {
        let mut opened = Vec::new();
        if self.config.conflict_strategy != ConflictStrategy::IndividualFallback {
            return Ok(opened);
        }
        for set_aside in record.set_aside.iter().filter(|s| s.conflict) {
            let issue = self.forge.issue(set_aside.issue).await?;
            let branch_exists = tips.contains_key(&set_aside.branch);
            // Any pull request for the branch, even a closed one, means it was already opened.
            let any_pr = self
                .forge
                .pull_requests(&PullRequestFilter {
                    state: None,
                    head: Some(set_aside.branch.clone()),
                })
                .await?;
            let owed = issue.state == IssueState::Open
                && issue.has_label(labels::REVIEW)
                && branch_exists
                && any_pr.iter().all(|pr| pr.state == PullRequestState::Open);
            if owed {
                opened.push(
                    self.individual(
                        issue.number,
                        &issue.title,
                        &set_aside.branch,
                        Some(&set_aside.why),
                    )
                    .await?,
                );
            }
        }
        Ok(opened)
    }

    pub(super) async fn open_bundle(
        &self,
        record: &BundleRecord,
        plan: &BundlePlan,
        orphan: Option<&(String, String)>,
        now: Timestamp,
    ) -> AppResult<OpenedPullRequest> {
        let wrote = match write_bundle_branch(self.git.remote.as_ref(), &record.branch, &record.tip)
            .await?
        {
            BranchWrite::Created => true,
            BranchWrite::AlreadyThere => false,
            BranchWrite::Elsewhere { found } => {
                // Only a branch no pull request names may be moved: a half-finished train.
                let ours =
                    orphan.is_some_and(|(branch, tip)| *branch == record.branch && *tip == found);
                // Whoever made it, what it holds is kept before the branch moves.
                let kept = !ours
                    || self.git.refs.is_ancestor(&found, &record.tip).await?
                    || self
                        .git
                        .refs
                        .archive(&record.branch, &found)
                        .await?
                        .is_some();
                if !kept {
                    return Err(AppError::BundleBranchTaken {
                        branch: record.branch.clone(),
                    });
                }
                if !ours
                    || !self
                        .git
                        .remote
                        .publish(
                            &record.branch,
                            &record.tip,
                            Some(&found),
                            "clambake: rebuild bundle train",
                        )
                        .await?
                {
                    return Err(AppError::BundleBranchTaken {
                        branch: record.branch.clone(),
                    });
                }
                true
            }
        };
        // Recorded as soon as it is written, so that a crash before its pull request leaves an
        // orphan the next train knows for this machine's own.
        if wrote {
            self.train_log.record_bundle(record)?;
        }
        // Members board only an open bundle: one on this branch that has merged or closed
        // since would leave them `route:bundled` with nothing to merge them.
        let open = self
            .forge
            .pull_requests(&PullRequestFilter {
                state: Some(PullRequestState::Open),
                head: Some(record.branch.clone()),
            })
            .await?;
        let (pr, created) = match open.into_iter().next() {
            Some(pr) => (pr, false),
            None => {
                self.train_log.record_bundle(record)?;
                let simulated = simulated_issues(&self.state_dir, &record.member_issues())?;
                let PullRequestText { title, body } =
                    pull_requests::bundle(record, plan, &simulated);
                let new = NewPullRequest {
                    title,
                    body,
                    head: record.branch.clone(),
                    base: Some(record.base.clone()),
                };
                (self.forge.create_pull_request(&new).await?, true)
            }
        };
        for member in &record.members {
            self.board(member, &pr, record, now, created).await?;
        }
        Ok(OpenedPullRequest {
            number: pr.number,
            head: pr.head,
            issues: record.member_issues(),
            created,
            why: None,
        })
    }

    /// Moves a member to `route:bundled` with a comment linking the bundle, once, and records
    /// `Bundle` for the agent slot that landed it. Onto a pull request `just_created`, no
    /// member can carry its comment or have boarded it yet, so neither is read first. A forge
    /// that shows the bundle on the issue itself (its `Closes #N` names it) gets no comment.
    pub(super) async fn board(
        &self,
        member: &RecordedBranch,
        pr: &PullRequest,
        record: &BundleRecord,
        now: Timestamp,
        just_created: bool,
    ) -> AppResult<()> {
        let issue = member.issue;
        let current = if just_created {
            None
        } else {
            Some(self.forge.issue(issue).await?)
        };
        if !self.forge.shows_mentions() {
            let others: Vec<Number> = record
                .member_issues()
                .into_iter()
                .filter(|n| *n != issue)
                .collect();
            let comment = comments::bundled(pr.number, &record.branch, &others);
            // Written once: only the very comment counts, so a marker someone else wrote into
            // theirs cannot keep it off the issue. An issue without comments lacks it too.
            let written = match &current {
                Some(current) if current.comments > 0 => (self.forge.comments(issue).await?)
                    .iter()
                    .any(|c| c.body == comment),
                _ => false,
            };
            if !written {
                comment_unless_locked(self.forge, issue, &comment).await?;
            }
        }
        let boarded = current.is_some_and(|current| {
            !current.has_label(labels::REVIEW) && current.has_label(labels::BUNDLED)
        });
        if !boarded {
            self.forge
                .edit_labels(
                    issue,
                    &[labels::BUNDLED.to_owned()],
                    &[labels::REVIEW.to_owned()],
                )
                .await?;
        }
        self.journal_event(&member.branch, issue, LifecycleStep::Bundle(pr.number), now)
    }

    /// Records a train's step in the lifecycle of the slot whose branch it is, when that slot
    /// is still where the step applies: a slot that has moved on to other work is left alone.
    pub(super) fn journal_event(
        &self,
        branch: &str,
        issue: Number,
        step: LifecycleStep,
        now: Timestamp,
    ) -> AppResult<()> {
        let (Some(journal), Some((agent, _))) = (self.journal, branch.split_once('/')) else {
            return Ok(());
        };
        let state = journal.current_state(agent)?;
        if let Some(event) = step.event_from(&state, issue) {
            let cause = match step {
                LifecycleStep::Bundle(number) => format!("bundled into #{number}"),
                LifecycleStep::Merge(number) => format!("bundle #{number} merged"),
            };
            transition(journal, agent, &event, &cause, now)?;
        }
        Ok(())
    }

    /// Opens a branch's own pull request, unless one is already open: `why` it was set aside
    /// from the bundle, or `None` for the train's only branch.
    pub(super) async fn individual(
        &self,
        issue: Number,
        title: &str,
        branch: &str,
        why: Option<&str>,
    ) -> AppResult<OpenedPullRequest> {
        let open = self
            .forge
            .pull_requests(&PullRequestFilter {
                state: Some(PullRequestState::Open),
                head: Some(branch.to_owned()),
            })
            .await?;
        let (pr, created) = match open.into_iter().next() {
            Some(pr) => (pr, false),
            None => {
                let simulated = simulated_issues(&self.state_dir, &[issue])?;
                let PullRequestText { title, body } =
                    pull_requests::individual(issue, title, why, &simulated);
                let new = NewPullRequest {
                    title,
                    body,
                    head: branch.to_owned(),
                    base: None,
                };
                publish_head(self.git, branch).await?;
                (self.forge.create_pull_request(&new).await?, true)
            }
        };
        Ok(OpenedPullRequest {
            number: pr.number,
            head: pr.head,
            issues: vec![issue],
            created,
            why: Some(why.unwrap_or(RIDES_ALONE).to_owned()),
        })
    }
}
