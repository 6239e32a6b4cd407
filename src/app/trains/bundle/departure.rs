//! A departure: everything that waits leaves, in as many bundles as `max_bundle_size` requires,
//! each planned on top of the ones before it (open pull requests the base will have merged).

use jiff::{SignedDuration, Timestamp};

use super::{Bundler, Trains, Waiting};
use crate::app::AppResult;
use crate::app::trains::bundle::TrainReport;
use crate::app::trains::trial::write_chain;
use crate::app::trains::trial::{OpenTrainPullRequest, plan_screened_on_git};
use crate::core::trains::plan::{Candidate, SetAsideReason};
use crate::core::trains::pull_request::BundleRecord;

/// The departure being made.
pub(super) struct Leaving<'a> {
    /// The name of its first bundle.
    pub at: Timestamp,
    pub base: &'a str,
    pub base_tip: &'a str,
    /// A bundle branch an interrupted train left with no pull request: the first bundle takes
    /// its place.
    pub orphan: Option<(String, String)>,
    pub now: Timestamp,
}

impl Bundler<'_> {
    /// Plans and sends bundles until no waiting branch is left out for want of room: each
    /// bundle takes at most `max_bundle_size` branches, and the branches a full bundle turned
    /// away board the next one, named a second later. A plan of one branch sends it in a pull
    /// request of its own. A dry run plans the first bundle only.
    pub(super) async fn depart(
        &self,
        leaving: Leaving<'_>,
        trains: &Trains,
        mut candidates: Vec<Candidate>,
        report: &mut TrainReport,
    ) -> AppResult<()> {
        let Leaving {
            mut at,
            base,
            base_tip,
            mut orphan,
            now,
        } = leaving;
        let mut pending = self.pending(base_tip, trains).await?;
        report.pending = pending.pull_requests.clone();
        report.left_out = pending
            .left_out
            .iter()
            .map(|(pull_request, why)| super::LeftOut {
                pull_request: *pull_request,
                why: why.clone(),
            })
            .collect();
        // How many tips (the base, then each pending prefix) the candidates are known to merge
        // onto: none at first; later, every tip the bundle before them was screened on.
        let mut screened = 0;
        loop {
            let tips = pending.tips();
            let plan = plan_screened_on_git(
                self.git.merges.as_ref(),
                base_tip,
                &pending,
                candidates,
                self.max_size(),
                screened,
            )
            .await?;
            if report.plan.is_none() {
                report.plan = Some(plan.clone());
            }
            if report.dry_run {
                return Ok(());
            }
            report.waiting.extend(
                plan.set_aside
                    .iter()
                    .filter(|s| {
                        s.reason != SetAsideReason::BundleFull && !self.falls_back(&s.reason)
                    })
                    .map(|s| Waiting {
                        issue: s.candidate.issue,
                        why: s.reason.describe(),
                    }),
            );
            // Those a full bundle turned away, in boarding order: the next bundle's riders.
            let turned_away: Vec<Candidate> = plan
                .set_aside
                .iter()
                .filter(|s| s.reason == SetAsideReason::BundleFull)
                .map(|s| s.candidate.clone())
                .collect();
            // What this bundle (or lone branch) sends, for the next one to plan on top of.
            let mut sent = None;
            if plan.members.len() < 2 {
                if let Some((branch, tip)) = orphan.take()
                    && self.delete_branch(&branch, &tip).await?
                {
                    report
                        .repairs
                        .push(format!("removed `{branch}`: nothing left to bundle"));
                }
                if let Some(only) = plan.members.first() {
                    let c = &only.candidate;
                    let opened = self.individual(c.issue, &c.title, &c.branch, None).await?;
                    sent = Some((opened.number, c.head.clone()));
                    report.individual.push(opened);
                }
                for set_aside in &plan.set_aside {
                    let c = &set_aside.candidate;
                    if self.falls_back(&set_aside.reason) {
                        let why = set_aside.reason.describe_inert();
                        let opened = self
                            .individual(c.issue, &c.title, &c.branch, Some(&why))
                            .await?;
                        report.individual.push(opened);
                    }
                }
            } else {
                let members: Vec<&str> = (plan.members.iter())
                    .map(|m| m.candidate.branch.as_str())
                    .collect();
                self.publish_unpublished(&trains.tips, &members).await?;
                let head = write_chain(self.git.merges.as_ref(), &plan, at).await?;
                let mut record = BundleRecord::new(at, base, &plan, &head);
                record.checking = self.verification.is_some();
                let opened = self
                    .open_bundle(&record, &plan, orphan.take().as_ref(), now)
                    .await?;
                sent = Some((opened.number, head));
                report.bundles.push(opened);
                report
                    .individual
                    .extend(self.fallbacks(&record, &trains.tips.tips).await?);
            }
            let Some((number, head)) = sent.filter(|_| !turned_away.is_empty()) else {
                return Ok(());
            };
            // The next bundle plans on top of this one, now an open pull request.
            pending
                .merge_in(
                    self.git.merges.as_ref(),
                    base_tip,
                    &OpenTrainPullRequest { number, head },
                )
                .await?;
            at = next_bundle_name(at, trains.last_departure);
            candidates = turned_away;
            screened = tips;
        }
    }
}

/// The name of a departure's next bundle: a second after the last one, and after any departure
/// seen since, so that no two bundles share a branch.
fn next_bundle_name(previous: Timestamp, last_seen: Option<Timestamp>) -> Timestamp {
    previous.max(last_seen.unwrap_or(previous)) + SignedDuration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_departures_bundles_are_named_a_second_apart_and_never_twice() {
        let at: Timestamp = "2026-11-21T06:10:00Z".parse().unwrap();
        let second: Timestamp = "2026-11-21T06:10:01Z".parse().unwrap();
        assert_eq!(next_bundle_name(at, None), second);
        assert_eq!(next_bundle_name(at, Some(at)), second);
        assert_eq!(
            next_bundle_name(at, Some(second)),
            "2026-11-21T06:10:02Z".parse().unwrap()
        );
    }
}
