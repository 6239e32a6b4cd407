//! A spending cap in US dollars, as the `[budget]` keys give it: 0 (the default) is no cap.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::{Setting, ValueKind};

/// An amount of dollars, always finite and never negative: [`Usd::new`] refuses every other
/// number, and validation reads values through it. 0 means "no cap".
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Usd(f64);

// Never NaN, so equality is total.
impl Eq for Usd {}

impl Usd {
    /// `dollars`, if it is an amount a key may take.
    pub fn new(dollars: f64) -> Option<Self> {
        (dollars.is_finite() && dollars >= 0.0).then_some(Self(dollars + 0.0))
    }

    /// The number of dollars.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The cap, if there is one.
    pub fn limit(self) -> Option<f64> {
        (self.0 > 0.0).then_some(self.0)
    }

    /// The JSON number the configuration shows: whole dollars as an integer.
    pub fn to_json(self) -> serde_json::Value {
        if self.0.fract() == 0.0 && self.0 < u64::MAX as f64 {
            serde_json::Value::from(self.0 as u64)
        } else {
            serde_json::Value::from(self.0)
        }
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let dollars = f64::deserialize(deserializer)?;
        Self::new(dollars).ok_or_else(|| serde::de::Error::custom(ValueKind::Usd))
    }
}

impl Setting for Usd {
    /// Defaults are written in whole dollars.
    type Literal = u32;
    const KIND: ValueKind = ValueKind::Usd;
    fn from_literal(literal: u32) -> Self {
        Self(f64::from(literal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_finite_amount_not_below_zero_is_one_and_zero_is_no_cap() {
        for refused in [-0.01, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(Usd::new(refused), None, "{refused}");
        }
        assert_eq!(Usd::new(0.0).unwrap().limit(), None);
        assert_eq!(Usd::new(-0.0).unwrap().limit(), None);
        assert_eq!(Usd::new(2.5).unwrap().limit(), Some(2.5));
        assert_eq!(Usd::new(20.0).unwrap().to_json(), serde_json::json!(20));
        assert_eq!(Usd::new(0.25).unwrap().to_json(), serde_json::json!(0.25));
        assert!(serde_json::from_value::<Usd>(serde_json::json!(-3)).is_err());
    }
}
