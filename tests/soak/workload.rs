//! What the soak throws at the run loop: its scale, the issues (when each arrives and what its
//! agent does), and the forge faults, all drawn from one seeded generator.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use clambake::ports::forge::{ForgeError, Number};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::hooked_forge::{Hook, Verdict};

/// How big a soak is: `CLAMBAKE_SOAK=full` for the whole 48 hours, else the reduced CI scale.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Simulated hours over which issues arrive (the drain that follows is not counted).
    pub hours: u32,
    pub issues: u32,
    pub agents: u32,
    /// Simulated hours at which the orchestrator is killed and started again.
    pub kills: &'static [f64],
    pub seed: u64,
}

impl Scale {
    pub fn from_env() -> Self {
        let seed = std::env::var("CLAMBAKE_SOAK_SEED").map_or(14, |seed| {
            seed.parse().expect("CLAMBAKE_SOAK_SEED is a number")
        });
        match std::env::var("CLAMBAKE_SOAK").as_deref() {
            Ok("full") => Self {
                hours: 48,
                issues: 3000,
                agents: 8,
                kills: &[3.5, 9.0, 14.5, 20.0, 23.0],
                seed,
            },
            Ok(other) if !other.is_empty() => panic!("CLAMBAKE_SOAK is \"full\" or unset"),
            _ => Self {
                hours: 8,
                issues: 80,
                agents: 4,
                kills: &[1.0, 3.0],
                seed,
            },
        }
    }
}

/// What the simulated agent does on one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Succeed,
    /// Thinks this many (real) milliseconds, silent, then succeeds: within the stall limit.
    Slow(u32),
    /// Succeeds, also appending a line to `shared/<n>.txt`: issues sharing `n` conflict.
    EditShared(u8),
    /// Dies mid-work, its files written and nothing committed.
    Crash,
    /// Silent until the stall limit stops it.
    Hang,
    NoCommits,
    Error,
}

impl Plan {
    pub fn body(self) -> String {
        match self {
            Self::Succeed => "Do the work.".to_owned(),
            Self::Slow(millis) => format!("simulate: pause {millis}"),
            Self::EditShared(n) => format!("simulate: edit shared/{n}.txt"),
            Self::Crash => "simulate: outcome crash".to_owned(),
            Self::Hang => "simulate: outcome hang".to_owned(),
            Self::NoCommits => "simulate: outcome no-commits".to_owned(),
            Self::Error => "simulate: outcome error".to_owned(),
        }
    }

    pub fn can_succeed(self) -> bool {
        matches!(self, Self::Succeed | Self::Slow(_) | Self::EditShared(_))
    }

    /// Whether the agent writes work that must be kept when the issue fails.
    pub fn writes_work(self) -> bool {
        matches!(
            self,
            Self::Succeed | Self::Slow(_) | Self::EditShared(_) | Self::Crash
        )
    }
}

/// One issue of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Simulated hours after the start.
    pub hour: f64,
    pub plan: Plan,
}

/// The issues, in order of arrival.
pub fn arrivals(scale: &Scale, rng: &mut StdRng) -> Vec<Arrival> {
    let mut hours: Vec<f64> = (0..scale.issues)
        .map(|_| rng.random_range(0.0..f64::from(scale.hours)))
        .collect();
    hours.sort_by(f64::total_cmp);
    hours
        .into_iter()
        .map(|hour| {
            let plan = match rng.random_range(0..100) {
                0..54 => Plan::Succeed,
                54..60 => Plan::Slow(rng.random_range(200..1200)),
                60..78 => Plan::EditShared(rng.random_range(0..4)),
                78..84 => Plan::Crash,
                84..88 => Plan::Hang,
                88..94 => Plan::NoCommits,
                _ => Plan::Error,
            };
            Arrival { hour, plan }
        })
        .collect()
}

/// The orchestrator's forge calls, failed now and then: refused (the network was down) or
/// done with the reply lost (it timed out after the forge acted).
pub struct ForgeFaults {
    rng: Mutex<StdRng>,
    pub calls: AtomicU32,
    pub refused: AtomicU32,
    pub replies_lost: AtomicU32,
}

/// One call in this many is refused, and one in this many loses its reply.
const REFUSE_ONE_IN: u32 = 150;
const LOSE_REPLY_ONE_IN: u32 = 300;

impl ForgeFaults {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            calls: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            replies_lost: AtomicU32::new(0),
        }
    }
}

impl Hook for Arc<ForgeFaults> {
    fn before(&self, name: &'static str, number: Option<Number>) -> Verdict {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let draw = self
            .rng
            .lock()
            .unwrap()
            .random_range(0..REFUSE_ONE_IN * LOSE_REPLY_ONE_IN);
        let fault = || ForgeError::Backend(format!("injected fault in {name} ({number:?})"));
        if draw < LOSE_REPLY_ONE_IN {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Verdict::Refuse(fault())
        } else if draw < LOSE_REPLY_ONE_IN + REFUSE_ONE_IN {
            self.replies_lost.fetch_add(1, Ordering::Relaxed);
            Verdict::LoseReply(fault())
        } else {
            Verdict::Pass
        }
    }
}
