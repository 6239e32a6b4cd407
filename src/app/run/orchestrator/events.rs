//! What the loop did and shows: its events, kept in a bounded log, and the progress a live
//! view watches.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::trains::bundle::Waiting;
use crate::app::trains::disposal::Disposition;
use crate::core::budget::{BudgetScope, Reached};
use crate::core::queue::holds::Pause;
use crate::core::queue::standing::{Stage, stage};
use crate::core::text::human_time::moment;
use crate::core::trains::schedule::Departure;

/// Something the loop did, for the log, the live view and the final summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RunEvent {
    Claimed {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    /// An agent process a previous run started, watched again.
    Adopted {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    /// A claim found on the forge at start-up, taken up again on the same slot and branch.
    Resumed {
        agent: String,
        issue: u64,
        attempt: u32,
    },
    Disposed {
        agent: String,
        issue: u64,
        attempt: u32,
        outcome: String,
        disposition: Disposition,
    },
    /// Clambake itself could not run or finish the attempt.
    Broken {
        agent: String,
        issue: u64,
        error: String,
    },
    /// Stopped by a shutdown; the claim stays for the next start to resume.
    Interrupted { agent: String, issue: u64 },
    /// An attempt that ended after another orchestrator (`holder`) took its claim over (this
    /// one was silent too long): the issue is left to it, this attempt's commits kept on its
    /// branch.
    ClaimLost {
        agent: String,
        issue: u64,
        attempt: u32,
        holder: String,
    },
    /// An attempt whose disposal kept failing, set aside until the next run: its slot and
    /// claim stay as they are, and the next run judges it again.
    Parked {
        agent: String,
        issue: u64,
        error: String,
    },
    /// This loop's attempt, silent past `recovery.force_reset_after_minutes`, stopped; it is
    /// disposed of like any ended attempt.
    StuckStopped {
        agent: String,
        issue: u64,
        idle_minutes: i64,
    },
    /// A slot idle past `recovery.force_reset_after_minutes` that ordinary recovery could
    /// not free and no attempt here holds, force-reset: its work archived, its claim released.
    ForceReset {
        agent: String,
        issue: u64,
        idle_minutes: i64,
        /// A step of the reset failed; what is left shows in `clambake agent validate`.
        failed: bool,
    },
    /// The forge's rate limit is spent: the loop makes no request until `until`, and then
    /// goes on where it was. Not a failure of the pass, nor of any attempt.
    RateLimited { until: Timestamp },
    /// Open issues that block each other, worked in number order instead of waiting
    /// forever; each was told in a comment.
    DependencyCycle { issues: Vec<u64> },
    /// No new issue is claimed (attempts in flight go on): reviewers fell behind.
    ClaimingPaused { why: Pause },
    /// What paused claiming is over: claiming goes on.
    ClaimingResumed,
    /// A day's or a run's budget is spent (`spent_usd` of `limit_usd`): no new issue is
    /// claimed until `until` (the next UTC midnight, for a day's), or for the rest of the run.
    /// Attempts in flight go on within what their caps allowed.
    BudgetReached {
        scope: BudgetScope,
        spent_usd: f64,
        limit_usd: f64,
        until: Option<Timestamp>,
    },
    /// The spent budget renewed (the UTC day turned): claiming goes on.
    BudgetRenewed { scope: BudgetScope },
    /// A train left: its bundle pull requests, and the branches' own ones (the only branch, or
    /// those that conflict).
    TrainDeparted {
        bundles: Vec<PullRequestOpened>,
        individual: Vec<PullRequestOpened>,
        /// Set aside for a later train, and why (waiting for an open pull request to merge).
        waiting: Vec<Waiting>,
    },
}

/// A pull request a train opened, the issues it closes, and (for a branch's own) why it rides
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestOpened {
    pub number: u64,
    pub issues: Vec<u64>,
    pub why: Option<String>,
}

impl std::fmt::Display for RunEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Claimed {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} claimed #{issue} (attempt {attempt})"),
            Self::Adopted {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} re-adopted on #{issue} (attempt {attempt})"),
            Self::Resumed {
                agent,
                issue,
                attempt,
            } => write!(f, "{agent} resumed #{issue} (attempt {attempt})"),
            Self::Disposed {
                agent,
                issue,
                outcome,
                disposition,
                ..
            } => match disposition {
                Disposition::Landed { commits_ahead, .. } => {
                    write!(
                        f,
                        "{agent} landed #{issue}: {commits_ahead} commits, waiting for review"
                    )
                }
                Disposition::Retrying { not_before, .. } => {
                    write!(
                        f,
                        "{agent} on #{issue} ended {outcome}; retrying after {}",
                        moment(*not_before)
                    )
                }
                Disposition::Failed { attempts } => {
                    write!(
                        f,
                        "{agent} on #{issue} ended {outcome}; failed after {attempts} attempts"
                    )
                }
                Disposition::Refused { why } => {
                    write!(f, "{agent} on #{issue}: refused to land it: {why}")
                }
                Disposition::OverBudget { scope } if scope.ends_issue() => {
                    write!(
                        f,
                        "{agent} on #{issue} ended {outcome}: the {scope}'s budget is spent; failed"
                    )
                }
                Disposition::OverBudget { scope } => write!(
                    f,
                    "{agent} on #{issue} ended {outcome}: the {scope}'s budget is spent; back to ready"
                ),
            },
            Self::Broken {
                agent,
                issue,
                error,
            } => write!(f, "{agent} could not work on #{issue}: {error}"),
            Self::Interrupted { agent, issue } => {
                write!(
                    f,
                    "{agent} interrupted on #{issue}; its claim stays for the next run"
                )
            }
            Self::ClaimLost {
                agent,
                issue,
                attempt,
                holder,
            } => write!(
                f,
                "{agent}'s attempt {attempt} on #{issue} ended, but {holder} took the claim over meanwhile: the issue is left to it, this attempt's commits stay on its branch"
            ),
            Self::Parked {
                agent,
                issue,
                error,
            } => write!(
                f,
                "{agent} on #{issue} could not be disposed of ({error}); left for the next run"
            ),
            Self::StuckStopped {
                agent,
                issue,
                idle_minutes,
            } => write!(
                f,
                "{agent} on #{issue} was silent for {idle_minutes} minutes: stopped"
            ),
            Self::ForceReset {
                agent,
                issue,
                idle_minutes,
                failed,
            } => {
                let how = if *failed {
                    "but a step failed"
                } else {
                    "its work archived"
                };
                write!(
                    f,
                    "{agent} on #{issue} was idle for {idle_minutes} minutes: force-reset, {how}"
                )
            }
            Self::RateLimited { until } => write!(
                f,
                "rate limited, resuming at {}",
                until.strftime("%H:%M UTC")
            ),
            Self::DependencyCycle { issues } => write!(
                f,
                "dependency cycle: {} block each other; worked in number order",
                crate::core::forge_text::issue_list(issues)
            ),
            Self::ClaimingPaused { why } => write!(f, "claiming paused: {why}"),
            Self::ClaimingResumed => write!(f, "claiming resumed"),
            Self::BudgetReached {
                scope,
                spent_usd,
                limit_usd,
                until,
            } => {
                write!(
                    f,
                    "the {scope}'s budget is spent (${spent_usd:.2} of ${limit_usd:.2}): no new claims"
                )?;
                match until {
                    Some(until) => write!(f, " until {}", moment(*until)),
                    None => write!(f, " in this run"),
                }
            }
            Self::BudgetRenewed { scope } => {
                write!(f, "the {scope}'s budget renewed: claiming goes on")
            }
            Self::TrainDeparted {
                bundles,
                individual,
                waiting,
            } => {
                let list = |issues: &[u64]| {
                    issues
                        .iter()
                        .map(|n| format!("#{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = Vec::new();
                for bundle in bundles {
                    parts.push(format!(
                        "bundle #{} carries {}",
                        bundle.number,
                        list(&bundle.issues)
                    ));
                }
                for pr in individual {
                    parts.push(format!("#{} carries {} alone", pr.number, list(&pr.issues)));
                }
                for left in waiting {
                    parts.push(format!("#{} waits: {}", left.issue, left.why));
                }
                write!(f, "a train left: {}", parts.join("; "))?;
                Ok(())
            }
        }
    }
}

/// A slot's current work, for the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotView {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    pub started: Timestamp,
}

