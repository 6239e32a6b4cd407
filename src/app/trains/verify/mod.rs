//! A bundle's checks, and its bisection when they fail: each trial the core's bisection asks
//! for is written as a commit (`commit.rs`), asked for through `CommitChecks` and read back,
//! and the bisection replayed from what is known until it needs a result still pending or
//! reaches its verdict. Nothing is stored here: the commits and the checks' results are the
//! state, so a restart recomputes the same steps and repeats no finished check.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::AppResult;
use crate::core::trains::bisect::{self, Bisection, Next, Settings, Trial, Wanted};
use crate::core::trains::pull_request::BundleRecord;
use crate::ports::checks::{CheckFailure, CommitCheckState, CommitChecks};
use crate::ports::git::MergeEngine;

pub mod commit;
pub mod send_back;

pub use commit::members_text;
use commit::{TrialCommit, write_trial_commit};

/// A trial that was asked for: its commit and the name its checks were asked under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub trial: Trial,
    pub name: String,
    /// `None` when the trial could not be merged (it conflicts without the members left out).
    pub commit: Option<String>,
    /// Why it failed, when it did.
    pub failure: Option<CheckFailure>,
}

/// Where a bundle's checks stand after one look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub bisection: Bisection,
    /// Every trial looked at, finished or not, in the order the bisection asked for them.
    pub trials: Vec<Checked>,
}

impl Progress {
    /// The failure of `trial`, when it failed.
    pub fn failure(&self, trial: &Trial) -> Option<&CheckFailure> {
        self.trials
            .iter()
            .find(|c| &c.trial == trial)
            .and_then(|c| c.failure.as_ref())
    }

    /// The last failure that involved `member` (its decisive trial), for its issue and the
    /// bundle's body.
    pub fn failure_of(&self, member: u64) -> Option<&CheckFailure> {
        self.bisection
            .steps
            .iter()
            .rev()
            .filter(|s| !s.passed && s.trial.members.contains(&member))
            .find_map(|s| self.failure(&s.trial))
    }
}

/// Checks a bundle and bisects it when its checks fail.
pub struct Verifier<'a> {
    pub merges: &'a dyn MergeEngine,
    pub checks: &'a dyn CommitChecks,
    pub settings: Settings,
}

impl Verifier<'_> {
    /// Looks at the bundle of `record` once: asks for the checks the bisection needs next that
    /// were not asked for yet, and reads those that were, replaying until the verdict or until
    /// every trial it needs is pending.
    pub async fn advance(&self, record: &BundleRecord) -> AppResult<Progress> {
        let members: Vec<u64> = record.members.iter().map(|m| m.issue).collect();
        let mut known: BTreeMap<Trial, bool> = BTreeMap::new();
        let mut trials: Vec<Checked> = Vec::new();
        loop {
            let bisection = bisect::bisect(&members, self.settings, |t| known.get(t).copied());
            let Next::Check { trials: wanted } = &bisection.next else {
                return Ok(Progress { bisection, trials });
            };
            let mut learned = false;
            for Wanted { trial, step, .. } in wanted {
                let checked = self.look(record, trial, *step).await?;
                if let Some(passed) = checked.passed {
                    known.insert(trial.clone(), passed);
                    learned = true;
                }
                trials.retain(|c| &c.trial != trial);
                trials.push(checked.checked);
            }
            if !learned {
                return Ok(Progress { bisection, trials });
            }
        }
    }

    /// Writes `trial`'s commit, asks for its checks unless they were asked for, and reads them.
    async fn look(&self, record: &BundleRecord, trial: &Trial, step: usize) -> AppResult<Look> {
        let name = format!("{}-{step}", record.branch);
        let commit = match write_trial_commit(self.merges, record, trial).await? {
            TrialCommit::Written(commit) => commit,
            TrialCommit::Conflict { member, paths } => {
                let failure = CheckFailure {
                    summary: format!(
                        "#{member} does not merge without the members left out: it conflicts in {}",
                        paths.join(", ")
                    ),
                    details: None,
                    tail: String::new(),
                };
                return Ok(Look::finished(trial, name, None, Some(failure)));
            }
        };
        let state = match self.checks.state(&commit).await? {
            CommitCheckState::NotStarted => {
                self.checks.request(&commit, &name).await?;
                self.checks.state(&commit).await?
            }
            state => state,
        };
        Ok(match state {
            CommitCheckState::NotStarted | CommitCheckState::Pending => Look {
                passed: None,
                checked: Checked {
                    trial: trial.clone(),
                    name,
                    commit: Some(commit),
                    failure: None,
                },
            },
            CommitCheckState::Passed => Look::finished(trial, name, Some(commit), None),
            CommitCheckState::Failed(failure) => {
                Look::finished(trial, name, Some(commit), Some(failure))
            }
        })
    }
}

/// One trial looked at: its result when it has one.
struct Look {
    passed: Option<bool>,
    checked: Checked,
}

impl Look {
    fn finished(
        trial: &Trial,
        name: String,
        commit: Option<String>,
        failure: Option<CheckFailure>,
    ) -> Self {
        Self {
            passed: Some(failure.is_none()),
            checked: Checked {
                trial: trial.clone(),
                name,
                commit,
                failure,
            },
        }
    }
}

#[cfg(test)]
mod tests;
