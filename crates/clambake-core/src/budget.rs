//! Spending caps (`[budget]`, `run --budget-usd`): what an attempt may spend, and whether a
//! day's or a run's budget is reached. Costs are what the agents report; a day is a UTC day,
//! and an attempt's cost counts on the day it finished.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::config::BudgetConfig;

/// What a budget governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    /// One attempt (`budget.per_attempt_usd`).
    Attempt,
    /// One issue, over all its attempts (`budget.per_issue_usd`).
    Issue,
    /// One UTC day, across runs (`budget.per_day_usd`).
    Day,
    /// One run (`run --budget-usd`).
    Run,
}

impl BudgetScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attempt => "attempt",
            Self::Issue => "issue",
            Self::Day => "day",
            Self::Run => "run",
        }
    }

    /// Whether a budget verdict under this scope ends the issue (`route:failed`): the issue
    /// itself is too dear. A day's or a run's budget only pauses it.
    pub fn ends_issue(self) -> bool {
        matches!(self, Self::Attempt | Self::Issue)
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every cap in force, in dollars; `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    pub per_attempt: Option<f64>,
    pub per_issue: Option<f64>,
    pub per_day: Option<f64>,
    pub per_run: Option<f64>,
}

impl Caps {
    /// The configuration's caps, and one run's (`run --budget-usd`).
    pub fn new(config: &BudgetConfig, per_run: Option<f64>) -> Self {
        Self {
            per_attempt: config.per_attempt_usd.limit(),
            per_issue: config.per_issue_usd.limit(),
            per_day: config.per_day_usd.limit(),
            per_run: per_run.filter(|usd| *usd > 0.0),
        }
    }
}

/// What is spent, or promised to attempts still running, against each cap but the attempt's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Committed {
    /// By the issue's earlier attempts.
    pub issue: f64,
    /// Today, by finished attempts and as the caps of running ones allow.
    pub day: f64,
    /// In this run, likewise.
    pub run: f64,
}

/// The most an attempt may spend, and which budget sets it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AttemptCap {
    pub usd: f64,
    pub scope: BudgetScope,
}

/// What a new attempt may spend: the least of what each cap leaves, never below 0; `None`
/// when nothing caps it. A running attempt's cap counts as spent (`committed`) until it ends,
/// so attempts side by side never spend past a day's or a run's budget together.
pub fn attempt_cap(caps: &Caps, committed: &Committed) -> Option<AttemptCap> {
    let left = |limit: Option<f64>, spent: f64, scope| {
        limit.map(|limit| AttemptCap {
            usd: (limit - spent).max(0.0),
            scope,
        })
    };
    [
        left(caps.per_attempt, 0.0, BudgetScope::Attempt),
        left(caps.per_issue, committed.issue, BudgetScope::Issue),
        left(caps.per_day, committed.day, BudgetScope::Day),
        left(caps.per_run, committed.run, BudgetScope::Run),
    ]
    .into_iter()
    .flatten()
    .min_by(|a, b| a.usd.total_cmp(&b.usd))
}

/// A budget that is spent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reached {
    pub scope: BudgetScope,
    pub spent_usd: f64,
    pub limit_usd: f64,
}

/// Whether `spent` has reached `limit`.
pub fn reached(scope: BudgetScope, spent: f64, limit: Option<f64>) -> Option<Reached> {
    limit.filter(|limit| spent >= *limit).map(|limit| Reached {
        scope,
        spent_usd: spent,
        limit_usd: limit,
    })
}

/// Midnight UTC that began the day `now` is in.
pub fn day_start(now: Timestamp) -> Timestamp {
    let day = now.to_zoned(TimeZone::UTC).date();
    day.to_zoned(TimeZone::UTC)
        .map(|midnight| midnight.timestamp())
        .unwrap_or(now)
}

/// Midnight UTC that ends the day `now` is in: when a spent day's budget renews.
pub fn next_day(now: Timestamp) -> Timestamp {
    let day = now.to_zoned(TimeZone::UTC).date();
    day.tomorrow()
        .and_then(|tomorrow| tomorrow.to_zoned(TimeZone::UTC))
        .map(|midnight| midnight.timestamp())
        .unwrap_or(now)
}

/// What attempts that finished at or after `since` cost, from `(finished_at, cost)` pairs.
/// Nothing spent is `0.0`: a float sum of nothing is `-0.0`, which prints as `$-0.00`.
pub fn spent_since(
    attempts: impl IntoIterator<Item = (Timestamp, Option<f64>)>,
    since: Timestamp,
) -> f64 {
    attempts
        .into_iter()
        .filter(|(finished, _)| *finished >= since)
        .filter_map(|(_, cost)| cost)
        .fold(0.0, |spent, cost| spent + cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_spent_is_a_positive_zero() {
        let spent = spent_since([], "2026-12-02T00:00:00Z".parse().unwrap());
        assert!(spent == 0.0 && spent.is_sign_positive(), "{spent}");
        assert_eq!(format!("{spent:.2}"), "0.00");
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn an_attempt_may_spend_the_least_any_cap_leaves() {
        let caps = Caps {
            per_attempt: Some(2.0),
            per_issue: Some(5.0),
            per_day: Some(20.0),
            per_run: None,
        };
        let none = Committed::default();
        assert_eq!(
            attempt_cap(&caps, &none),
            Some(AttemptCap {
                usd: 2.0,
                scope: BudgetScope::Attempt
            })
        );
        let issue_nearly_spent = Committed { issue: 4.5, ..none };
        assert_eq!(
            attempt_cap(&caps, &issue_nearly_spent),
            Some(AttemptCap {
                usd: 0.5,
                scope: BudgetScope::Issue
            })
        );
        let day_spent = Committed { day: 21.0, ..none };
        assert_eq!(
            attempt_cap(&caps, &day_spent),
            Some(AttemptCap {
                usd: 0.0,
                scope: BudgetScope::Day
            })
        );
        let run = Caps {
            per_run: Some(1.0),
            ..Caps::default()
        };
        let run_half_spent = Committed { run: 0.25, ..none };
        assert_eq!(
            attempt_cap(&run, &run_half_spent),
            Some(AttemptCap {
                usd: 0.75,
                scope: BudgetScope::Run
            })
        );
        assert_eq!(attempt_cap(&Caps::default(), &day_spent), None);
    }

    #[test]
    fn only_the_attempt_and_issue_budgets_end_an_issue() {
        assert!(BudgetScope::Attempt.ends_issue() && BudgetScope::Issue.ends_issue());
        assert!(!BudgetScope::Day.ends_issue() && !BudgetScope::Run.ends_issue());
    }

    #[test]
    fn a_budget_is_reached_at_its_limit() {
        assert_eq!(reached(BudgetScope::Day, 19.99, Some(20.0)), None);
        assert_eq!(reached(BudgetScope::Day, 100.0, None), None);
        assert_eq!(
            reached(BudgetScope::Day, 20.0, Some(20.0)),
            Some(Reached {
                scope: BudgetScope::Day,
                spent_usd: 20.0,
                limit_usd: 20.0
            })
        );
    }

    #[test]
    fn a_day_is_a_utc_day() {
        let now = at("2026-12-02T23:59:59.5Z");
        assert_eq!(day_start(now), at("2026-12-02T00:00:00Z"));
        assert_eq!(next_day(now), at("2026-12-03T00:00:00Z"));
        assert_eq!(
            day_start(at("2026-12-03T00:00:00Z")),
            at("2026-12-03T00:00:00Z")
        );
        assert_eq!(
            next_day(at("2026-12-31T12:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn only_what_finished_since_counts() {
        let since = at("2026-12-02T00:00:00Z");
        let attempts = [
            (at("2026-12-01T23:59:59Z"), Some(5.0)),
            (at("2026-12-02T00:00:00Z"), Some(1.5)),
            (at("2026-12-02T10:00:00Z"), None),
            (at("2026-12-02T11:00:00Z"), Some(0.25)),
        ];
        assert_eq!(spent_since(attempts, since), 1.75);
    }
}
