//! The loop's budgets (`[budget]`, `run --budget-usd`): what each new attempt may spend, what
//! a budget a stopped attempt hit says, and whether the day's or the run's budget holds
//! claiming (each change a run event). A running attempt counts with its whole cap until it
//! ends, so attempts side by side never spend past a day's or a run's budget together.

use jiff::Timestamp;

use super::{Orchestrator, RunEvent};
use crate::app::AppResult;
use crate::app::agents::attempt::AttemptResult;
use crate::core::agents::outcome::Outcome;
use crate::core::budget::{
    AttemptCap, BudgetScope, Caps, Committed, Reached, attempt_cap, day_start, next_day, reached,
    spent_since,
};
use crate::ports::journal::AttemptRecord;

/// The loop's caps, and what it last found spent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budgets {
    pub caps: Caps,
    /// When the run began: what `run --budget-usd` counts from.
    pub run_started: Timestamp,
    /// The day's or the run's budget, while it holds claiming.
    pub held: Option<Reached>,
}

/// What the attempts in `records` cost.
fn cost(records: &[AttemptRecord]) -> f64 {
    records.iter().filter_map(|a| a.cost_usd).sum()
}

impl Orchestrator {
    /// What finished attempts spent today (UTC) and in this run.
    fn spent(&self) -> AppResult<(f64, f64)> {
        let now = self.clock.now();
        let since = day_start(now).min(self.budgets.run_started);
        let finished: Vec<(Timestamp, Option<f64>)> = self
            .journal
            .finished_since(since)?
            .into_iter()
            .map(|a| (a.finished_at, a.cost_usd))
            .collect();
        let today = spent_since(finished.iter().copied(), day_start(now));
        let run = spent_since(finished, self.budgets.run_started);
        Ok((today, run))
    }

    /// What the attempts in flight may still spend.
    fn reserved(&self) -> f64 {
        self.in_flight
            .values()
            .filter_map(|f| f.cap)
            .map(|cap| cap.usd)
            .sum()
    }

    /// What a new attempt at the issue whose attempts are `earlier` may spend.
    pub(super) fn attempt_cap(&self, earlier: &[AttemptRecord]) -> AppResult<Option<AttemptCap>> {
        let (today, run) = self.spent()?;
        let reserved = self.reserved();
        let committed = Committed {
            issue: cost(earlier),
            day: today + reserved,
            run: run + reserved,
        };
        Ok(attempt_cap(&self.budgets.caps, &committed))
    }

    /// Whether the issue whose attempts are `earlier` has spent its own budget.
    pub(super) fn issue_spent(&self, earlier: &[AttemptRecord]) -> bool {
        reached(
            BudgetScope::Issue,
            cost(earlier),
            self.budgets.caps.per_issue,
        )
        .is_some()
    }

    /// Whether no new attempt may start: the day's or the run's budget is spent, or promised
    /// to the attempts in flight. A budget newly spent is a run event (the run's also ends
    /// claiming for good: the run stops once its attempts have); one that renews (the UTC day
    /// turned) is too.
    pub(super) fn held_by_budget(&mut self) -> AppResult<bool> {
        let caps = self.budgets.caps;
        let (today, run) = self.spent()?;
        let now = self.clock.now();
        let was = self.budgets.held;
        let spent = reached(BudgetScope::Run, run, caps.per_run)
            .or_else(|| reached(BudgetScope::Day, today, caps.per_day));
        // Before the events below publish the progress.
        self.spent_today = today;
        self.budgets.held = spent;
        match (was, spent) {
            (None, Some(reached)) => self.record(RunEvent::BudgetReached {
                scope: reached.scope,
                spent_usd: reached.spent_usd,
                limit_usd: reached.limit_usd,
                until: (reached.scope == BudgetScope::Day).then(|| next_day(now)),
            }),
            (Some(was), None) => self.record(RunEvent::BudgetRenewed { scope: was.scope }),
            _ => {}
        }
        if spent.is_some_and(|r| r.scope == BudgetScope::Run) {
            self.claiming = false;
        }
        let headroom = Caps {
            per_attempt: None,
            per_issue: None,
            ..caps
        };
        let reserved = self.reserved();
        let committed = Committed {
            issue: 0.0,
            day: today + reserved,
            run: run + reserved,
        };
        let promised = attempt_cap(&headroom, &committed).is_some_and(|cap| cap.usd <= 0.0);
        Ok(spent.is_some() || promised)
    }

    /// The budget `result` shows spent: the one its cap came from (`cap`) when a budget
    /// stopped it, or the issue's once its attempts (`earlier`, this one's cost besides) have
    /// spent it, whatever this one's outcome. `None` when none is.
    pub(super) fn budget_spent(
        &self,
        cap: Option<AttemptCap>,
        earlier: &[AttemptRecord],
        result: &AttemptResult,
    ) -> AppResult<Option<Reached>> {
        let caps = self.budgets.caps;
        let this = result.report.totals.cost_usd.unwrap_or(0.0);
        let on_issue = cost(earlier) + this;
        let outcome = result.classification.outcome;
        if outcome == Outcome::Success {
            return Ok(None);
        }
        if outcome != Outcome::Budget {
            return Ok(reached(BudgetScope::Issue, on_issue, caps.per_issue));
        }
        // Claude Code's own cap, given in `agents.claude_extra_args`, is the attempt's too.
        let scope = cap.map_or(BudgetScope::Attempt, |cap| cap.scope);
        let (today, run) = self.spent()?;
        let (spent, limit) = match scope {
            BudgetScope::Attempt => (this, caps.per_attempt),
            BudgetScope::Issue => (on_issue, caps.per_issue),
            BudgetScope::Day => (today + this, caps.per_day),
            BudgetScope::Run => (run + this, caps.per_run),
        };
        Ok(Some(Reached {
            scope,
            spent_usd: spent,
            limit_usd: limit.unwrap_or(this),
        }))
    }

    /// When the day's budget renews, if the day's is the one spent.
    pub(super) fn budget_renews(&self, reached: Option<Reached>) -> Option<Timestamp> {
        reached
            .filter(|r| r.scope == BudgetScope::Day)
            .map(|_| next_day(self.clock.now()))
    }
}
