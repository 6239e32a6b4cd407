//! The forge's rate limit, spent: the loop waits it out. A request the forge refused for it
//! changed nothing, so the pass is not counted as failed, no attempt is judged for it, and
//! the loop goes on where it was once the limit resets; meanwhile it makes no request, but
//! still takes in its agents' exits and signals.

use jiff::{SignedDuration, Timestamp};

use super::{Orchestrator, RunEvent};
use crate::app::AppError;
use crate::ports::forge::ForgeError;

/// The shortest wait: a limit said to reset already is not hammered in a tight loop.
const SHORTEST_WAIT: SignedDuration = SignedDuration::from_secs(1);

/// When the forge takes requests again, if `error` is its refusal for a spent rate limit.
pub(super) fn rate_limited_until(error: &AppError) -> Option<Timestamp> {
    match error {
        AppError::Forge(ForgeError::RateLimited { until }) => Some(*until),
        _ => None,
    }
}

impl Orchestrator {
    /// Begins (or lengthens) a wait for the rate limit to reset at `until`, and says so once.
    pub(super) fn wait_out_rate_limit(&mut self, until: Timestamp) {
        let until = until.max(self.clock.now() + SHORTEST_WAIT);
        if self.rate_limited.is_some_and(|known| known >= until) {
            return;
        }
        self.rate_limited = Some(until);
        tracing::warn!(%until, "the forge's rate limit is spent; waiting it out");
        self.record(RunEvent::RateLimited { until });
    }

    /// When the wait for the rate limit ends, while the loop waits; `None` once it may ask
    /// the forge again.
    pub(super) fn rate_limit_wait(&self) -> Option<Timestamp> {
        self.rate_limited.filter(|until| *until > self.clock.now())
    }

    /// Whether the loop must not ask the forge yet; the wait is forgotten once over.
    pub(super) fn waiting_out_rate_limit(&mut self) -> bool {
        if self.rate_limit_wait().is_none() {
            self.rate_limited = None;
        }
        self.rate_limited.is_some()
    }
}
