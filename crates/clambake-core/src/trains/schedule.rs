//! When a bundle train departs. Pure: the current time and the last departure are handed in.
//!
//! Departures sit on UTC multiples of `bundling.schedule_minutes` (10 minutes: :00, :10, :20 ...),
//! so every machine that looks at the same repository agrees on which departure is due and
//! names its bundle the same way.

use std::num::NonZeroU32;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::config::BundleTrigger;

/// A train departing every `period` minutes, on UTC multiples of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    trigger: BundleTrigger,
    period: NonZeroU32,
}

/// Whether a train should leave now, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Departure {
    /// Leave now, as the departure slot `at` (the name of the bundle).
    Due { at: Timestamp },
    /// Not yet: the next scheduled departure is `next`.
    Wait { next: Timestamp },
    /// On `on_land`, nothing landed since the last train.
    NothingLanded,
    /// Trains leave only when asked (`bundle --force`).
    Manual,
}

impl Schedule {
    pub fn new(trigger: BundleTrigger, period_minutes: NonZeroU32) -> Self {
        Self {
            trigger,
            period: period_minutes,
        }
    }

    fn period_seconds(self) -> i64 {
        i64::from(self.period.get()) * 60
    }

    /// The latest departure slot at or before `now`.
    pub fn slot_at(self, now: Timestamp) -> Timestamp {
        let seconds = now.as_second();
        let slot = seconds - seconds.rem_euclid(self.period_seconds());
        Timestamp::from_second(slot).expect("a slot at or before a valid timestamp is valid")
    }

    /// The first departure slot strictly after `now`.
    pub fn next_slot(self, now: Timestamp) -> Timestamp {
        self.slot_at(now) + SignedDuration::from_secs(self.period_seconds())
    }

    /// Whether a train leaves at `now`, given when the last one left and when work last landed.
    ///
    /// - `schedule`: due once per slot: when the slot at `now` is later than the last departure.
    /// - `on_land`: due when something landed after the last departure; named by `now`, or a
    ///   second after the last departure if that was named at or after `now`: a departure is
    ///   never named as an earlier one was, whose bundle may have merged since.
    /// - `manual`: never due by itself.
    pub fn decide(
        self,
        now: Timestamp,
        last_departure: Option<Timestamp>,
        last_landing: Option<Timestamp>,
    ) -> Departure {
        match self.trigger {
            BundleTrigger::Manual => Departure::Manual,
            BundleTrigger::Schedule => {
                let slot = self.slot_at(now);
                match last_departure {
                    Some(last) if last >= slot => Departure::Wait {
                        next: self.next_slot(now),
                    },
                    _ => Departure::Due { at: slot },
                }
            }
            BundleTrigger::OnLand => match (last_landing, last_departure) {
                (Some(landed), Some(last)) if landed > last => Departure::Due {
                    at: fresh_departure(now, Some(last)),
                },
                (Some(_), None) => Departure::Due { at: whole(now) },
                _ => Departure::NothingLanded,
            },
        }
    }
}

/// `now` without its fraction of a second, so it names a branch the same way each time.
pub fn whole(now: Timestamp) -> Timestamp {
    Timestamp::from_second(now.as_second()).expect("truncating a valid timestamp keeps it valid")
}

/// A departure named after `now`, but always later than the `last` one, so that two trains in
/// one second (a forced one, then a rebuild; or two on `on_land`) never share a branch name.
pub fn fresh_departure(now: Timestamp, last: Option<Timestamp>) -> Timestamp {
    let at = whole(now);
    match last {
        Some(last) if last >= at => last + SignedDuration::from_secs(1),
        _ => at,
    }
}

/// The UTC stamp in a bundle's name: `20261121T0610Z` for 06:10:00, seconds kept when not zero.
pub fn stamp(at: Timestamp) -> String {
    if at.as_second().rem_euclid(60) == 0 {
        at.strftime("%Y%m%dT%H%MZ").to_string()
    } else {
        at.strftime("%Y%m%dT%H%M%SZ").to_string()
    }
}

/// The branch a train's bundle lives on: `clambake/bundle-20261121T0610Z`.
pub fn bundle_branch(at: Timestamp) -> String {
    format!("{BUNDLE_BRANCH_PREFIX}{}", stamp(at))
}

