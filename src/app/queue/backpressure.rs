//! How far behind the reviewers are, as the forge shows it: the open bundle pull requests and
//! the issues whose work waits for review, against `bundling.max_open_bundles` and
//! `agents.max_in_review` (the decision is `core::queue::backpressure`'s).

use crate::app::AppResult;
use crate::core::config::Config;
use crate::core::queue::backpressure::{ReviewLimits, ReviewLoad};
use crate::core::queue::standing::{Stage, stage};
use crate::core::trains::schedule::BUNDLE_BRANCH_PREFIX;
use crate::ports::Forge;
use crate::ports::forge::{Issue, PullRequestFilter, PullRequestState};

/// The configured limits.
pub fn review_limits(config: &Config) -> ReviewLimits {
    ReviewLimits {
        max_open_bundles: config.bundling.max_open_bundles,
        max_in_review: config.agents.max_in_review,
    }
}

/// The open bundle pull requests.
pub async fn open_bundles(forge: &dyn Forge) -> AppResult<u32> {
    let open = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await?;
    let bundles = open
        .iter()
        .filter(|pr| pr.head.starts_with(BUNDLE_BRANCH_PREFIX))
        .count();
    Ok(u32::try_from(bundles).unwrap_or(u32::MAX))
}

/// What waits for reviewers among the `open` issues and the forge's open pull requests.
pub async fn review_load(forge: &dyn Forge, open: &[Issue]) -> AppResult<ReviewLoad> {
    let in_review = open
        .iter()
        .filter(|issue| {
            matches!(
                stage(issue.labels.iter().map(String::as_str)),
                Stage::Review | Stage::Bundled
            )
        })
        .count();
    Ok(ReviewLoad {
        open_bundles: open_bundles(forge).await?,
        in_review: u32::try_from(in_review).unwrap_or(u32::MAX),
    })
}
