use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

const DEFAULTS: Settings = Settings {
    retry_flaky: 1,
    parallel: 2,
};

/// Runs a bisection to its verdict against `oracle`, as a caller would: checks what it asks
/// for, all at once, and replays. Returns the verdict, the steps and the number of checks.
fn drive(
    members: &[Number],
    settings: Settings,
    oracle: impl Fn(&Trial) -> bool,
) -> (Verdict, Vec<Step>, usize) {
    let mut known: BTreeMap<Trial, bool> = BTreeMap::new();
    loop {
        let bisection = bisect(members, settings, |t| known.get(t).copied());
        match bisection.next {
            Next::Done { verdict } => return (verdict, bisection.steps, known.len()),
            Next::Check { trials } => {
                assert!(!trials.is_empty());
                assert!(trials.len() <= settings.parallel.max(1) as usize);
                for Wanted { trial, .. } in trials {
                    assert!(!known.contains_key(&trial), "{trial:?} asked for twice");
                    let passed = oracle(&trial);
                    known.insert(trial, passed);
                }
            }
        }
    }
}

/// A trial fails when it holds a culprit, or always when the base is broken.
fn deterministic(culprits: &BTreeSet<Number>, base_broken: bool) -> impl Fn(&Trial) -> bool {
    move |t: &Trial| !base_broken && !t.members.iter().any(|m| culprits.contains(m))
}

fn members(n: u64) -> Vec<Number> {
    (1..=n).collect()
}

#[test]
fn a_passing_bundle_is_checked_once() {
    let (verdict, steps, checks) = drive(&members(8), DEFAULTS, |_| true);
    assert_eq!(verdict.kept, members(8));
    assert!(verdict.blames_nobody() && !verdict.flaky_rerun_passed);
    assert_eq!(checks, 1);
    assert_eq!(steps[0].purpose, Purpose::Bundle);
}

#[test]
fn a_flaky_first_failure_blames_nobody() {
    let (verdict, steps, checks) = drive(&members(8), DEFAULTS, |t| t.run > 0);
    assert!(verdict.flaky_rerun_passed && verdict.culprits.is_empty());
    assert_eq!(verdict.kept, members(8));
    assert_eq!(checks, 2);
    assert_eq!(steps[1].purpose, Purpose::Rerun);
}

#[test]
fn without_reruns_a_failure_is_bisected_at_once() {
    let settings = Settings {
        retry_flaky: 0,
        parallel: 1,
    };
    let (verdict, steps, _) = drive(&members(4), settings, |t| !t.members.contains(&3));
    assert_eq!(verdict.culprits, vec![3]);
    assert!(steps.iter().all(|s| s.purpose != Purpose::Rerun));
}

#[test]
fn a_broken_base_blames_nobody() {
    let (verdict, steps, _) = drive(&members(5), DEFAULTS, |_| false);
    assert!(verdict.base_broken && verdict.culprits.is_empty());
    assert_eq!(steps.last().unwrap().purpose, Purpose::Base);
    assert_eq!(steps.last().unwrap().trial.members, Vec::<Number>::new());
}

#[test]
fn the_first_member_is_blamed_only_once_the_base_passes() {
    let culprits = BTreeSet::from([1]);
    let (verdict, steps, _) = drive(&members(8), DEFAULTS, deterministic(&culprits, false));
    assert_eq!(verdict.culprits, vec![1]);
    assert!(steps.iter().any(|s| s.purpose == Purpose::Base && s.passed));
}

/// The number of checks for 8 members with one culprit at the default settings, against the 8
/// of checking each member alone: at most 7 wherever the culprit is (the whole bundle, its rerun,
/// two rounds of two parts, the base when the first member is blamed, and the rest after it).
#[test]
fn eight_members_with_one_culprit_need_at_most_seven_checks() {
    let counts: Vec<usize> = (1..=8)
        .map(|culprit| {
            let culprits = BTreeSet::from([culprit]);
            let (verdict, _, checks) =
                drive(&members(8), DEFAULTS, deterministic(&culprits, false));
            assert_eq!(verdict.culprits, vec![culprit]);
            checks
        })
        .collect();
    assert_eq!(counts, vec![7, 6, 7, 7, 7, 7, 7, 6]);
}

