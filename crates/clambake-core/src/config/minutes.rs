//! A length of time a key gives in minutes, fractions allowed (`0.25` is fifteen seconds), so
//! that a short limit needs no second key in seconds.

use jiff::SignedDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::{Setting, ValueKind};

/// A number of minutes, always finite, at least a second and at most `u32::MAX`:
/// [`Minutes::new`] refuses every other number, and validation reads values through it. A
/// second is the floor because what these keys time (a claim's silence, a stall) is noticed by
/// polling git and the forge, which takes about that long: less would make every live
/// orchestrator and agent look stuck.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Minutes(f64);

// Never NaN, so equality is total.
impl Eq for Minutes {}

impl Minutes {
    /// The most a key in minutes takes, as a whole-number key does.
    const MAX: f64 = u32::MAX as f64;
    /// The least a key in minutes takes: one second.
    const MIN_SECONDS: f64 = 1.0;

    /// `minutes`, if it is a length a key may take.
    pub fn new(minutes: f64) -> Option<Self> {
        (minutes.is_finite() && minutes * 60.0 >= Self::MIN_SECONDS && minutes <= Self::MAX)
            .then_some(Self(minutes))
    }

    /// The number of minutes.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The length of time.
    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_secs_f64(self.0 * 60.0)
    }

    /// The JSON number the configuration shows: whole minutes as an integer, as they were
    /// before fractions were allowed.
    pub fn to_json(self) -> serde_json::Value {
        if self.0.fract() == 0.0 {
            serde_json::Value::from(self.0 as u64)
        } else {
            serde_json::Value::from(self.0)
        }
    }
}

impl Serialize for Minutes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Minutes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let minutes = f64::deserialize(deserializer)?;
        Self::new(minutes).ok_or_else(|| serde::de::Error::custom(ValueKind::Minutes))
    }
}

impl Setting for Minutes {
    /// Defaults are written in whole minutes.
    type Literal = u32;
    const KIND: ValueKind = ValueKind::Minutes;
    fn from_literal(literal: u32) -> Self {
        Self::new(f64::from(literal)).expect("a default in minutes is more than 0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_finite_number_of_minutes_from_a_second_up_is_one() {
        for refused in [0.0, -1.0, f64::NAN, f64::INFINITY, -0.0, 1e12, 1e-9, 0.016] {
            assert_eq!(Minutes::new(refused), None, "{refused}");
        }
        let second = Minutes::new(1.0 / 60.0).unwrap();
        assert_eq!(second.duration(), SignedDuration::from_secs(1), "the least");
        let quarter = Minutes::new(0.25).unwrap();
        assert_eq!(quarter.duration(), SignedDuration::from_secs(15));
        assert_eq!(quarter.to_json(), serde_json::json!(0.25));
        assert_eq!(Minutes::from_literal(90).to_json(), serde_json::json!(90));
        let read: Minutes = serde_json::from_value(serde_json::json!(90)).unwrap();
        assert_eq!(read.duration(), SignedDuration::from_mins(90));
        assert!(serde_json::from_value::<Minutes>(serde_json::json!(0)).is_err());
    }
}
