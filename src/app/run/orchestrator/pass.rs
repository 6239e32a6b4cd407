//! The poll, and the pass that follows every input: check the world for drift, dispose of the
//! ended attempts (publishing the work in flight first), fill free slots with ready issues, send
//! a train, and say whether the loop is done.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{Orchestrator, QueueCounts, StopWhen};
use crate::app::AppResult;
use crate::app::queue::claim::claim_issue;
use crate::app::trains::disposal;
use crate::core::queue::labels::agent_slot;
use crate::core::queue::routing::{OpenIssue, plan_claims};
use crate::core::queue::standing::{Stage, stage};
use crate::ports::forge::{Issue, IssueFilter};

impl Orchestrator {
    /// One pass of the loop; true when the loop is done.
    pub(super) async fn pass(
        &mut self,
        stop_when: StopWhen,
        routed_once: &mut bool,
    ) -> AppResult<bool> {
        self.pass_listing = None;
        self.reload_github_actions();
        self.say_alive().await?;
        self.check_drift().await?;
        // An attempt whose disposal fails stays in flight (its slot busy) and is tried again
        // next pass, or parked; it holds up neither the other slots nor the loop.
        self.dispose_ended().await;
        if self.waiting_out_rate_limit() {
            return Ok(false);
        }
        self.prune_when_due().await;
        if !self.claiming {
            let done = self.in_flight.is_empty();
            // Claiming stopped for an agent that cannot run: what landed still leaves.
            if !self.shutting_down {
                self.trains(done && stop_when == StopWhen::Idle).await?;
            }
            return Ok(done);
        }
        if !(stop_when == StopWhen::OnePass && *routed_once) {
            // A claim whose attempt never started (a pass failed between the two) is taken
            // up like one left by a killed run.
            self.resume_claims().await?;
            self.route().await?;
            *routed_once = true;
        }
        let done = match stop_when {
            StopWhen::Never => false,
            StopWhen::OnePass => self.in_flight.is_empty(),
            StopWhen::Idle => self.in_flight.is_empty() && self.nothing_to_route().await?,
        };
        // Stopping when idle, the loop sends off the work still waiting for a train.
        self.trains(done && stop_when == StopWhen::Idle).await?;
        Ok(done)
    }

    /// The open issues, listed once a pass (see `pass_listing`).
    pub(super) async fn open_issues(&mut self) -> AppResult<Vec<Issue>> {
        if let Some(open) = &self.pass_listing {
            return Ok(open.clone());
        }
        let open = self.forge.issues(&IssueFilter::open()).await?;
        self.pass_listing = Some(open.clone());
        Ok(open)
    }

    /// Fills free slots with ready issues, highest priority first, but for those waiting on
    /// blockers, and none while reviewers are too far behind.
    async fn route(&mut self) -> AppResult<()> {
        let mut open = self.open_issues().await?;
        self.queue = Some(QueueCounts::tally(open.iter().map(|i| i.labels.as_slice())));
        let now = self.clock.now();
        let mut busy: BTreeSet<String> = self
            .in_flight
            .keys()
            .chain(self.parked.keys())
            .cloned()
            .collect();
        let mut held_back = BTreeSet::new();
        let mut retry_at = None;
        let mut preferred = BTreeMap::new();
        let view = self.claims.view(now).await?;
        for issue in &open {
            // Another orchestrator's slots are its own, whatever they are called.
            if !self.claims.held_elsewhere(&view, issue.number).await? {
                busy.extend(
                    issue
                        .labels
                        .iter()
                        .filter(|l| agent_slot(l).is_some())
                        .cloned(),
                );
            }
            if stage(issue.labels.iter().map(String::as_str)) != Stage::Ready {
                continue;
            }
            let attempts = self.journal.attempts(issue.number)?;
            let policy = self.settings.policy;
            // Another orchestrator's failures wait out their backoff here too.
            let claim = self.claims.record(&view, issue.number).await?;
            let elsewhere = claim.and_then(|c| disposal::claim_not_before(&c, policy, now));
            let here = disposal::not_before(&attempts, policy, now);
            if self.issue_spent(&attempts) {
                held_back.insert(issue.number);
            }
            if let Some(at) = here.max(elsewhere) {
                held_back.insert(issue.number);
                retry_at = Some(retry_at.map_or(at, |earliest: Timestamp| earliest.min(at)));
            }
            // A retry goes back to the slot that tried before, to continue on its branch.
            if let Some(last) = attempts.last() {
                preferred.insert(issue.number, last.agent.clone());
            }
        }
        let candidates: Vec<OpenIssue> = open
            .iter()
            .map(|i| OpenIssue {
                number: i.number,
                labels: i.labels.clone(),
            })
            .collect();
        self.retry_at = retry_at;
        let holds = self.holds(&open).await?;
        if holds.claiming_paused.is_some() || self.held_by_budget()? {
            return Ok(());
        }
        held_back.extend(holds.waiting.iter().map(|waiting| waiting.number));
        let claims = plan_claims(
            &candidates,
            &busy,
            self.settings.max_concurrent,
            &held_back,
            &preferred,
        );
        for claim in claims {
            let forge = self.forge.as_ref();
            let now = self.clock.now();
            let Some(claimed) =
                claim_issue(&self.claims, forge, &claim.agent, claim.issue, now).await?
            else {
                continue;
            };
            // The claim read the issue back: the queue the view shows has it claimed.
            if let Some(listed) = open.iter_mut().find(|i| i.number == claimed.issue.number) {
                listed.labels.clone_from(&claimed.issue.labels);
                self.queue = Some(QueueCounts::tally(open.iter().map(|i| i.labels.as_slice())));
            }
            self.start_attempt(&claim.agent, &claimed, false).await?;
            // Each attempt started takes its cap out of what the day and the run have left.
            if self.held_by_budget()? {
                break;
            }
        }
        Ok(())
    }

    /// Whether nothing is ready or waiting for a retry (claimed issues are in flight). Asked
    /// with no attempt in flight, so after a routing that claimed nothing: the pass's listing
    /// still holds. Issues waiting on blockers, or on reviewers, wait for people: nothing a
    /// run can do.
    async fn nothing_to_route(&mut self) -> AppResult<bool> {
        let open = self.open_issues().await?;
        self.queue = Some(QueueCounts::tally(open.iter().map(|i| i.labels.as_slice())));
        let paused = self.paused.is_some() || self.budgets.held.is_some();
        Ok(!open.iter().any(|issue| {
            !self.is_parked(issue.number)
                && match stage(issue.labels.iter().map(String::as_str)) {
                    Stage::Ready => !paused && !self.blocked.contains(&issue.number),
                    Stage::Claimed => true,
                    _ => false,
                }
        }))
    }
}
