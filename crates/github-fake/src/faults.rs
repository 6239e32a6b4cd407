//! Injected misbehaviour, drawn from a seeded generator so that a failing run can be replayed.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize};

/// What can go wrong, and how often. The default is a well-behaved GitHub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Seeds the generator that draws each request's fate.
    pub seed: u64,
    /// Share of API requests answered `502 Bad Gateway` without acting.
    pub server_error_rate: f64,
    /// The `retry-after` (seconds) sent with each injected `502`.
    pub server_error_retry_after: Option<u64>,
    /// Share of API requests the fake acts on, then drops the connection without answering.
    pub lost_answer_rate: f64,
    /// Share of mutating requests refused with `422 Validation Failed` without acting.
    pub validation_failure_rate: f64,
    /// Secondary rate limits, each refusing one request.
    pub secondary_limits: Vec<SecondaryLimit>,
    /// A delay before every API answer (in JSON: milliseconds, `"slow": 1500`).
    #[serde(
        serialize_with = "millis::serialize",
        deserialize_with = "millis::deserialize"
    )]
    pub slow: Option<Duration>,
    /// An origin (`http://host:port`) that every `Link` header points at instead of the
    /// fake: a hostile answer sending the client, and its token, elsewhere.
    pub link_origin: Option<String>,
}

/// A secondary rate limit: the API request after the first `after_requests` (counted from
/// when these faults were set) is refused with `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryLimit {
    pub after_requests: u64,
    /// 403 or 429, the two statuses GitHub uses for secondary limits.
    pub status: u16,
    /// The `retry-after` header in seconds; without it a client should wait at least a minute.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// The fate of one API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    SecondaryLimit {
        status: u16,
        retry_after: Option<u64>,
    },
    ServerError,
    Unprocessable,
    LostAnswer,
}

/// The faults in force, their generator and the count of API requests drawn so far.
#[derive(Debug)]
pub struct FaultPlan {
    faults: Faults,
    rng: StdRng,
    drawn: u64,
}

impl Default for FaultPlan {
    fn default() -> FaultPlan {
        FaultPlan::new(Faults::default())
    }
}

impl FaultPlan {
    pub fn new(faults: Faults) -> FaultPlan {
        FaultPlan {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            drawn: 0,
        }
    }

    pub fn slow(&self) -> Option<Duration> {
        self.faults.slow
    }

    pub fn server_error_retry_after(&self) -> Option<u64> {
        self.faults.server_error_retry_after
    }

    pub fn link_origin(&self) -> Option<&str> {
        self.faults.link_origin.as_deref()
    }

    /// Draws the fate of the next API request. Every request draws the same number of values
    /// so that one seed gives one sequence whatever the requests are.
    pub fn draw(&mut self, mutating: bool) -> Option<Fault> {
        let index = self.drawn;
        self.drawn += 1;
        let server_error = self.rng.random::<f64>() < self.faults.server_error_rate;
        let lost = self.rng.random::<f64>() < self.faults.lost_answer_rate;
        let unprocessable = self.rng.random::<f64>() < self.faults.validation_failure_rate;
        if let Some(limit) = self
            .faults
            .secondary_limits
            .iter()
            .find(|l| l.after_requests == index)
        {
            return Some(Fault::SecondaryLimit {
                status: limit.status,
                retry_after: limit.retry_after,
            });
        }
        if server_error {
            Some(Fault::ServerError)
        } else if unprocessable && mutating {
            Some(Fault::Unprocessable)
        } else if lost {
            Some(Fault::LostAnswer)
        } else {
            None
        }
    }
}

/// `Option<Duration>` as a number of milliseconds.
mod millis {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(|d| d.as_millis() as u64).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fates(faults: &Faults, count: usize) -> Vec<Option<Fault>> {
        let mut plan = FaultPlan::new(faults.clone());
        (0..count).map(|_| plan.draw(true)).collect()
    }

    #[test]
    fn one_seed_gives_one_sequence() {
        let faults = Faults {
            seed: 7,
            server_error_rate: 0.3,
            lost_answer_rate: 0.3,
            ..Faults::default()
        };
        let first = fates(&faults, 200);
        assert_eq!(first, fates(&faults, 200));
        assert!(first.contains(&Some(Fault::ServerError)));
        assert!(first.contains(&Some(Fault::LostAnswer)));
        assert!(first.contains(&None));
    }

    #[test]
    fn a_secondary_limit_refuses_exactly_one_request() {
        let faults = Faults {
            secondary_limits: vec![SecondaryLimit {
                after_requests: 2,
                status: 429,
                retry_after: Some(3),
            }],
            ..Faults::default()
        };
        let limit = Some(Fault::SecondaryLimit {
            status: 429,
            retry_after: Some(3),
        });
        assert_eq!(fates(&faults, 5), vec![None, None, limit, None, None]);
    }

    #[test]
    fn slow_reads_as_milliseconds() {
        let faults: Faults = serde_json::from_str(r#"{"slow": 1500}"#).unwrap();
        assert_eq!(faults.slow, Some(Duration::from_millis(1500)));
    }
}
