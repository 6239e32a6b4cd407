//! Which open issues wait for others: an issue is not claimed while a blocker it names is
//! open. Blockers that are not open (closed, or no issue at all) never hold anything up, so a
//! mistyped number cannot stall the queue; the app reports them. A cycle of open issues that
//! block each other would wait forever: its members are worked in number order instead (the
//! lowest first, each of the others waiting on the member before it), their edges inside the
//! cycle ignored, and the cycle is reported.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

/// What holds up the open issues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waits {
    /// Each open issue that waits, with the open issues it waits on, lowest first.
    pub waiting: BTreeMap<u64, Vec<u64>>,
    /// Every cycle among the open issues: the members of one strongly connected set, lowest
    /// first; the cycles ordered by their lowest member.
    pub cycles: Vec<Vec<u64>>,
}

impl Waits {
    /// The open issues `issue` waits on; empty when it may be claimed.
    pub fn on(&self, issue: u64) -> &[u64] {
        self.waiting.get(&issue).map_or(&[], Vec::as_slice)
    }

    /// The cycle `issue` is in, if any.
    pub fn cycle_of(&self, issue: u64) -> Option<&[u64]> {
        self.cycles
            .iter()
            .find(|cycle| cycle.contains(&issue))
            .map(Vec::as_slice)
    }
}

/// From every open issue and the blockers it names (open or not, itself included: naming
/// itself is ignored), what waits on what.
pub fn waits(named: &BTreeMap<u64, BTreeSet<u64>>) -> Waits {
    let mut graph = DiGraphMap::<u64, ()>::new();
    for (&issue, blockers) in named {
        graph.add_node(issue);
        for &blocker in blockers {
            if blocker != issue && named.contains_key(&blocker) {
                graph.add_edge(issue, blocker, ());
            }
        }
    }
    let mut cycles: Vec<Vec<u64>> = tarjan_scc(&graph)
        .into_iter()
        .filter(|members| members.len() > 1)
        .map(|mut members| {
            members.sort_unstable();
            members
        })
        .collect();
    cycles.sort_unstable();
    let mut cycle_of = BTreeMap::new();
    for (index, cycle) in cycles.iter().enumerate() {
        for &member in cycle {
            cycle_of.insert(member, index);
        }
    }
    let mut waiting = BTreeMap::new();
    for issue in graph.nodes() {
        let cycle = cycle_of.get(&issue).map(|&index| &cycles[index]);
        let mut on: BTreeSet<u64> = graph
            .neighbors(issue)
            .filter(|blocker| cycle.is_none_or(|members| !members.contains(blocker)))
            .collect();
        if let Some(members) = cycle
            && let Some(position) = members.iter().position(|&m| m == issue)
            && position > 0
        {
            on.insert(members[position - 1]);
        }
        if !on.is_empty() {
            waiting.insert(issue, on.into_iter().collect());
        }
    }
    Waits { waiting, cycles }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn named(edges: &[(u64, &[u64])]) -> BTreeMap<u64, BTreeSet<u64>> {
        edges
            .iter()
            .map(|(issue, blockers)| (*issue, blockers.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn a_chain_waits_link_by_link() {
        let waits = waits(&named(&[(1, &[]), (2, &[1]), (3, &[2])]));
        assert_eq!(waits.on(1), &[] as &[u64]);
        assert_eq!(waits.on(2), [1]);
        assert_eq!(waits.on(3), [2]);
        assert!(waits.cycles.is_empty());
    }

    #[test]
    fn blockers_that_are_not_open_hold_nothing_up() {
        // #1 is closed (or never existed): not among the open issues.
        let waits = waits(&named(&[(2, &[1]), (3, &[1, 2, 3])]));
        assert_eq!(waits.on(2), &[] as &[u64]);
        assert_eq!(waits.on(3), [2]);
        assert!(waits.cycles.is_empty(), "naming itself is no cycle");
    }

    #[test]
    fn a_cycle_is_worked_in_number_order() {
        let waits = waits(&named(&[
            (5, &[9]),
            (9, &[7]),
            (7, &[5, 2]),
            (2, &[]),
            (8, &[9]),
        ]));
        assert_eq!(waits.cycles, [vec![5, 7, 9]]);
        assert_eq!(waits.on(5), &[] as &[u64]);
        // #7 still waits on #2, outside the cycle, and on #5, the member before it.
        assert_eq!(waits.on(7), [2, 5]);
        assert_eq!(waits.on(9), [7]);
        assert_eq!(waits.on(8), [9]);
        assert_eq!(waits.cycle_of(9), Some(&[5, 7, 9][..]));
        assert_eq!(waits.cycle_of(8), None);
    }

    #[test]
    fn separate_cycles_are_each_reported() {
        let waits = waits(&named(&[(1, &[2]), (2, &[1]), (3, &[4]), (4, &[3])]));
        assert_eq!(waits.cycles, [vec![1, 2], vec![3, 4]]);
        assert_eq!(waits.on(3), &[] as &[u64]);
        assert_eq!(waits.on(4), [3]);
    }

    fn graphs() -> impl Strategy<Value = BTreeMap<u64, BTreeSet<u64>>> {
        prop::collection::btree_map(1u64..30, prop::collection::btree_set(1u64..35, 0..4), 0..25)
    }

    proptest! {
        /// The queue never deadlocks: following what waits on what always ends, so some
        /// issue of every set is free to be claimed, and work then proceeds.
        #[test]
        fn the_waits_have_no_cycle_and_only_open_issues(named in graphs()) {
            let waits = waits(&named);
            let mut graph = DiGraphMap::<u64, ()>::new();
            for (&issue, on) in &waits.waiting {
                prop_assert!(named.contains_key(&issue));
                for &blocker in on {
                    prop_assert!(named.contains_key(&blocker), "#{} is not open", blocker);
                    prop_assert_ne!(blocker, issue);
                    graph.add_edge(issue, blocker, ());
                }
            }
            prop_assert!(!petgraph::algo::is_cyclic_directed(&graph));
        }

        /// Without a cycle, an issue waits on exactly the open blockers it names.
        #[test]
        fn outside_cycles_every_open_blocker_is_waited_on(named in graphs()) {
            let waits = waits(&named);
            for (&issue, blockers) in &named {
                if waits.cycle_of(issue).is_some() {
                    continue;
                }
                let open: Vec<u64> = blockers
                    .iter()
                    .copied()
                    .filter(|b| *b != issue && named.contains_key(b))
                    .collect();
                prop_assert_eq!(waits.on(issue), open.as_slice());
            }
        }

        /// Closing the issues that are free, again and again, closes every issue.
        #[test]
        fn closing_what_is_free_empties_the_queue(mut named in graphs()) {
            while !named.is_empty() {
                let waits = waits(&named);
                let free: Vec<u64> = named
                    .keys()
                    .copied()
                    .filter(|issue| waits.on(*issue).is_empty())
                    .collect();
                prop_assert!(!free.is_empty());
                for issue in free {
                    named.remove(&issue);
                }
            }
        }
    }
}
