//! The work of attempts in flight, published to the remote as it grows: each pass pushes the
//! branch of a working agent whose tip moved, so that if this machine dies another
//! orchestrator taking over the claim continues from its last commit. Git alone, nothing asked
//! of the forge; the remote's branch is only ever moved forward, and never once another
//! orchestrator has taken the claim over, nor while a runner works on it.

use super::Orchestrator;
use crate::app::AppResult;
use crate::core::branches::name::parse_branch_name;

impl Orchestrator {
    /// Publishes the branches of the attempts in flight whose tips moved since the remote was
    /// last seen to have them. A failure is said and tried again next pass: the work is safe
    /// here meanwhile.
    pub(super) async fn publish_work(&mut self) {
        if let Err(error) = self.publish_moved_tips().await {
            tracing::warn!(%error, "could not publish the work in progress; trying again next pass");
        }
    }

    async fn publish_moved_tips(&mut self) -> AppResult<()> {
        // An attempt on a runner pushes its branch from there: a push from here meanwhile
        // would move it under the runner's lease.
        let working = |name: &str| {
            parse_branch_name(name).is_some_and(|owner| {
                self.in_flight
                    .get(owner.agent)
                    .is_some_and(|flight| flight.issue == owner.issue && !flight.elsewhere)
            })
        };
        self.published.retain(|name, _| working(name));
        if self.in_flight.is_empty() {
            return Ok(());
        }
        let tips = self.workspace.refs().branch_tips().await?;
        for (branch, tip) in tips.iter().filter(|(name, _)| working(name)) {
            if self.published.get(branch) == Some(tip) {
                continue;
            }
            // Taken over while this orchestrator was silent: the remote's branch is the new
            // holder's to move now; this work stays here.
            let Some(owner) = parse_branch_name(branch) else {
                continue;
            };
            if let Some(holder) = self.claims.claimed_by_another(owner.issue).await? {
                tracing::warn!(
                    branch,
                    holder,
                    "another orchestrator took this claim over; its branch on the remote is left to it"
                );
                self.published.insert(branch.clone(), tip.clone());
                continue;
            }
            let remote = self.workspace.remote();
            let lease = match self.published.get(branch) {
                Some(known) => Some(known.clone()),
                None => remote.tip(branch).await?,
            };
            if let Some(theirs) = &lease
                && theirs != tip
                && !self.workspace.refs().is_ancestor(theirs, tip).await?
            {
                tracing::warn!(
                    branch,
                    "the remote's branch has work this one lacks; it stays"
                );
                self.published.insert(branch.clone(), tip.clone());
                continue;
            }
            let moved = lease.as_deref() == Some(tip.as_str())
                || remote
                    .publish(branch, tip, lease.as_deref(), "clambake: work in progress")
                    .await?;
            if moved {
                self.published.insert(branch.clone(), tip.clone());
            } else {
                // Moved meanwhile: read again next pass.
                self.published.remove(branch);
            }
        }
        Ok(())
    }
}
