//! What the journal keeps of a bundle's checks, one event per bisection step, verdict and
//! rebuild, so that `clambake bundle --status` can tell how a bundle's checks went after the
//! replay that found them is gone. A step is recorded when asked for and again when finished.

use serde::{Deserialize, Serialize};

use super::bisect::{Number, Purpose, Step, Verdict, Wanted};

/// Something that happened to the checks of one bundle (its members, in bundle order, as they
/// were checked: a rebuilt bundle's checks start again under its new members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckEvent {
    /// Step `step` of the bisection: `members` merged onto the base, checked on `commit`
    /// (`None`: they did not merge); `passed` is `None` while its checks run.
    Checked {
        step: usize,
        members: Vec<Number>,
        run: u32,
        purpose: Purpose,
        commit: Option<String>,
        passed: Option<bool>,
    },
    /// The bisection's verdict.
    Verdict {
        culprits: Vec<Number>,
        kept: Vec<Number>,
        flaky_rerun_passed: bool,
        base_broken: bool,
    },
    /// The bundle was rebuilt without `without` (`open`: with `kept` left; closed otherwise).
    Rebuilt {
        without: Vec<Number>,
        kept: Vec<Number>,
        open: bool,
    },
}

impl CheckEvent {
    /// A finished step, checked on `commit`.
    pub fn finished(number: usize, step: &Step, commit: Option<String>) -> Self {
        Self::Checked {
            step: number,
            members: step.trial.members.clone(),
            run: step.trial.run,
            purpose: step.purpose,
            commit,
            passed: Some(step.passed),
        }
    }

    /// A step whose checks were asked for and run still, on `commit`.
    pub fn running(wanted: &Wanted, commit: Option<String>) -> Self {
        Self::Checked {
            step: wanted.step,
            members: wanted.trial.members.clone(),
            run: wanted.trial.run,
            purpose: wanted.purpose,
            commit,
            passed: None,
        }
    }

    pub fn verdict(verdict: &Verdict) -> Self {
        Self::Verdict {
            culprits: verdict.culprits.clone(),
            kept: verdict.kept.clone(),
            flaky_rerun_passed: verdict.flaky_rerun_passed,
            base_broken: verdict.base_broken,
        }
    }

    /// What the event is within its bundle's checks: a later event with the same key (a step
    /// that finished) replaces the earlier one.
    pub fn key(&self) -> String {
        match self {
            Self::Checked { step, .. } => format!("step {step}"),
            Self::Verdict { .. } => "verdict".to_owned(),
            Self::Rebuilt { .. } => "rebuilt".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trains::bisect::Trial;

    #[test]
    fn a_step_keeps_its_key_from_asked_for_to_finished() {
        let trial = Trial {
            members: vec![1, 2],
            run: 0,
        };
        let wanted = Wanted {
            trial: trial.clone(),
            purpose: Purpose::Part,
            step: 3,
        };
        let step = Step {
            trial,
            purpose: Purpose::Part,
            passed: false,
        };
        let running = CheckEvent::running(&wanted, Some("abc".to_owned()));
        let finished = CheckEvent::finished(3, &step, Some("abc".to_owned()));
        assert_eq!(running.key(), finished.key());
        assert_ne!(running, finished);
        let json = serde_json::to_string(&finished).unwrap();
        assert_eq!(serde_json::from_str::<CheckEvent>(&json).unwrap(), finished);
    }
}