/// Open issues by the stages work moves through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub ready: usize,
    pub claimed: usize,
    pub review: usize,
    pub bundled: usize,
    pub failed: usize,
}

impl QueueCounts {
    /// Counts open issues by the stage their labels put them in.
    pub fn tally<'a>(issues: impl IntoIterator<Item = &'a [String]>) -> Self {
        let mut counts = Self::default();
        for labels in issues {
            match stage(labels.iter().map(String::as_str)) {
                Stage::Ready => counts.ready += 1,
                Stage::Claimed => counts.claimed += 1,
                Stage::Review => counts.review += 1,
                Stage::Bundled => counts.bundled += 1,
                Stage::Failed => counts.failed += 1,
                Stage::HumanOnly | Stage::Untriaged => {}
            }
        }
        counts
    }
}

/// What the loop shows a live view: its busy slots, latest events and what its last pass read
/// of the forge, republished whenever they may have changed. The view asks the forge nothing
/// of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    pub slots: Vec<SlotView>,
    /// The open issues by stage, as the last listing read them; `None` until the first.
    pub queue: Option<QueueCounts>,
    /// When the next train leaves, as the last train decided; `None` until the first, or with
    /// bundling off.
    pub next_train: Option<Departure>,
    /// The latest few events, oldest first.
    pub recent: Vec<RunEvent>,
    /// While the loop waits out the forge's rate limit: when it resumes.
    pub rate_limited_until: Option<Timestamp>,
    /// Why no new issue is claimed.
    pub claiming_paused: Option<Pause>,
    /// Ready issues held back for their open blockers.
    pub waiting_on_blockers: usize,
    /// What was spent today against the day's budget, and the budget holding claiming.
    pub budget: BudgetView,
}

