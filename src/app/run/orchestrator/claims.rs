//! The run loop's part in the claims it shares with other orchestrators: it says on the remote
//! that it is alive (at most once a minute, more often when `recovery.max_stuck_time_minutes` is
//! short), and gives a claim back once its attempt is disposed of.

use jiff::Timestamp;

use super::Orchestrator;
use crate::app::AppResult;
use crate::app::trains::disposal::Disposition;

impl Orchestrator {
    /// Moves this orchestrator's sign of life to now, unless it did lately.
    pub(super) async fn say_alive(&mut self) -> AppResult<()> {
        let now = self.clock.now();
        if self
            .said_alive
            .is_some_and(|last| now < last + self.claims.heartbeat_every())
        {
            return Ok(());
        }
        self.claims.heartbeat(now).await?;
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
