//! A departure handed to the bundling workflow: the run it started, how far it got, where a
//! departure came from, and what the train does at each pass while the run is out.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The bundling workflow's run a departure was dispatched to, kept under `.clambake/` until
/// it is over, so that a restarted orchestrator follows it again rather than dispatching anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchedRun {
    pub run: u64,
    /// The run's page.
    pub url: String,
    /// The departure's slot, as a train here named it when it was due.
    pub held_at: Timestamp,
    /// The newest pull request when it was dispatched: those the run opens come after it.
    pub after_pull_request: Option<u64>,
    /// The moments that measure it.
    pub timings: Timings,
}

/// When a dispatched departure reached each step, for measuring it: the trigger latency is
/// `landed_at` to `queued_at`, the whole of it `landed_at` to `pull_request_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// When the latest work among those waiting landed.
    pub landed_at: Option<Timestamp>,
    /// When the dispatch was answered with the run's id.
    pub dispatched_at: Option<Timestamp>,
    /// When GitHub queued the run (its `created_at`).
    pub queued_at: Option<Timestamp>,
    /// When the first bundle pull request the run opened was created.
    pub pull_request_at: Option<Timestamp>,
}

impl Timings {
    /// Landing to the run queued.
    pub fn trigger_latency(&self) -> Option<SignedDuration> {
        Some(self.queued_at?.duration_since(self.landed_at?))
    }

    /// Landing to the bundle pull request.
    pub fn landing_to_pull_request(&self) -> Option<SignedDuration> {
        Some(self.pull_request_at?.duration_since(self.landed_at?))
    }
}

/// Where a departure was made, as the train log keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum DepartedFrom {
    /// This machine's train.
    #[default]
    Here,
    /// The bundling workflow's run.
    Run {
        run: u64,
        url: String,
        timings: Timings,
    },
    /// This machine's train, because the bundling workflow did not make the departure: `why`,
    /// and the run it had started, if any.
    Fallback { why: String, run: Option<u64> },
}

/// A dispatched run as GitHub shows it at one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSeen {
    /// Not completed yet.
    Running,
    /// Completed with `success`.
    Succeeded,
    /// Completed otherwise, with this conclusion (`failure`, `cancelled`, ...).
    Ended { conclusion: String },
    /// GitHub has no such run (deleted).
    Gone,
}

/// What the train does about its dispatched run at a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunVerdict {
    /// Still running, in time: no departure here, nor a second dispatch.
    Wait,
    /// It made the departure: what it opened is read from the forge.
    Adopt,
    /// It will not: the train departs here, and the log says why. `cancel`: the run is still
    /// going, and is cancelled first.
    FallBack { why: String, cancel: bool },
}

/// Judges the run dispatched at `dispatched_at`, seen as `seen` at `now`, allowed `timeout`.
pub fn judge(
    seen: &RunSeen,
    dispatched_at: Timestamp,
    now: Timestamp,
    timeout: SignedDuration,
) -> RunVerdict {
    match seen {
        RunSeen::Succeeded => RunVerdict::Adopt,
        RunSeen::Ended { conclusion } => RunVerdict::FallBack {
            why: format!("the bundling workflow's run ended `{conclusion}`"),
            cancel: false,
        },
        RunSeen::Gone => RunVerdict::FallBack {
            why: "the bundling workflow's run is gone".to_owned(),
            cancel: false,
        },
        RunSeen::Running if now.duration_since(dispatched_at) >= timeout => RunVerdict::FallBack {
            why: format!(
                "the bundling workflow's run did not finish within {}; cancelled",
                crate::text::human_time::span(timeout.unsigned_abs())
            ),
            cancel: true,
        },
        RunSeen::Running => RunVerdict::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_run_is_waited_for_until_it_ends_or_its_time_is_up() {
        let dispatched = at("2026-12-01T19:00:00Z");
        let timeout = SignedDuration::from_mins(30);
        let judge_at = |seen: &RunSeen, now: &str| judge(seen, dispatched, at(now), timeout);
        assert_eq!(
            judge_at(&RunSeen::Running, "2026-12-01T19:29:59Z"),
            RunVerdict::Wait
        );
        let late = judge_at(&RunSeen::Running, "2026-12-01T19:30:00Z");
        let RunVerdict::FallBack { why, cancel: true } = late else {
            panic!("{late:?}");
        };
        assert!(why.contains("did not finish within"), "{why}");
        assert_eq!(
            judge_at(&RunSeen::Succeeded, "2026-12-01T20:00:00Z"),
            RunVerdict::Adopt,
            "a run that succeeded late still made the departure"
        );
        let failed = judge_at(
            &RunSeen::Ended {
                conclusion: "failure".to_owned(),
            },
            "2026-12-01T19:01:00Z",
        );
        assert_eq!(
            failed,
            RunVerdict::FallBack {
                why: "the bundling workflow's run ended `failure`".to_owned(),
                cancel: false
            }
        );
        assert!(matches!(
            judge_at(&RunSeen::Gone, "2026-12-01T19:01:00Z"),
            RunVerdict::FallBack { cancel: false, .. }
        ));
    }

    #[test]
    fn timings_measure_from_the_landing() {
        let timings = Timings {
            landed_at: Some(at("2026-12-01T19:00:00Z")),
            dispatched_at: Some(at("2026-12-01T19:00:02Z")),
            queued_at: Some(at("2026-12-01T19:00:03Z")),
            pull_request_at: Some(at("2026-12-01T19:01:00Z")),
        };
        assert_eq!(
            timings.trigger_latency(),
            Some(SignedDuration::from_secs(3))
        );
        assert_eq!(
            timings.landing_to_pull_request(),
            Some(SignedDuration::from_secs(60))
        );
        assert_eq!(Timings::default().trigger_latency(), None);
    }

    #[test]
    fn departures_recorded_before_runs_read_as_made_here() {
        let here: DepartedFrom = serde_json::from_str(r#"{"from":"here"}"#).unwrap();
        assert_eq!(here, DepartedFrom::Here);
        let fallback = DepartedFrom::Fallback {
            why: "no workflow".to_owned(),
            run: None,
        };
        let text = serde_json::to_string(&fallback).unwrap();
        assert_eq!(
            serde_json::from_str::<DepartedFrom>(&text).unwrap(),
            fallback
        );
    }
}