/// Spending as the loop last counted it, for the live view and `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BudgetView {
    /// What attempts that finished today (UTC) cost.
    pub spent_today_usd: f64,
    /// `budget.per_day_usd`, when set.
    pub per_day_usd: Option<f64>,
    /// The day's or the run's budget, while it holds claiming.
    pub held: Option<Reached>,
}

/// How many of the latest events [`Progress`] carries.
pub(super) const RECENT_EVENTS: usize = 6;

/// How many events a run keeps: a loop that runs for weeks forgets its oldest ones.
pub(super) const EVENT_LIMIT: usize = 1_000;

/// The latest events of a run, at most a limit of them, oldest first, and how many older ones
/// were let go.
#[derive(Debug, Clone)]
pub struct EventLog {
    kept: VecDeque<RunEvent>,
    limit: usize,
    dropped: usize,
}

impl EventLog {
    pub fn new(limit: usize) -> Self {
        Self {
            kept: VecDeque::with_capacity(limit.min(64)),
            limit,
            dropped: 0,
        }
    }

    /// Adds `event`, letting the oldest go when the log is full.
    pub fn push(&mut self, event: RunEvent) {
        if self.kept.len() == self.limit {
            self.kept.pop_front();
            self.dropped += 1;
        }
        self.kept.push_back(event);
    }

    /// The events kept, oldest first.
    pub fn kept(&self) -> &VecDeque<RunEvent> {
        &self.kept
    }

    /// How many events were let go to stay within the limit.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The latest `count` events, oldest first.
    pub fn latest(&self, count: usize) -> Vec<RunEvent> {
        let skip = self.kept.len().saturating_sub(count);
        self.kept.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interrupted(issue: u64) -> RunEvent {
        RunEvent::Interrupted {
            agent: "agent001".to_owned(),
            issue,
        }
    }

    fn issues(events: impl IntoIterator<Item = RunEvent>) -> Vec<u64> {
        events
            .into_iter()
            .map(|event| match event {
                RunEvent::Interrupted { issue, .. } => issue,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_log_keeps_the_latest_events_up_to_its_limit_and_counts_the_rest() {
        let mut log = EventLog::new(3);
        for issue in 1..=5 {
            log.push(interrupted(issue));
        }
        assert_eq!(issues(log.kept().iter().cloned()), [3, 4, 5]);
        assert_eq!(log.dropped(), 2);
        assert_eq!(issues(log.latest(2)), [4, 5]);
        assert_eq!(issues(log.latest(10)), [3, 4, 5]);
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_queue_counts_each_open_issue_at_its_furthest_stage() {
        let issues = [
            labels(&["route:ready"]),
            labels(&["route:ready", "route:priority-high"]),
            labels(&["agent001"]),
            labels(&["route:ready", "agent002"]),
            labels(&["route:review"]),
            labels(&["route:bundled"]),
            labels(&["route:failed"]),
            labels(&["human-only", "route:ready"]),
            labels(&[]),
        ];
        let counts = QueueCounts::tally(issues.iter().map(Vec::as_slice));
        assert_eq!(
            counts,
            QueueCounts {
                ready: 2,
                claimed: 2,
                review: 1,
                bundled: 1,
                failed: 1,
            }
        );
    }

    #[test]
    fn an_empty_queue_counts_nothing() {
        assert_eq!(
            QueueCounts::tally(std::iter::empty()),
            QueueCounts::default()
        );
    }

    #[test]
    fn a_rate_limit_says_when_the_loop_resumes_in_the_log_and_in_json() {
        let until: Timestamp = "2026-11-21T14:02:30Z".parse().unwrap();
        let event = RunEvent::RateLimited { until };
        assert_eq!(event.to_string(), "rate limited, resuming at 14:02 UTC");
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"event": "rate_limited", "until": "2026-11-21T14:02:30Z"})
        );
    }

    #[test]
    fn a_log_below_its_limit_drops_nothing() {
        let mut log = EventLog::new(EVENT_LIMIT);
        log.push(interrupted(1));
        assert_eq!(issues(log.kept().iter().cloned()), [1]);
        assert_eq!(log.dropped(), 0);
    }
}
