//! Old attempt logs and prompts pruned (`[logs] keep_days`) at the loop's first pass and
//! once a day after, never failing the pass.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::Orchestrator;
use crate::app::agents::prune::prune_attempt_files;
use crate::core::queue::labels::agent_slot;

/// How long the loop waits between two prunings.
const PRUNE_EVERY: SignedDuration = SignedDuration::from_hours(24);

impl Orchestrator {
    /// Prunes if it is the first pass or a day has passed since the last pruning. The issues
    /// claimed are those with a slot's label in this pass's listing, and those in flight.
    pub(super) async fn prune_when_due(&mut self) {
        let now = self.clock.now();
        if self
            .logs_pruned
            .is_some_and(|last| now.duration_since(last) < PRUNE_EVERY)
        {
            return;
        }
        let mut claimed: BTreeSet<u64> = self.in_flight.values().map(|f| f.issue).collect();
        match self.open_issues().await {
            Ok(issues) => claimed.extend(
                issues
                    .iter()
                    .filter(|issue| issue.labels.iter().any(|l| agent_slot(l).is_some()))
                    .map(|issue| issue.number),
            ),
            // Without the listing nobody knows what is claimed: wait for the next pass.
            Err(error) => {
                tracing::warn!(%error, "logs not pruned: the open issues could not be listed");
                return;
            }
        }
        self.logs_pruned = Some(now);
        let keep_days = self.config.logs.keep_days;
        match prune_attempt_files(&self.workspace, keep_days, now, &claimed) {
            Ok(pruned) if pruned.files > 0 => tracing::info!(
                files = pruned.files,
                bytes = pruned.bytes,
                keep_days,
                "pruned old attempt logs and prompts"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not prune old attempt logs and prompts"),
        }
    }
}
