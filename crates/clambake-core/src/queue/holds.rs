//! Why a ready issue is not claimed, in words a person reads in `status`, the live view and the
//! dashboard: each issue's own reasons (its open blockers, a dependency cycle it is worked
//! through), and what pauses claiming altogether (reviewers falling behind). Each is an enum
//! so another kind of reason joins beside the ones there are.

use std::fmt;

use serde::Serialize;

use super::backpressure::Pressure;
use super::blocking::Waits;
use crate::text::issue_list;

/// Why one ready issue waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Wait {
    /// Open issues it names as blockers, outside any cycle it is in, lowest first.
    Blockers { issues: Vec<u64> },
    /// It is in a dependency cycle, worked in number order (`cycle`, lowest first): it waits
    /// for `after`, the member before it, to be closed.
    Cycle { cycle: Vec<u64>, after: u64 },
}

impl fmt::Display for Wait {
    /// `on #1, #2`; `after #4, in the dependency cycle #4, #5 (worked in number order)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blockers { issues } => write!(f, "on {}", issue_list(issues)),
            Self::Cycle { cycle, after } => write!(
                f,
                "after #{after}, in the dependency cycle {} (worked in number order)",
                issue_list(cycle)
            ),
        }
    }
}

/// Why no new issue is claimed at all (attempts in flight go on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Pause {
    /// Reviewers are behind: which limit, and how much waits for them.
    Reviewers { pressure: Pressure },
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reviewers { pressure } => pressure.fmt(f),
        }
    }
}

/// Why `issue` waits under `waits`: nothing when it may be claimed.
pub fn reasons(waits: &Waits, issue: u64) -> Vec<Wait> {
    let on = waits.on(issue);
    let mut reasons = Vec::new();
    let cycle = waits.cycle_of(issue);
    let after = cycle.and_then(|members| {
        let position = members.iter().position(|&m| m == issue)?;
        position.checked_sub(1).map(|before| members[before])
    });
    let outside: Vec<u64> = on
        .iter()
        .copied()
        .filter(|blocker| cycle.is_none_or(|members| !members.contains(blocker)))
        .collect();
    if !outside.is_empty() {
        reasons.push(Wait::Blockers { issues: outside });
    }
    if let (Some(cycle), Some(after)) = (cycle, after) {
        reasons.push(Wait::Cycle {
            cycle: cycle.to_vec(),
            after,
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::queue::blocking::waits;

    fn named(edges: &[(u64, &[u64])]) -> BTreeMap<u64, BTreeSet<u64>> {
        edges
            .iter()
            .map(|(issue, blockers)| (*issue, blockers.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn a_chain_waits_on_its_blockers_and_a_cycle_after_the_member_before() {
        let waits = waits(&named(&[
            (1, &[]),
            (2, &[1]),
            (4, &[5]),
            (5, &[4, 2]),
            (6, &[99]),
        ]));
        assert_eq!(reasons(&waits, 1), []);
        assert_eq!(reasons(&waits, 2), [Wait::Blockers { issues: vec![1] }]);
        assert_eq!(
            reasons(&waits, 4),
            [],
            "the cycle's first member goes first"
        );
        assert_eq!(
            reasons(&waits, 5),
            [
                Wait::Blockers { issues: vec![2] },
                Wait::Cycle {
                    cycle: vec![4, 5],
                    after: 4
                }
            ]
        );
        assert_eq!(reasons(&waits, 6), [], "#99 is not open");
    }

    #[test]
    fn reasons_read_as_sentences_and_serialize_tagged() {
        let cycle = Wait::Cycle {
            cycle: vec![4, 5, 7],
            after: 5,
        };
        assert_eq!(
            cycle.to_string(),
            "after #5, in the dependency cycle #4, #5, #7 (worked in number order)"
        );
        assert_eq!(
            Wait::Blockers { issues: vec![1, 2] }.to_string(),
            "on #1, #2"
        );
        assert_eq!(
            serde_json::to_value(&cycle).unwrap(),
            serde_json::json!({"reason": "cycle", "cycle": [4, 5, 7], "after": 5})
        );
        let pause = Pause::Reviewers {
            pressure: Pressure::InReview { waiting: 1, max: 1 },
        };
        assert_eq!(
            pause.to_string(),
            "reviewers are behind: 1 issue waiting for review (agents.max_in_review = 1)"
        );
        assert_eq!(
            serde_json::to_value(pause).unwrap(),
            serde_json::json!({
                "reason": "reviewers",
                "pressure": {"limit": "in_review", "waiting": 1, "max": 1}
            })
        );
    }
}
