//! A culprit's way back out of its bundle: `route:ready` with the failing output in a comment
//! (so its next attempt's prompt has it), or `route:failed` once `agents.max_attempts` attempts
//! were made.

use crate::app::AppResult;
use crate::app::trains::comment::comment_unless_locked;
use crate::core::forge_text::bisection::{self, Culprit};
use crate::core::queue::labels;
use crate::ports::Forge;
use crate::ports::checks::CheckFailure;
use crate::ports::journal::AttemptLog;

/// Sends `issue` back from bundle pull request `pull_request` with `failure` (its tail already
/// redacted); true when its attempts are used up and it is now `route:failed`.
pub async fn send_back(
    forge: &dyn Forge,
    attempts: &dyn AttemptLog,
    max_attempts: u32,
    pull_request: u64,
    issue: u64,
    failure: &CheckFailure,
) -> AppResult<bool> {
    let made = attempts.attempts(issue)?.len() as u32;
    let gave_up = made >= max_attempts;
    let label = if gave_up {
        labels::FAILED
    } else {
        labels::READY
    };
    let text = bisection::culprit(&Culprit {
        pull_request,
        summary: &failure.summary,
        details: failure.details.as_deref(),
        tail: &failure.tail,
        gave_up,
    });
    comment_unless_locked(forge, issue, &text).await?;
    forge
        .edit_labels(issue, &[label.to_owned()], &[labels::BUNDLED.to_owned()])
        .await?;
    Ok(gave_up)
}
