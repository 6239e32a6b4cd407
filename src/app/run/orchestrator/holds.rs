//! What holds ready issues back before routing: their open blockers (cycles reported once),
//! and reviewers falling behind, which pauses claiming until they catch up. Each change of
//! either is a run event, so the log and the live view say why nothing is claimed.

use std::collections::BTreeSet;

use super::{Orchestrator, RunEvent};
use crate::app::AppResult;
use crate::app::queue::backpressure::{review_limits, review_load};
use crate::core::queue::standing::{Stage, stage};
use crate::ports::forge::Issue;

impl Orchestrator {
    /// The ready issues among `open` that wait on blockers, remembered for the idle check and
    /// the live view; a new cycle is reported.
    pub(super) async fn blocked(&mut self, open: &[Issue]) -> AppResult<BTreeSet<u64>> {
        let forge = self.forge.as_ref();
        let waits = self.dependencies.waits(forge, open).await?;
        for issues in self.dependencies.report_cycles(forge, &waits).await? {
            self.record(RunEvent::DependencyCycle { issues });
        }
        let blocked: BTreeSet<u64> = open
            .iter()
            .filter(|i| stage(i.labels.iter().map(String::as_str)) == Stage::Ready)
            .map(|i| i.number)
            .filter(|n| !waits.on(*n).is_empty())
            .collect();
        self.blocked.clone_from(&blocked);
        Ok(blocked)
    }

    /// Whether reviewers are too far behind for new claims; pausing and resuming are
    /// recorded as they happen.
    pub(super) async fn paused_for_review(&mut self, open: &[Issue]) -> AppResult<bool> {
        let load = review_load(self.forge.as_ref(), open).await?;
        let pressure = review_limits(&self.config).pressure(load);
        match (self.pressure, pressure) {
            (None, Some(why)) => self.record(RunEvent::ClaimingPaused { why }),
            (Some(_), None) => self.record(RunEvent::ClaimingResumed),
            _ => {}
        }
        self.pressure = pressure;
        self.publish();
        Ok(pressure.is_some())
    }
}
