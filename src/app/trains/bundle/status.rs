//! What the next train would carry: the review issues and where each stands, the earlier
//! trains' open pull requests it plans on top of, `bundle --status` and `bundle --diagnose`.

use jiff::Timestamp;

use crate::app::trains::trial::{OpenTrainPullRequest, PendingTip, pending_tip, plan_on_git};
use crate::app::{AppError, AppResult};
use crate::core::queue::labels::{self, priority_rank};
use crate::core::trains::plan::{Candidate, order};
use crate::ports::forge::{IssueFilter, IssueState, PullRequestFilter, PullRequestState};
use crate::ports::git::GitError;

use super::{
    Bundler, Diagnosis, OpenBundle, ReviewIssue, Standing, TrainStatus, Trains, Waiting,
    issue_branch,
};

impl Bundler<'_> {
    /// Every open `route:review` issue and where it stands.
    pub(super) async fn review_issues(
        &self,
        base_tip: &str,
        trains: &Trains,
    ) -> AppResult<Vec<ReviewIssue>> {
        let issues = self
            .forge
            .issues(&IssueFilter {
                state: Some(IssueState::Open),
                labels: vec![labels::REVIEW.to_owned()],
            })
            .await?;
        let open_prs = self
            .forge
            .pull_requests(&PullRequestFilter {
                state: Some(PullRequestState::Open),
                head: None,
            })
            .await?;
        let closed_prs = self
            .forge
            .pull_requests(&PullRequestFilter {
                state: Some(PullRequestState::Closed),
                head: None,
            })
            .await?;
        let tips = &trains.tips.tips;
        let merged = self.git.refs.branch_tips_merged_into(base_tip).await?;
        let mut report = Vec::new();
        for issue in issues {
            let in_bundle = trains.bundles.iter().find(|(pr, record)| {
                pr.state == PullRequestState::Open && record.member_issues().contains(&issue.number)
            });
            let branch = issue_branch(tips, issue.number);
            let standing = if let Some((pr, _)) = in_bundle {
                Standing::InBundle {
                    pull_request: pr.number,
                }
            } else if let Some((branch, head)) = branch {
                if let Some(pr) = open_prs.iter().find(|pr| &pr.head == branch) {
                    Standing::OwnPullRequest {
                        pull_request: pr.number,
                    }
                } else if let Some(pr) = closed_prs
                    .iter()
                    .rfind(|pr| &pr.head == branch && pr.head_sha.as_ref() == Some(head))
                {
                    Standing::Declined {
                        branch: branch.clone(),
                        pull_request: pr.number,
                    }
                } else if trains.tips.diverged.contains(branch) {
                    Standing::Diverged {
                        branch: branch.clone(),
                    }
                } else if merged.contains(head) {
                    Standing::NothingAhead {
                        branch: branch.clone(),
                    }
                } else {
                    Standing::Waiting {
                        branch: branch.clone(),
                        head: head.clone(),
                    }
                }
            } else {
                Standing::NoBranch
            };
            report.push(ReviewIssue {
                issue: issue.number,
                priority: priority_rank(issue.labels.iter().map(String::as_str)),
                title: issue.title,
                updated_at: issue.updated_at,
                standing,
            });
        }
        Ok(report)
    }

    /// The base tip with the earlier trains' open pull requests merged in. Those that no longer
    /// merge are left out and logged: they must not hold every later train back.
    pub(super) async fn pending(&self, base_tip: &str, trains: &Trains) -> AppResult<PendingTip> {
        let tips = &trains.tips.tips;
        let mut open = Vec::new();
        let mut gone = Vec::new();
        for (number, branch) in &trains.open {
            match tips.get(branch) {
                Some(head) => open.push(OpenTrainPullRequest {
                    number: *number,
                    head: head.clone(),
                }),
                None => gone.push((*number, format!("its branch `{branch}` is gone"))),
            }
        }
        let mut pending = pending_tip(self.git.merges.as_ref(), base_tip, &open).await?;
        pending.left_out.extend(gone);
        pending.left_out.sort_unstable();
        for (pull_request, why) in &pending.left_out {
            tracing::warn!(
                pull_request,
                why,
                "an open train pull request no longer merges; planning without it"
            );
        }
        Ok(pending)
    }

    /// The waiting issues as planner candidates, in boarding order. Each landed when the
    /// committer time of its branch's tip says: landing writes that commit last.
    pub(super) async fn candidates(&self, review: &[ReviewIssue]) -> AppResult<Vec<Candidate>> {
        let heads: Vec<&str> = review
            .iter()
            .filter_map(|entry| match &entry.standing {
                Standing::Waiting { head, .. } => Some(head.as_str()),
                _ => None,
            })
            .collect();
        let times = self.git.refs.committer_times(&heads).await?;
        let mut candidates = Vec::new();
        for entry in review {
            let Standing::Waiting { branch, head } = &entry.standing else {
                continue;
            };
            let landed_at = times
                .get(head)
                .and_then(|seconds| Timestamp::from_second(*seconds).ok())
                .ok_or_else(|| {
                    AppError::Git(GitError::Unparsable {
                        args: format!("log --no-walk --format=%H %ct {head}"),
                        output: "no committer time for it".to_owned(),
                    })
                })?;
            candidates.push(Candidate {
                issue: entry.issue,
                title: entry.title.clone(),
                branch: branch.clone(),
                head: head.clone(),
                priority: entry.priority,
                landed_at,
            });
        }
        order(&mut candidates);
        Ok(candidates)
    }

    /// `bundle --status`: the next departure, the waiting branches, the open bundles.
    pub async fn status(&self, now: Timestamp) -> AppResult<TrainStatus> {
        self.git.remote.fetch().await?;
        let (_, base_tip) = self.base().await?;
        let trains = self.trains(now).await?;
        let review = self.review_issues(&base_tip, &trains).await?;
        let candidates = self.candidates(&review).await?;
        let last_landing = super::last_landing(&review, &candidates);
        Ok(TrainStatus {
            trigger: self.config.trigger,
            last_departure: trains.last_departure,
            next: self
                .schedule()
                .decide(now, trains.last_departure, last_landing),
            waiting: review
                .into_iter()
                .filter(|r| matches!(r.standing, Standing::Waiting { .. }))
                .collect(),
            open_bundles: trains
                .bundles
                .iter()
                .filter(|(pr, _)| pr.state == PullRequestState::Open)
                .map(|(pr, record)| -> AppResult<OpenBundle> {
                    Ok(OpenBundle {
                        pull_request: pr.number,
                        branch: pr.head.clone(),
                        members: record.member_issues(),
                        checks: self.train_log.bundle_checks(pr.number)?,
                    })
                })
                .collect::<AppResult<_>>()?,
        })
    }

    /// `bundle --diagnose`: why each `route:review` issue is or is not in the next train.
    pub async fn diagnose(&self, now: Timestamp) -> AppResult<Vec<Diagnosis>> {
        self.git.remote.fetch().await?;
        let (_, base_tip) = self.base().await?;
        let trains = self.trains(now).await?;
        let review = self.review_issues(&base_tip, &trains).await?;
        let candidates = self.candidates(&review).await?;
        let pending = self.pending(&base_tip, &trains).await?;
        let plan = plan_on_git(
            self.git.merges.as_ref(),
            &base_tip,
            &pending,
            candidates,
            self.max_size(),
        )
        .await?;
        Ok(review
            .into_iter()
            .map(|entry| {
                let (branch, in_next_train, why) = match &entry.standing {
                    Standing::NoBranch => (
                        None,
                        false,
                        format!("no branch named agentNNN/{}-...", entry.issue),
                    ),
                    Standing::NothingAhead { branch } => (
                        Some(branch.clone()),
                        false,
                        "its branch has no commits the base lacks".to_owned(),
                    ),
                    Standing::InBundle { pull_request } => (
                        None,
                        false,
                        format!("already in bundle pull request #{pull_request}"),
                    ),
                    Standing::OwnPullRequest { pull_request } => (
                        None,
                        false,
                        format!("has its own pull request #{pull_request}"),
                    ),
                    Standing::Declined {
                        branch,
                        pull_request,
                    } => (
                        Some(branch.clone()),
                        false,
                        format!(
                            "its pull request #{pull_request} was closed without merging; new \
                             commits on its branch put it back in the trains"
                        ),
                    ),
                    Standing::Diverged { branch } => {
                        (Some(branch.clone()), false, diverged_why(branch))
                    }
                    Standing::Waiting { branch, .. } => {
                        let position = plan
                            .members
                            .iter()
                            .position(|m| m.candidate.issue == entry.issue);
                        let why = match position {
                            Some(position) => format!(
                                "merges cleanly; rides as member {} of {}",
                                position + 1,
                                plan.members.len()
                            ),
                            None => plan
                                .set_aside
                                .iter()
                                .find(|s| s.candidate.issue == entry.issue)
                                .map(|s| s.reason.describe())
                                .unwrap_or_default(),
                        };
                        (Some(branch.clone()), position.is_some(), why)
                    }
                };
                Diagnosis {
                    issue: entry.issue,
                    title: entry.title,
                    branch,
                    in_next_train,
                    why,
                }
            })
            .collect())
    }
}
/// The issues whose branch diverged from the remote's, as the train leaves them waiting.
pub(super) fn diverged(review: &[ReviewIssue]) -> Vec<Waiting> {
    review
        .iter()
        .filter_map(|entry| match &entry.standing {
            Standing::Diverged { branch } => {
                tracing::warn!(
                    issue = entry.issue,
                    branch,
                    "the branch here and on the remote have diverged; it waits"
                );
                Some(Waiting {
                    issue: entry.issue,
                    why: diverged_why(branch),
                })
            }
            _ => None,
        })
        .collect()
}

/// Why a branch that diverged from the remote's waits.
pub(super) fn diverged_why(branch: &str) -> String {
    format!(
        "its branch `{branch}` here and on the remote each have commits the other lacks: \
         merge one into the other"
    )
}
