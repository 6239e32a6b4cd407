//! `pr merge`: a pull request merged with a merge commit or, merged already (by an earlier
//! run whose answer was lost, a person, or the forge), that merge reported, so that running it
//! again is safe.

use serde::Serialize;

use crate::app::AppResult;
use crate::ports::Forge;
use crate::ports::forge::{ForgeError, MergeOutcome, Number, PullRequestState};

/// How `pr merge` went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Merge {
    /// Merged now.
    Merged(MergeOutcome),
    /// Merged before this run: nothing was done, and no issue was closed now.
    AlreadyMerged(MergeOutcome),
}

/// Merges pull request `number`; one already merged is reported as such, not refused.
pub async fn merge(forge: &dyn Forge, number: Number) -> AppResult<Merge> {
    match forge.merge_pull_request(number, None).await {
        Ok(outcome) => Ok(Merge::Merged(outcome)),
        Err(ForgeError::NotOpen { .. }) => {
            let pull_request = forge.pull_request(number).await?;
            if pull_request.state != PullRequestState::Merged {
                return Err(ForgeError::NotOpen {
                    number,
                    state: pull_request.state.as_str(),
                }
                .into());
            }
            Ok(Merge::AlreadyMerged(MergeOutcome {
                pull_request,
                closed_issues: Vec::new(),
            }))
        }
        Err(error) => Err(error.into()),
    }
}
