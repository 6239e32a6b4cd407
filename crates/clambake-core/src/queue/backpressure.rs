//! Backpressure: when reviewers fall behind, Clambake stops claiming new issues until they
//! catch up. Two limits say when (0 lifts either): `bundling.max_open_bundles`, the bundle pull
//! requests open at once (at the limit no train opens another), and `agents.max_in_review`,
//! the issues whose work waits for a person (`route:review` and `route:bundled`: landed, in an
//! open bundle or pull request of their own).

use std::fmt;

use serde::Serialize;

/// The two limits; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReviewLimits {
    pub max_open_bundles: u32,
    pub max_in_review: u32,
}

/// What waits for reviewers now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReviewLoad {
    /// Open bundle pull requests.
    pub open_bundles: u32,
    /// Open issues whose work waits for review.
    pub in_review: u32,
}

/// Why claiming is paused: the first limit reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "limit", rename_all = "snake_case")]
pub enum Pressure {
    OpenBundles { open: u32, max: u32 },
    InReview { waiting: u32, max: u32 },
}

impl fmt::Display for Pressure {
    /// `reviewers are behind: 3 bundles open (bundling.max_open_bundles = 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenBundles { open, max } => write!(
                f,
                "reviewers are behind: {open} bundle pull request{} open \
                 (bundling.max_open_bundles = {max})",
                plural(*open)
            ),
            Self::InReview { waiting, max } => write!(
                f,
                "reviewers are behind: {waiting} issue{} waiting for review \
                 (agents.max_in_review = {max})",
                plural(*waiting)
            ),
        }
    }
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn reached(count: u32, max: u32) -> bool {
    max > 0 && count >= max
}

impl ReviewLimits {
    /// Why no new issue may be claimed under `load`, or `None` when claiming goes on.
    pub fn pressure(&self, load: ReviewLoad) -> Option<Pressure> {
        if reached(load.open_bundles, self.max_open_bundles) {
            return Some(Pressure::OpenBundles {
                open: load.open_bundles,
                max: self.max_open_bundles,
            });
        }
        reached(load.in_review, self.max_in_review).then_some(Pressure::InReview {
            waiting: load.in_review,
            max: self.max_in_review,
        })
    }

    /// Whether a train may open another bundle with `open_bundles` open.
    pub fn may_open_bundle(&self, open_bundles: u32) -> bool {
        !reached(open_bundles, self.max_open_bundles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReviewLimits = ReviewLimits {
        max_open_bundles: 2,
        max_in_review: 5,
    };

    fn load(open_bundles: u32, in_review: u32) -> ReviewLoad {
        ReviewLoad {
            open_bundles,
            in_review,
        }
    }

    #[test]
    fn claiming_pauses_at_either_limit_and_resumes_below_both() {
        assert_eq!(LIMITS.pressure(load(1, 4)), None);
        assert_eq!(
            LIMITS.pressure(load(2, 0)),
            Some(Pressure::OpenBundles { open: 2, max: 2 })
        );
        assert_eq!(
            LIMITS.pressure(load(0, 6)),
            Some(Pressure::InReview { waiting: 6, max: 5 })
        );
        assert!(matches!(
            LIMITS.pressure(load(3, 9)),
            Some(Pressure::OpenBundles { .. })
        ));
        assert!(LIMITS.may_open_bundle(1));
        assert!(!LIMITS.may_open_bundle(2));
    }

    #[test]
    fn zero_is_no_limit() {
        let none = ReviewLimits {
            max_open_bundles: 0,
            max_in_review: 0,
        };
        assert_eq!(none.pressure(load(1000, 1000)), None);
        assert!(none.may_open_bundle(1000));
    }

    #[test]
    fn the_reason_names_the_key() {
        assert_eq!(
            Pressure::OpenBundles { open: 1, max: 1 }.to_string(),
            "reviewers are behind: 1 bundle pull request open (bundling.max_open_bundles = 1)"
        );
        assert_eq!(
            Pressure::InReview { waiting: 4, max: 4 }.to_string(),
            "reviewers are behind: 4 issues waiting for review (agents.max_in_review = 4)"
        );
    }
}
