//! What the loop waits for: one input at a time (an attempt's task ended, a signal, the poll
//! timer), whichever comes first.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{Id, JoinError};

use super::{AttemptError, AttemptResult, Orchestrator, TaskEnd};

/// What wakes the loop.
pub(super) enum Input {
    /// An attempt's task ended, returning or panicking.
    AttemptDone { task: Id, end: TaskEnd },
    /// A signal was counted on the shutdown channel.
    Signal,
    /// The poll interval passed, or a retry's backoff ended, with nothing else happening.
    Tick,
}

/// Which attempt task ended, and how.
pub(super) fn task_end(
    joined: Result<(Id, Result<AttemptResult, AttemptError>), JoinError>,
) -> (Id, TaskEnd) {
    match joined {
        Ok((task, result)) => (task, TaskEnd::Returned(Box::new(result))),
        Err(error) => (error.id(), TaskEnd::Panicked(panic_message(error))),
    }
}

/// What a task's panic said. The loop never aborts its attempt tasks, so a task that did not
/// return panicked (a cancelled one says so).
fn panic_message(error: JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl Orchestrator {
    /// A signal counted that the loop has not acted on yet.
    pub(super) fn pending_signal(&self, shutdown: &watch::Receiver<u32>) -> Option<Input> {
        (*shutdown.borrow() > 0 && !self.shutting_down).then_some(Input::Signal)
    }

    /// Publishes the loop's progress, then waits for the next input. A signal comes first, as
    /// it changes what the loop does with the rest.
    pub(super) async fn next_input(&mut self, shutdown: &mut watch::Receiver<u32>) -> Input {
        self.publish();
        if let Some(signal) = self.pending_signal(shutdown) {
            return signal;
        }
        let poll = tokio::time::sleep(self.next_wake());
        tokio::select! {
            biased;
            Ok(()) = shutdown.changed() => Input::Signal,
            Some(joined) = self.running.join_next_with_id() => {
                let (task, end) = task_end(joined);
                Input::AttemptDone { task, end }
            }
            () = poll => Input::Tick,
        }
    }

    /// How long to sleep when nothing wakes the loop: the poll interval, or less if a retry's
    /// backoff ends sooner; while the forge's rate limit is spent, until it resets, but at
    /// least once a poll interval, to go on saying on the remote that this loop is alive.
    pub(super) fn next_wake(&self) -> Duration {
        let now = self.clock.now();
        if let Some(until) = self.rate_limit_wait() {
            return Duration::try_from(until.duration_since(now))
                .unwrap_or_default()
                .min(self.settings.poll_interval);
        }
        self.retry_at
            .map(|at| at.duration_since(now))
            .and_then(|wait| Duration::try_from(wait).ok())
            .map_or(self.settings.poll_interval, |wait| {
                wait.min(self.settings.poll_interval)
            })
    }
}