#[test]
fn a_restart_recomputes_the_same_steps() {
    let culprits = BTreeSet::from([3, 6]);
    let oracle = deterministic(&culprits, false);
    let (verdict, steps, _) = drive(&members(8), DEFAULTS, &oracle);
    let known: BTreeMap<Trial, bool> = steps.iter().map(|s| (s.trial.clone(), s.passed)).collect();
    let again = bisect(&members(8), DEFAULTS, |t| known.get(t).copied());
    assert_eq!(again.steps, steps);
    assert_eq!(again.next, Next::Done { verdict });
}

#[test]
fn a_pending_trial_holds_the_round_but_not_what_is_known() {
    let all = members(8);
    let mut known = BTreeMap::from([
        (
            Trial {
                members: all.clone(),
                run: 0,
            },
            false,
        ),
        (
            Trial {
                members: all.clone(),
                run: 1,
            },
            false,
        ),
    ]);
    // The second part's trial is in; the first's is still running.
    known.insert(
        Trial {
            members: members(5),
            run: 0,
        },
        true,
    );
    let bisection = bisect(&all, DEFAULTS, |t| known.get(t).copied());
    assert_eq!(bisection.steps.len(), 2);
    assert_eq!(
        bisection.next,
        Next::Check {
            trials: vec![Wanted {
                trial: Trial {
                    members: members(2),
                    run: 0
                },
                purpose: Purpose::Part,
                step: 3,
            }]
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_culprit_set_is_found(
        n in 1u64..=16,
        picks in proptest::collection::btree_set(1u64..=16, 0..6),
        retry_flaky in 0u32..3,
        parallel in 1u32..5,
    ) {
        let culprits: BTreeSet<Number> = picks.into_iter().filter(|m| *m <= n).collect();
        let settings = Settings { retry_flaky, parallel };
        let (verdict, _, checks) = drive(&members(n), settings, deterministic(&culprits, false));
        prop_assert_eq!(&verdict.culprits, &culprits.iter().copied().collect::<Vec<_>>());
        let kept: Vec<Number> = members(n).into_iter().filter(|m| !culprits.contains(m)).collect();
        prop_assert_eq!(&verdict.kept, &kept);
        prop_assert!(!verdict.flaky_rerun_passed && !verdict.base_broken);
        // Bounded: each culprit costs a descent of at most `parallel` trials per level, plus
        // the check of what follows it; never more than a few times checking each alone.
        let levels = (n as f64).log(parallel as f64 + 1.0).ceil() as usize + 1;
        let bound = 1 + retry_flaky as usize + 1
            + culprits.len().max(1) * (levels * parallel as usize + 1);
        prop_assert!(checks <= bound, "{} checks, bound {}", checks, bound);
    }

    #[test]
    fn a_broken_base_blames_nobody_whatever_the_members(
        n in 1u64..=16,
        parallel in 1u32..5,
    ) {
        let settings = Settings { retry_flaky: 1, parallel };
        let (verdict, _, _) = drive(&members(n), settings, deterministic(&BTreeSet::new(), true));
        prop_assert!(verdict.base_broken && verdict.culprits.is_empty());
    }

    #[test]
    fn a_rerun_that_passes_blames_nobody(
        n in 1u64..=16,
        picks in proptest::collection::btree_set(1u64..=16, 1..6),
        retry_flaky in 1u32..3,
        passes_on in 1u32..3,
    ) {
        let passes_on = passes_on.min(retry_flaky);
        let settings = Settings { retry_flaky, parallel: 2 };
        let culprits: BTreeSet<Number> = picks;
        let oracle = move |t: &Trial| t.run >= passes_on
            || !t.members.iter().any(|m| culprits.contains(m) && *m <= n);
        let (verdict, _, _) = drive(&members(n), settings, oracle);
        prop_assert!(verdict.culprits.is_empty());
        prop_assert_eq!(verdict.kept, members(n));
    }
}
