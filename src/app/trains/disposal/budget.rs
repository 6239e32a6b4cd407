//! An issue whose attempt a budget stopped: failed for good when the attempt's or the issue's
//! budget is spent, back on `route:ready` (no attempt counted) when a day's or a run's is, and
//! a comment saying which budget, how much was spent and where the work is.

use jiff::Timestamp;

use super::Disposition;
use crate::app::AppResult;
use crate::app::trains::comment::comment_unless_locked;
use crate::core::budget::Reached;
use crate::core::forge_text::budget;
use crate::core::forge_text::comments::{AttemptFailure, FailedAttempt};
use crate::core::queue::labels;
use crate::ports::Forge;

use super::DisposalPolicy;

/// An attempt a budget stopped, and whose.
pub(super) struct BudgetStop<'a> {
    pub agent: &'a str,
    pub issue: u64,
    pub branch: &'a str,
    pub reached: Reached,
    /// When a spent day's budget renews.
    pub renews: Option<Timestamp>,
    /// The failed attempts counted so far (a budget stop is not one).
    pub failures: u32,
}

/// Relabels and comments on the issue of `stop`.
pub(super) async fn over_budget(
    forge: &dyn Forge,
    policy: DisposalPolicy,
    stop: BudgetStop<'_>,
    summary: AttemptFailure,
    now: Timestamp,
) -> AppResult<Disposition> {
    let attempt = FailedAttempt {
        failure: &summary,
        failures: stop.failures.max(1),
        max_attempts: policy.max_attempts,
    };
    let scope = stop.reached.scope;
    let (label, comment) = if scope.ends_issue() {
        let text = budget::over_budget(&attempt, &stop.reached, stop.branch);
        (labels::FAILED, text)
    } else {
        let text = budget::paused(&attempt, &stop.reached, stop.branch, stop.renews, now);
        (labels::READY, text)
    };
    let mut removed = vec![stop.agent.to_owned()];
    if label == labels::FAILED {
        removed.push(labels::READY.to_owned());
    }
    forge
        .edit_labels(stop.issue, &[label.to_owned()], &removed)
        .await?;
    comment_unless_locked(forge, stop.issue, &comment).await?;
    Ok(Disposition::OverBudget { scope })
}
