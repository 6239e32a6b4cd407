//! `status`: the queue at a glance, why ready issues wait, and what the last run asked of the
//! forge.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::forge_usage::{self, UsageRecord};
use crate::app::lifecycle::transitions::open_journal;
use crate::app::queue::dependencies::Dependencies;
use crate::app::queue::holds::Holds;
use crate::app::{AppResult, Workspace, compose};
use crate::core::budget::{BudgetScope, Caps, day_start, next_day, reached, spent_since};
use crate::core::queue::standing::{Stage, stage};
use crate::ports::Forge;
use crate::ports::forge::{IssueFilter, Number, PullRequestFilter, PullRequestState};
use crate::ports::journal::{AttemptLog, DepartureRecord, TrainLog};

#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub number: Number,
    pub title: String,
    /// The agent holding a claimed issue.
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Open issues by stage; every stage is present, possibly empty.
    pub stages: BTreeMap<Stage, Vec<QueueEntry>>,
    pub open_pull_requests: Vec<Number>,
    /// Why ready issues wait and whether claiming is paused, as the run loop decides it.
    pub holds: Holds,
    /// The forge requests the last run made and the rate limit it saw; `None` for a forge
    /// that counts nothing, or before any run.
    pub forge_usage: Option<UsageRecord>,
    /// The last train's departure: when, what it sent, and where it was made (here, by the
    /// bundling workflow's run, or here instead of it, and why).
    pub last_departure: Option<DepartureRecord>,
    /// What the attempts that finished today cost, against the day's budget.
    pub budget: DayBudget,
}

/// Today's (UTC) spending, as the run loop counts it against `budget.per_day_usd`: the
/// attempts that finished today, in any run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayBudget {
    pub spent_today_usd: f64,
    /// `budget.per_day_usd`; `None` when the day is not capped.
    pub per_day_usd: Option<f64>,
    /// When the day's budget is spent: the next UTC midnight, until which nothing is claimed.
    pub held_until: Option<Timestamp>,
}

impl DayBudget {
    fn read(attempts: &dyn AttemptLog, caps: &Caps, now: Timestamp) -> AppResult<Self> {
        let since = day_start(now);
        let finished = attempts.finished_since(since)?;
        let spent_today_usd =
            spent_since(finished.iter().map(|a| (a.finished_at, a.cost_usd)), since);
        let held_until =
            reached(BudgetScope::Day, spent_today_usd, caps.per_day).map(|_| next_day(now));
        Ok(Self {
            spent_today_usd,
            per_day_usd: caps.per_day,
            held_until,
        })
    }
}

pub async fn status(workspace: &Workspace, forge: &dyn Forge) -> AppResult<StatusReport> {
    let mut stages: BTreeMap<Stage, Vec<QueueEntry>> =
        Stage::ALL.iter().map(|s| (*s, Vec::new())).collect();
    let open = forge.issues(&IssueFilter::open()).await?;
    let config = workspace.load_config()?.config;
    let holds = Holds::read(forge, &config, &mut Dependencies::default(), &open).await?;
    for issue in open {
        let at = stage(issue.labels.iter().map(String::as_str));
        let agent = issue
            .labels
            .iter()
            .find(|l| crate::core::queue::labels::agent_slot(l).is_some())
            .cloned();
        stages.entry(at).or_default().push(QueueEntry {
            number: issue.number,
            title: issue.title,
            agent,
        });
    }
    let open_pull_requests = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await?
        .into_iter()
        .map(|pr| pr.number)
        .collect();
    let journal = open_journal(workspace)?;
    let caps = Caps::new(&config.budget, None);
    Ok(StatusReport {
        stages,
        open_pull_requests,
        holds,
        forge_usage: forge_usage::read(workspace)?,
        last_departure: journal.last_departure()?,
        budget: DayBudget::read(&journal, &caps, compose::clock().now())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::journal::SqliteJournal;
    use crate::core::config::{BudgetConfig, Usd};
    use crate::ports::journal::AttemptRecord;

    fn finished(issue: u64, at: &str, cost_usd: f64) -> AttemptRecord {
        AttemptRecord {
            issue,
            attempt: 1,
            agent: "agent001".into(),
            branch: format!("agent001/{issue}-x"),
            outcome: "success".into(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: Some(cost_usd),
            turns: 1,
            log: String::new(),
            finished_at: at.parse().unwrap(),
            runtime: None,
            session_id: None,
        }
    }

    #[test]
    fn the_days_spending_counts_todays_attempts_and_a_spent_budget_holds_until_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
        for record in [
            finished(1, "2026-12-01T23:59:59Z", 4.0),
            finished(2, "2026-12-02T00:00:01Z", 1.5),
            finished(3, "2026-12-02T09:00:00Z", 0.75),
        ] {
            journal.record_attempt(&record).unwrap();
        }
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let capped = |dollars| {
            let config = BudgetConfig {
                per_day_usd: Usd::new(dollars).unwrap(),
                ..BudgetConfig::default()
            };
            Caps::new(&config, None)
        };

        let uncapped = DayBudget::read(&journal, &capped(0.0), now).unwrap();
        assert_eq!(
            uncapped.spent_today_usd, 2.25,
            "yesterday's attempt is not today's"
        );
        assert_eq!((uncapped.per_day_usd, uncapped.held_until), (None, None));

        let room = DayBudget::read(&journal, &capped(5.0), now).unwrap();
        assert_eq!((room.per_day_usd, room.held_until), (Some(5.0), None));

        let spent = DayBudget::read(&journal, &capped(2.0), now).unwrap();
        assert_eq!(
            spent.held_until,
            Some("2026-12-03T00:00:00Z".parse().unwrap())
        );
    }
}