/// The departure a bundle branch was named after, if `branch` is one.
pub fn departure_of(branch: &str) -> Option<Timestamp> {
    let stamp = branch.strip_prefix(BUNDLE_BRANCH_PREFIX)?;
    ["%Y%m%dT%H%MZ", "%Y%m%dT%H%M%SZ"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, stamp).ok())
        .and_then(|civil| civil.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
}

/// Every bundle branch starts with this.
pub const BUNDLE_BRANCH_PREFIX: &str = "clambake/bundle-";

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn every(minutes: u32, trigger: BundleTrigger) -> Schedule {
        Schedule::new(trigger, NonZeroU32::new(minutes).unwrap())
    }

    #[test]
    fn slots_are_utc_multiples_of_the_period() {
        let ten = every(10, BundleTrigger::Schedule);
        assert_eq!(
            ten.slot_at(at("2026-11-21T06:17:42Z")),
            at("2026-11-21T06:10:00Z")
        );
        assert_eq!(
            ten.slot_at(at("2026-11-21T06:10:00Z")),
            at("2026-11-21T06:10:00Z")
        );
        assert_eq!(
            ten.slot_at(at("2026-11-21T06:09:59.999Z")),
            at("2026-11-21T06:00:00Z")
        );
        let seven = every(7, BundleTrigger::Schedule);
        // 7-minute slots count from the Unix epoch, not from the hour.
        let slot = seven.slot_at(at("2026-11-21T06:17:42Z"));
        assert_eq!(slot.as_second() % 420, 0);
        assert!(slot <= at("2026-11-21T06:17:42Z"));
        assert!(at("2026-11-21T06:17:42Z") < slot + SignedDuration::from_mins(7));
    }

    #[test]
    fn slots_before_the_epoch_round_down_too() {
        let ten = every(10, BundleTrigger::Schedule);
        assert_eq!(
            ten.slot_at(at("1969-12-31T23:55:00Z")),
            at("1969-12-31T23:50:00Z")
        );
    }

    #[test]
    fn the_next_slot_is_strictly_later() {
        let ten = every(10, BundleTrigger::Schedule);
        assert_eq!(
            ten.next_slot(at("2026-11-21T06:17:42Z")),
            at("2026-11-21T06:20:00Z")
        );
        assert_eq!(
            ten.next_slot(at("2026-11-21T06:20:00Z")),
            at("2026-11-21T06:30:00Z")
        );
        let daily = every(1440, BundleTrigger::Schedule);
        assert_eq!(
            daily.next_slot(at("2026-11-21T23:59:59Z")),
            at("2026-11-22T00:00:00Z")
        );
    }

    #[test]
    fn a_schedule_departs_once_per_slot() {
        let ten = every(10, BundleTrigger::Schedule);
        let now = at("2026-11-21T06:17:42Z");
        let slot = at("2026-11-21T06:10:00Z");
        assert_eq!(ten.decide(now, None, None), Departure::Due { at: slot });
        assert_eq!(
            ten.decide(now, Some(at("2026-11-21T06:00:00Z")), None),
            Departure::Due { at: slot }
        );
        assert_eq!(
            ten.decide(now, Some(slot), None),
            Departure::Wait {
                next: at("2026-11-21T06:20:00Z")
            }
        );
        // A forced train after the slot also counts as this slot's departure.
        assert_eq!(
            ten.decide(now, Some(at("2026-11-21T06:12:00Z")), None),
            Departure::Wait {
                next: at("2026-11-21T06:20:00Z")
            }
        );
    }

    #[test]
    fn a_schedule_ignores_landings() {
        let ten = every(10, BundleTrigger::Schedule);
        let now = at("2026-11-21T06:17:42Z");
        let last = Some(at("2026-11-21T06:10:00Z"));
        assert!(matches!(
            ten.decide(now, last, Some(at("2026-11-21T06:15:00Z"))),
            Departure::Wait { .. }
        ));
    }

    #[test]
    fn forced_departures_never_reuse_a_name() {
        let now = at("2026-11-21T06:17:42.5Z");
        let whole = at("2026-11-21T06:17:42Z");
        let later = at("2026-11-21T06:17:43Z");
        assert_eq!(fresh_departure(now, None), whole);
        assert_eq!(
            fresh_departure(now, Some(at("2026-11-21T06:10:00Z"))),
            whole
        );
        assert_eq!(fresh_departure(now, Some(whole)), later);
        assert_eq!(
            fresh_departure(now, Some(later)),
            at("2026-11-21T06:17:44Z")
        );
    }

    /// Work that lands in the second a train left in leaves in a bundle of its own name: the
    /// earlier bundle may be merged by then, and one named as it was would board it.
    #[test]
    fn on_land_never_names_a_departure_as_the_last_one() {
        let on_land = every(10, BundleTrigger::OnLand);
        let last = at("2026-11-21T06:17:42Z");
        assert_eq!(
            on_land.decide(
                at("2026-11-21T06:17:42.7Z"),
                Some(last),
                Some(at("2026-11-21T06:17:42.5Z"))
            ),
            Departure::Due {
                at: at("2026-11-21T06:17:43Z")
            }
        );
        // A departure the one before named a second ahead (its second bundle) is passed too.
        assert_eq!(
            on_land.decide(
                at("2026-11-21T06:17:43.2Z"),
                Some(at("2026-11-21T06:17:43Z")),
                Some(at("2026-11-21T06:17:43.1Z"))
            ),
            Departure::Due {
                at: at("2026-11-21T06:17:44Z")
            }
        );
    }

    #[test]
    fn on_land_departs_when_work_landed_since_the_last_train() {
        let on_land = every(10, BundleTrigger::OnLand);
        let now = at("2026-11-21T06:17:42.5Z");
        let named = at("2026-11-21T06:17:42Z");
        assert_eq!(
            on_land.decide(now, None, Some(at("2026-11-21T06:17:00Z"))),
            Departure::Due { at: named }
        );
        assert_eq!(
            on_land.decide(
                now,
                Some(at("2026-11-21T06:16:00Z")),
                Some(at("2026-11-21T06:17:00Z"))
            ),
            Departure::Due { at: named }
        );
        assert_eq!(
            on_land.decide(
                now,
                Some(at("2026-11-21T06:17:00Z")),
                Some(at("2026-11-21T06:17:00Z"))
            ),
            Departure::NothingLanded
        );
        assert_eq!(on_land.decide(now, None, None), Departure::NothingLanded);
        assert_eq!(
            on_land.decide(now, Some(at("2026-11-21T06:00:00Z")), None),
            Departure::NothingLanded
        );
    }

    #[test]
    fn manual_never_departs_by_itself() {
        let manual = every(10, BundleTrigger::Manual);
        let now = at("2026-11-21T06:17:42Z");
        assert_eq!(manual.decide(now, None, Some(now)), Departure::Manual);
        assert_eq!(manual.decide(now, Some(now), None), Departure::Manual);
    }

    #[test]
    fn bundle_names_carry_the_utc_stamp() {
        assert_eq!(
            bundle_branch(at("2026-11-21T06:10:00Z")),
            "clambake/bundle-20261121T0610Z"
        );
        assert_eq!(
            bundle_branch(at("2026-11-21T06:17:42Z")),
            "clambake/bundle-20261121T061742Z"
        );
        assert_eq!(
            whole(at("2026-11-21T06:17:42.9Z")),
            at("2026-11-21T06:17:42Z")
        );
    }

    #[test]
    fn bundle_names_read_back_as_their_departure() {
        for departure in [at("2026-11-21T06:10:00Z"), at("2026-11-21T06:17:42Z")] {
            assert_eq!(departure_of(&bundle_branch(departure)), Some(departure));
        }
        for other in [
            "main",
            "clambake/bundle-",
            "clambake/bundle-tomorrow",
            "agent001/4-clambake/bundle-20261121T0610Z",
        ] {
            assert_eq!(departure_of(other), None, "{other}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_moment_lies_in_exactly_one_slot(
            seconds in -4_000_000_000i64..4_000_000_000,
            minutes in 1u32..=1440,
        ) {
            let schedule = every(minutes, BundleTrigger::Schedule);
            let now = Timestamp::from_second(seconds).unwrap();
            let slot = schedule.slot_at(now);
            let next = schedule.next_slot(now);
            proptest::prop_assert!(slot <= now && now < next);
            proptest::prop_assert_eq!(slot.as_second() % (i64::from(minutes) * 60), 0);
            proptest::prop_assert_eq!(next.as_second() - slot.as_second(), i64::from(minutes) * 60);
        }
    }
}
