//! Repairs to earlier trains: finishing interrupted ones, taking apart a bundle to rebuild it,
//! removing the branches of work that was merged or turned down, and sending on the issues
//! left `route:bundled` with no open bundle to carry them.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::app::AppResult;
use crate::core::forge_text::{comments, issue_list};
use crate::core::queue::labels;
use crate::core::trains::pull_request::BundleRecord;
use crate::core::trains::schedule::BUNDLE_BRANCH_PREFIX;
use crate::ports::forge::{Issue, IssueFilter, IssueState, Number, PullRequestState};
use crate::ports::git::{BranchDeletion, GitError, Removal};

use super::{Bundler, LifecycleStep, Trains, same_dir};

impl Bundler<'_> {
    /// Finishes, rebuilds or cleans up after earlier trains. Returns whether a bundle was
    /// taken apart for rebuilding, which makes this run's train leave now.
    pub(super) async fn repair(
        &self,
        trains: &Trains,
        repairs: &mut Vec<String>,
        now: Timestamp,
    ) -> AppResult<bool> {
        let tips = &trains.tips.tips;
        let mut rebuild = false;
        // The open bundles this repair closes to rebuild them.
        let mut closed = BTreeSet::new();
        // Issues an open bundle carries: an older, closed bundle must not take them back.
        let carried: BTreeSet<Number> = trains
            .bundles
            .iter()
            .filter(|(pr, _)| pr.state == PullRequestState::Open)
            .flat_map(|(_, record)| record.member_issues())
            .collect();
        let open_heads: Vec<&str> = trains.open.iter().map(|(_, head)| head.as_str()).collect();
        for (pr, record) in &trains.bundles {
            match pr.state {
                PullRequestState::Open => {
                    let moved: Vec<Number> = record
                        .members
                        .iter()
                        .filter(|m| tips.get(&m.branch) != Some(&m.head))
                        .map(|m| m.issue)
                        .collect();
                    if moved.is_empty() {
                        for opened in self.fallbacks(record, tips).await? {
                            if opened.created {
                                repairs.push(format!(
                                    "opened #{} for #{}, set aside from #{}",
                                    opened.number, opened.issues[0], pr.number
                                ));
                            }
                        }
                        for member in &record.members {
                            let issue = self.forge.issue(member.issue).await?;
                            // One its checks sent back (`route:ready`, `route:failed`)
                            // before its bundle was rebuilt without it stays out.
                            let sent_back = [labels::READY, labels::FAILED]
                                .iter()
                                .any(|label| issue.has_label(label));
                            if issue.state == IssueState::Open
                                && !issue.has_label(labels::BUNDLED)
                                && !sent_back
                            {
                                self.board(member, pr, record, now, false).await?;
                                repairs.push(format!(
                                    "finished boarding #{} onto #{}",
                                    member.issue, pr.number
                                ));
                            } else {
                                // Boarded elsewhere (the bundling workflow's run, another
                                // machine): the slot here that landed it learns it now.
                                self.journal_event(
                                    &member.branch,
                                    member.issue,
                                    LifecycleStep::Bundle(pr.number),
                                    now,
                                )?;
                            }
                        }
                        continue;
                    }
                    self.forge
                        .create_comment(pr.number, &comments::rebuilding(&moved))
                        .await?;
                    self.forge.close_pull_request(pr.number).await?;
                    closed.insert(pr.number);
                    self.unboard(record, &BTreeSet::new()).await?;
                    repairs.push(format!(
                        "closed #{} to rebuild it: {} moved",
                        pr.number,
                        issue_list(&moved)
                    ));
                    rebuild = true;
                }
                PullRequestState::Closed => {
                    if self.unboard(record, &carried).await? {
                        repairs.push(format!(
                            "#{} was closed unmerged: its issues are back in review",
                            pr.number
                        ));
                    }
                    if let Some(cleaned) = self.clean_closed(pr, tips, &open_heads).await? {
                        repairs.push(cleaned);
                    }
                }
                PullRequestState::Merged => {
                    if let Some(tip) = tips.get(&record.branch)
                        && self.delete_branch(&record.branch, tip).await?
                    {
                        repairs.push(format!("removed `{}`: merged", record.branch));
                    }
                    for member in &record.members {
                        // A bundle made elsewhere that merged before this machine saw it open:
                        // a slot here still landed on the work it carried (its branch where the
                        // bundle took it, or gone) rides it first. A branch at another tip
                        // holds later work on a reopened issue, which this bundle never carried.
                        let carried = tips
                            .get(&member.branch)
                            .is_none_or(|tip| *tip == member.head);
                        if carried {
                            self.journal_event(
                                &member.branch,
                                member.issue,
                                LifecycleStep::Bundle(pr.number),
                                now,
                            )?;
                        }
                        self.journal_event(
                            &member.branch,
                            member.issue,
                            LifecycleStep::Merge(pr.number),
                            now,
                        )?;
                        // Only as the bundle merged it: a branch at another tip holds later
                        // work (the issue reopened and worked again under the same name).
                        if let Some(tip) = tips.get(&member.branch)
                            && *tip == member.head
                            && self.remove_branch(&member.branch, tip).await?
                        {
                            repairs.push(format!(
                                "removed `{}`: merged in #{}",
                                member.branch, pr.number
                            ));
                        }
                    }
                }
            }
        }
        if self.strays(trains, &closed, repairs).await? {
            rebuild = true;
        }
        Ok(rebuild)
    }

    /// Repairs the open `route:bundled` issues no open bundle carries, as a train that boarded
    /// a bundle merged or closed since, or a label set by hand, leaves them: closed when a
    /// merged bundle carried them and the base holds that work, else sent back to review.
    /// Returns whether any went back to review, for this train to carry them now.
    async fn strays(
        &self,
        trains: &Trains,
        closed: &BTreeSet<Number>,
        repairs: &mut Vec<String>,
    ) -> AppResult<bool> {
        let open_bundles: BTreeSet<Number> = trains
            .bundles
            .iter()
            .filter(|(pr, _)| pr.state == PullRequestState::Open && !closed.contains(&pr.number))
            .map(|(pr, _)| pr.number)
            .collect();
        // What an open bundle whose record is not trusted carries is unknown: leave its
        // members to it rather than send them twice.
        if let Some((untrusted, _)) = trains.open.iter().find(|(number, head)| {
            head.starts_with(BUNDLE_BRANCH_PREFIX) && !open_bundles.contains(number)
        }) {
            tracing::warn!(
                pull_request = untrusted,
                "an open bundle's record is not trusted; bundled issues are left as they are"
            );
            return Ok(false);
        }
        let carried: BTreeSet<Number> = trains
            .bundles
            .iter()
            .filter(|(pr, _)| open_bundles.contains(&pr.number))
            .flat_map(|(_, record)| record.member_issues())
            .collect();
        let filter = IssueFilter {
            state: Some(IssueState::Open),
            labels: vec![labels::BUNDLED.to_owned()],
        };
        let strays: Vec<Issue> = self
            .forge
            .issues(&filter)
            .await?
            .into_iter()
            .filter(|issue| !carried.contains(&issue.number))
            .collect();
        if strays.is_empty() {
            return Ok(false);
        }
        let (base, base_tip) = self.base().await?;
        let mut sent_back = false;
        for stray in strays {
            let issue = stray.number;
            let mut merged_in = None;
            for (pr, record) in trains
                .bundles
                .iter()
                .filter(|(pr, _)| pr.state == PullRequestState::Merged)
            {
                if let Some(member) = record.members.iter().find(|m| m.issue == issue)
                    && self.git.refs.is_ancestor(&member.head, &base_tip).await?
                {
                    merged_in = Some(pr.number);
                    break;
                }
            }
            match merged_in {
                Some(number) => {
                    self.forge
                        .set_issue_state(issue, IssueState::Closed)
                        .await?;
                    self.forge
                        .create_comment(issue, &comments::merged_but_open(number, &base))
                        .await?;
                    repairs.push(format!("closed #{issue}: #{number} merged its work"));
                }
                None => {
                    self.forge
                        .edit_labels(
                            issue,
                            &[labels::REVIEW.to_owned()],
                            &[labels::BUNDLED.to_owned()],
                        )
                        .await?;
                    self.forge
                        .create_comment(issue, &comments::bundled_but_carried_by_none())
                        .await?;
                    repairs.push(format!(
                        "#{issue} was bundled, but no open bundle carries it: back in review"
                    ));
                    sent_back = true;
                }
            }
        }
        Ok(sent_back)
    }

    /// Sends the bundled members of a bundle back to review, except those another open bundle
    /// carries. Returns whether any moved.
    pub(super) async fn unboard(
        &self,
        record: &BundleRecord,
        carried: &BTreeSet<Number>,
    ) -> AppResult<bool> {
        let mut moved = false;
        for member in record
            .members
            .iter()
            .filter(|m| !carried.contains(&m.issue))
        {
            let issue: Issue = self.forge.issue(member.issue).await?;
            if issue.state == IssueState::Open && issue.has_label(labels::BUNDLED) {
                self.forge
                    .edit_labels(
                        member.issue,
                        &[labels::REVIEW.to_owned()],
                        &[labels::BUNDLED.to_owned()],
                    )
                    .await?;
                moved = true;
            }
        }
        Ok(moved)
    }

    /// Removes a merged member's worktree (if it has a linked one) and its branch; a branch
    /// someone has checked out in the main worktree stays, as deleting it would leave their
    /// checkout on an unborn HEAD. Returns whether it was removed.
    pub(super) async fn remove_branch(&self, branch: &str, tip: &str) -> AppResult<bool> {
        let main = self.git.worktrees.main().await?;
        for tree in self.git.worktrees.list().await? {
            if tree.branch.as_deref() != Some(branch) {
                continue;
            }
            if same_dir(&tree.path, &main) {
                tracing::info!(
                    branch,
                    "a merged branch is checked out in the main worktree; kept"
                );
                return Ok(false);
            }
            self.git
                .worktrees
                .remove(&tree.path, Removal::Clean)
                .await?;
        }
        self.delete_branch(branch, tip).await
    }

    /// Deletes a remote branch through the guarded deletion ([`crate::ports::git::Remote::delete_branch`]) only if it still
    /// points at `tip`. Returns whether it was deleted; a refusal is logged, never acted on.
    pub(super) async fn delete_branch(&self, branch: &str, tip: &str) -> AppResult<bool> {
        let base = self.forge.default_branch().await?;
        match self.git.remote.delete_branch(branch, tip, &base).await {
            Ok(deletion) => Ok(matches!(deletion, BranchDeletion::Deleted { .. })),
            Err(refused @ GitError::DeletionRefused { .. }) => {
                tracing::warn!(%refused, "a train's clean-up kept a branch");
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }
}
