//! What holds the ready issues back now, as the run loop and `status` both see it: each ready
//! issue's reasons to wait (its open blockers, a dependency cycle it is worked through) and
//! what pauses claiming altogether (reviewers behind). The decisions are the core's
//! (`core::queue::{blocking, backpressure, holds}`).

use serde::Serialize;

use crate::app::AppResult;
use crate::app::queue::backpressure::{review_limits, review_load};
use crate::app::queue::dependencies::Dependencies;
use crate::core::config::Config;
use crate::core::queue::holds::{Pause, Wait, reasons};
use crate::core::queue::standing::{Stage, stage};
use crate::ports::Forge;
use crate::ports::forge::{Issue, Number};

/// A ready issue that is not claimed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingIssue {
    pub number: Number,
    pub reasons: Vec<Wait>,
}

/// What holds the queue back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Holds {
    /// The ready issues that wait, lowest first.
    pub waiting: Vec<WaitingIssue>,
    /// Every dependency cycle among the open issues, each lowest first: worked in that order.
    pub cycles: Vec<Vec<Number>>,
    /// Why no new issue is claimed, if none is.
    pub claiming_paused: Option<Pause>,
}

impl Holds {
    /// What holds back the `open` issues, reading the forge's own dependencies through
    /// `dependencies` (which remembers them between calls).
    pub async fn read(
        forge: &dyn Forge,
        config: &Config,
        dependencies: &mut Dependencies,
        open: &[Issue],
    ) -> AppResult<Holds> {
        let waits = dependencies.waits(forge, open).await?;
        let mut ready: Vec<Number> = open
            .iter()
            .filter(|i| stage(i.labels.iter().map(String::as_str)) == Stage::Ready)
            .map(|i| i.number)
            .collect();
        ready.sort_unstable();
        let waiting = ready
            .into_iter()
            .map(|number| WaitingIssue {
                number,
                reasons: reasons(&waits, number),
            })
            .filter(|waiting| !waiting.reasons.is_empty())
            .collect();
        let load = review_load(forge, open).await?;
        let claiming_paused = review_limits(config)
            .pressure(load)
            .map(|pressure| Pause::Reviewers { pressure });
        Ok(Holds {
            waiting,
            cycles: waits.cycles,
            claiming_paused,
        })
    }
}
