//! What happens after a failed attempt: another one after an exponential backoff, or, once
//! `agents.max_attempts` are spent, the issue is marked failed (its branch is always kept).

use std::time::Duration;

use crate::agents::outcome::Outcome;

/// The decision after an attempt that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again once `after` has passed.
    Retry { attempt: u32, after: Duration },
    /// No attempts left: label the issue `route:failed`.
    GiveUp,
}

/// The longest wait between attempts, however many have failed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// `attempts_made` attempts have failed (the last one just now); `base` is the first wait.
/// Waits double each time: base, 2·base, 4·base, … capped at [`MAX_BACKOFF`].
pub fn after_failure(attempts_made: u32, max_attempts: u32, base: Duration) -> AfterFailure {
    if attempts_made >= max_attempts {
        return AfterFailure::GiveUp;
    }
    let doublings = attempts_made.saturating_sub(1).min(20);
    let after = base.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    AfterFailure::Retry {
        attempt: attempts_made + 1,
        after,
    }
}

/// Whether a retry after an attempt that ended `outcome` continues that attempt's agent
/// session instead of starting over: the agent was on its way but ran out of turns, or went
/// silent (a stalled model, a hung tool), so its conversation so far is worth keeping. A
/// session whose finished work failed the project's checks is continued too: it is told what
/// failed and fixes it. So is one a budget stopped: it goes on where the money ran out. One that
/// failed for any other reason (an error, no commits) starts afresh.
pub fn continues_session(outcome: &str) -> bool {
    [
        Outcome::MaxTurns,
        Outcome::Stalled,
        Outcome::ChecksFailed,
        Outcome::Budget,
    ]
    .iter()
    .any(|continued| continued.as_str() == outcome)
}

/// Whether an attempt that ended `outcome` counts against `agents.max_attempts`: every one that
/// did not succeed, but one a budget stopped, which is never retried for it (the attempt's or
/// the budget fails the issue at once; a day's or a run's only pauses it).
pub fn counts_as_failure(outcome: &str) -> bool {
    outcome != Outcome::Success.as_str() && outcome != Outcome::Budget.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn waits_double_until_the_attempts_run_out() {
        assert_eq!(
            after_failure(1, 3, MINUTE),
            AfterFailure::Retry {
                attempt: 2,
                after: MINUTE
            }
        );
        assert_eq!(
            after_failure(2, 3, MINUTE),
            AfterFailure::Retry {
                attempt: 3,
                after: 2 * MINUTE
            }
        );
        assert_eq!(after_failure(3, 3, MINUTE), AfterFailure::GiveUp);
        assert_eq!(after_failure(9, 3, MINUTE), AfterFailure::GiveUp);
    }

    #[test]
    fn only_unfinished_sessions_are_continued() {
        assert!(continues_session("max_turns"));
        assert!(continues_session("stalled"));
        assert!(continues_session("checks_failed"));
        assert!(continues_session("budget"));
        for outcome in [
            "success",
            "agent_error",
            "crashed",
            "killed",
            "timed_out",
            "clambake_error",
        ] {
            assert!(!continues_session(outcome), "{outcome}");
        }
    }

    #[test]
    fn a_budget_stop_is_no_failed_attempt() {
        assert!(counts_as_failure("crashed") && counts_as_failure("checks_failed"));
        assert!(!counts_as_failure("success") && !counts_as_failure("budget"));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        assert_eq!(after_failure(1, 1, MINUTE), AfterFailure::GiveUp);
    }

    #[test]
    fn waits_are_capped() {
        assert_eq!(
            after_failure(40, 100, MINUTE),
            AfterFailure::Retry {
                attempt: 41,
                after: MAX_BACKOFF
            }
        );
    }
}
