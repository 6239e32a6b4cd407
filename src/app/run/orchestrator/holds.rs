//! What holds ready issues back before routing (`app::queue::holds`, as `status` shows it):
//! their open blockers (cycles reported once), and reviewers falling behind, which pauses
//! claiming until they catch up. Each change is a run event, so the log and the live view say
//! why nothing is claimed.

use super::{Orchestrator, RunEvent};
use crate::app::AppResult;
use crate::app::queue::holds::Holds;
use crate::ports::forge::Issue;

impl Orchestrator {
    /// What holds back the `open` issues, remembered for the idle check and the live view; a
    /// new cycle is reported, and pausing and resuming are recorded as they happen.
    pub(super) async fn holds(&mut self, open: &[Issue]) -> AppResult<Holds> {
        let forge = self.forge.as_ref();
        let holds = Holds::read(forge, &self.config, &mut self.dependencies, open).await?;
        for issues in self
            .dependencies
            .report_cycles(forge, &holds.cycles)
            .await?
        {
            self.record(RunEvent::DependencyCycle { issues });
        }
        match (self.paused, holds.claiming_paused) {
            (None, Some(why)) => self.record(RunEvent::ClaimingPaused { why }),
            (Some(_), None) => self.record(RunEvent::ClaimingResumed),
            _ => {}
        }
        self.paused = holds.claiming_paused;
        self.blocked = holds.waiting.iter().map(|w| w.number).collect();
        self.publish();
        Ok(holds)
    }
}
