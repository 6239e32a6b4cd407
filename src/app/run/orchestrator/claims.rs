//! The run loop's part in the claims it shares with other orchestrators: it says on the remote
//! that it is alive (at most once a minute, more often when `recovery.max_stuck_time_minutes` is
//! short), stops when another process says so under its id, and gives a claim back once its
//! attempt is disposed of.

use jiff::Timestamp;

use super::Orchestrator;
use crate::app::trains::disposal::Disposition;
use crate::app::{AppError, AppResult};

impl Orchestrator {
    /// Moves this orchestrator's sign of life to now, unless it did lately. When another
    /// process runs under this orchestrator's id, it stops claiming and interrupts its agents
    /// (their claims stay), and the run ends with that error.
    pub(super) async fn say_alive(&mut self) -> AppResult<()> {
        let now = self.clock.now();
        let duplicate = matches!(
            self.unavailable,
            Some(AppError::DuplicateOrchestratorId { .. })
        );
        if duplicate
            || self
                .said_alive
                .is_some_and(|last| now < last + self.claims.heartbeat_every())
        {
            return Ok(());
        }
        match self.claims.heartbeat(now).await {
            Ok(()) => {}
            Err(error @ AppError::DuplicateOrchestratorId { .. }) => {
                tracing::error!(%error, "stopping: this orchestrator's id is not its own");
                self.on_signal(false);
                self.unavailable = Some(error);
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        self.said_alive = Some(now);
        Ok(())
    }

    /// Gives back this loop's claim on `issue` once its labels say where it went
    /// (`disposition`): until then another orchestrator must not take it.
    pub(super) async fn give_back(
        &self,
        issue: u64,
        disposition: &Disposition,
        now: Timestamp,
    ) -> AppResult<()> {
        let state = disposition.claim_state();
        self.claims.release(issue, state, now).await?;
        Ok(())
    }
}
