//! The label conventions that turn a forge's issues into a queue.

/// Ready for an agent.
pub const READY: &str = "route:ready";
/// Landed: the branch waits for a train.
pub const REVIEW: &str = "route:review";
/// Carried by an open bundle pull request.
pub const BUNDLED: &str = "route:bundled";
/// Every attempt failed; the branch is kept.
pub const FAILED: &str = "route:failed";
/// Never routed to an agent.
pub const HUMAN_ONLY: &str = "human-only";
pub const PRIORITY_HIGH: &str = "route:priority-high";
pub const PRIORITY_MEDIUM: &str = "route:priority-medium";
pub const PRIORITY_LOW: &str = "route:priority-low";

/// A label Clambake creates, with its colour and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSpec {
    pub name: String,
    pub color: &'static str,
    pub description: String,
}

/// The label set for a repository with `agents` agent slots: the route labels plus one
/// `agentNNN` label per slot.
pub fn label_set(agents: u32) -> Vec<LabelSpec> {
    let fixed = [
        (READY, "0e8a16", "Ready for an agent"),
        (PRIORITY_HIGH, "b60205", "Routed before medium and low"),
        (PRIORITY_MEDIUM, "fbca04", "Routed before low"),
        (PRIORITY_LOW, "c2e0c6", "Routed last"),
        (REVIEW, "1d76db", "Landed; waiting for a bundle train"),
        (BUNDLED, "5319e7", "In an open bundle pull request"),
        (FAILED, "d93f0b", "Every attempt failed; the branch is kept"),
        (HUMAN_ONLY, "000000", "Never routed to an agent"),
    ];
    let mut labels: Vec<LabelSpec> = fixed
        .into_iter()
        .map(|(name, color, description)| LabelSpec {
            name: name.to_owned(),
            color,
            description: description.to_owned(),
        })
        .collect();
    labels.extend((1..=agents).map(|slot| LabelSpec {
        name: agent_label(slot),
        color: "bfd4f2",
        description: format!("Claimed by agent slot {slot}"),
    }));
    labels
}

/// The label (and agent id) of slot `slot`: `agent001`.
pub fn agent_label(slot: u32) -> String {
    format!("agent{slot:03}")
}

/// The slot number of an agent label, if `label` is one: `agent007` is 7.
pub fn agent_slot(label: &str) -> Option<u32> {
    let digits = label.strip_prefix("agent")?;
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|slot| *slot > 0)
}

/// Routing priority: lower sorts first.
pub fn priority_rank<'a>(labels: impl IntoIterator<Item = &'a str>) -> u8 {
    labels
        .into_iter()
        .map(|label| match label {
            PRIORITY_HIGH => 0,
            PRIORITY_MEDIUM => 1,
            PRIORITY_LOW => 3,
            _ => 2,
        })
        .min()
        .unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_labels_round_trip() {
        for slot in [1, 9, 42, 999, 1000] {
            assert_eq!(agent_slot(&agent_label(slot)), Some(slot));
        }
        assert_eq!(agent_label(1), "agent001");
    }

    #[test]
    fn other_labels_are_not_agents() {
        for label in [
            "agent",
            "agent01",
            "agent000",
            "agentabc",
            "agent001x",
            "route:ready",
            "xagent001",
        ] {
            assert_eq!(agent_slot(label), None, "{label}");
        }
    }

    #[test]
    fn the_label_set_has_the_route_labels_and_one_per_agent() {
        let names: Vec<String> = label_set(3).into_iter().map(|l| l.name).collect();
        for expected in [
            READY,
            REVIEW,
            BUNDLED,
            FAILED,
            HUMAN_ONLY,
            PRIORITY_HIGH,
            "agent003",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}");
        }
        assert!(!names.iter().any(|n| n == "agent004"));
        assert_eq!(names.len(), 11);
    }

    #[test]
    fn priority_prefers_high_then_unlabelled_over_low() {
        assert!(priority_rank([PRIORITY_HIGH]) < priority_rank([PRIORITY_MEDIUM]));
        assert!(priority_rank([PRIORITY_MEDIUM]) < priority_rank(["bug"]));
        assert!(priority_rank(["bug"]) < priority_rank([PRIORITY_LOW]));
        assert_eq!(priority_rank([PRIORITY_LOW, PRIORITY_HIGH]), 0);
    }
}
