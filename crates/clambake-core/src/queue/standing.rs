//! Where an open issue stands in the queue, read from its labels alone.

use serde::Serialize;

use crate::queue::labels;

/// The stage of an open issue, in the order work moves through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// No route label: not in the queue.
    Untriaged,
    /// `human-only`: never routed.
    HumanOnly,
    Ready,
    /// Carries an `agentNNN` label.
    Claimed,
    Review,
    Bundled,
    Failed,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Ready,
        Stage::Claimed,
        Stage::Review,
        Stage::Bundled,
        Stage::Failed,
        Stage::HumanOnly,
        Stage::Untriaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untriaged => "untriaged",
            Self::HumanOnly => "human-only",
            Self::Ready => "ready",
            Self::Claimed => "claimed",
            Self::Review => "in review",
            Self::Bundled => "bundled",
            Self::Failed => "failed",
        }
    }
}

/// The stage an open issue's labels put it in. The furthest stage wins, so an issue that is
/// both claimed and still labelled ready counts as claimed; `human-only` overrides routing.
pub fn stage<'a>(issue_labels: impl IntoIterator<Item = &'a str>) -> Stage {
    let mut furthest = Stage::Untriaged;
    for label in issue_labels {
        let stage = match label {
            labels::HUMAN_ONLY => return Stage::HumanOnly,
            labels::READY => Stage::Ready,
            labels::REVIEW => Stage::Review,
            labels::BUNDLED => Stage::Bundled,
            labels::FAILED => Stage::Failed,
            other if labels::agent_slot(other).is_some() => Stage::Claimed,
            _ => Stage::Untriaged,
        };
        furthest = furthest.max(stage);
    }
    furthest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_place_issues() {
        assert_eq!(stage([]), Stage::Untriaged);
        assert_eq!(stage(["bug"]), Stage::Untriaged);
        assert_eq!(stage(["route:ready"]), Stage::Ready);
        assert_eq!(stage(["route:ready", "agent002"]), Stage::Claimed);
        assert_eq!(stage(["agent002", "route:review"]), Stage::Review);
        assert_eq!(stage(["route:bundled"]), Stage::Bundled);
        assert_eq!(stage(["route:failed", "route:ready"]), Stage::Failed);
        assert_eq!(stage(["route:ready", "human-only"]), Stage::HumanOnly);
    }
}
