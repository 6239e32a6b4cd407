//! Comments that an issue's step writes, which a locked conversation refuses: the comment is
//! left out and the log says so, and the step (its labels, its pull request) goes on, so that
//! a locked issue is not stuck with its attempt parked on every pass.

use crate::app::AppResult;
use crate::ports::Forge;
use crate::ports::forge::{ForgeError, Number};

/// Comments `body` on `issue`, or, when its conversation is locked to this token, logs that
/// and leaves it out. Returns whether the comment was written.
pub async fn comment_unless_locked(
    forge: &dyn Forge,
    issue: Number,
    body: &str,
) -> AppResult<bool> {
    match forge.create_comment(issue, body).await {
        Ok(_) => Ok(true),
        Err(ForgeError::Locked(number)) => {
            tracing::warn!(
                issue = number,
                "#{number} is locked: its comment is left out, and its labels still move"
            );
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
