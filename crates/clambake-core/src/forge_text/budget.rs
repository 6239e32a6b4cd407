//! The comments on an issue whose attempt a budget stopped (`[budget]`, `run --budget-usd`):
//! what was spent against which cap, where the work is, and what happens next.

use jiff::Timestamp;

use super::comments::FailedAttempt;
use crate::budget::{BudgetScope, Reached};
use crate::queue::labels;
use crate::text::human_time::moment_from;

/// `the attempt's budget (budget.per_attempt_usd, $2.00)`.
fn cap(scope: BudgetScope, limit: f64) -> String {
    let (whose, key) = match scope {
        BudgetScope::Attempt => ("the attempt's budget", "budget.per_attempt_usd"),
        BudgetScope::Issue => ("this issue's budget", "budget.per_issue_usd"),
        BudgetScope::Day => ("today's budget", "budget.per_day_usd"),
        BudgetScope::Run => ("the run's budget", "run --budget-usd"),
    };
    format!("{whose} (`{key}`, ${limit:.2})")
}

/// `$1.9000 spent on this issue`.
fn spent(reached: &Reached) -> String {
    let on = match reached.scope {
        BudgetScope::Attempt => "by this attempt",
        BudgetScope::Issue => "on this issue",
        BudgetScope::Day => "today (UTC)",
        BudgetScope::Run => "in this run",
    };
    format!("${:.4} spent {on}", reached.spent_usd)
}

/// The comment when an attempt's or the issue's budget is spent: the issue is not retried
/// and becomes `route:failed`, its work kept on `branch`.
pub fn over_budget(attempt: &FailedAttempt<'_>, reached: &Reached, branch: &str) -> String {
    format!(
        "{}\n\n{} is reached: {}. The issue is not retried, so it is now `{}`; the work so far \
         is kept on `{branch}`. To go on, raise the budget and label the issue `{}`.",
        attempt.summary(),
        capitalized(&cap(reached.scope, reached.limit_usd)),
        spent(reached),
        labels::FAILED,
        labels::READY,
    )
}

/// The comment when a day's or a run's budget stopped an attempt: the issue goes back to
/// `route:ready`, no attempt counted, to be taken up once the budget allows (`resumes_at`, the
/// next UTC midnight, for a day's), its work kept on `branch`.
pub fn paused(
    attempt: &FailedAttempt<'_>,
    reached: &Reached,
    branch: &str,
    resumes_at: Option<Timestamp>,
    now: Timestamp,
) -> String {
    let when = match resumes_at {
        Some(at) => format!("when the budget renews, {}", moment_from(at, now)),
        None => "in a later run".to_owned(),
    };
    format!(
        "{}\n\n{} is reached: {}. The issue is back on `{}` (this attempt is not counted \
         against `agents.max_attempts`) and its work is kept on `{branch}`: it goes on {when}.",
        attempt.summary(),
        capitalized(&cap(reached.scope, reached.limit_usd)),
        spent(reached),
        labels::READY,
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::outcome::Outcome;
    use crate::forge_text::comments::AttemptFailure;

    fn failure() -> AttemptFailure {
        AttemptFailure::Ended {
            agent: "agent001".to_owned(),
            outcome: Outcome::Budget,
            reason: "its cost reached the attempt's budget, so Clambake stopped it".to_owned(),
            branch: "agent001/4-fix".to_owned(),
            commits_ahead: 1,
        }
    }

    #[test]
    fn an_issue_over_its_budget_fails_with_what_it_spent() {
        let failure = failure();
        let attempt = FailedAttempt {
            failure: &failure,
            failures: 1,
            max_attempts: 3,
        };
        let reached = Reached {
            scope: BudgetScope::Issue,
            spent_usd: 5.25,
            limit_usd: 5.0,
        };
        let text = over_budget(&attempt, &reached, "agent001/4-fix");
        assert!(
            text.starts_with("Attempt 1 of 3 by agent001 ended `budget`"),
            "{text}"
        );
        assert!(
            text.contains(
                "This issue's budget (`budget.per_issue_usd`, $5.00) is reached: $5.2500 spent \
                 on this issue. The issue is not retried, so it is now `route:failed`; the work \
                 so far is kept on `agent001/4-fix`."
            ),
            "{text}"
        );
    }

    #[test]
    fn a_spent_day_puts_the_issue_back_until_midnight() {
        let failure = failure();
        let attempt = FailedAttempt {
            failure: &failure,
            failures: 1,
            max_attempts: 3,
        };
        let reached = Reached {
            scope: BudgetScope::Day,
            spent_usd: 20.0,
            limit_usd: 20.0,
        };
        let now: Timestamp = "2026-12-02T22:00:00Z".parse().unwrap();
        let midnight: Timestamp = "2026-12-03T00:00:00Z".parse().unwrap();
        let text = paused(&attempt, &reached, "agent001/4-fix", Some(midnight), now);
        assert!(
            text.contains("Today's budget (`budget.per_day_usd`, $20.00) is reached: $20.0000 spent today (UTC). The issue is back on `route:ready`"),
            "{text}"
        );
        assert!(
            text.contains("it goes on when the budget renews, 2026-12-03 00:00:00 UTC (in 2h)"),
            "{text}"
        );
    }
}
