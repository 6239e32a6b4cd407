//! Bisecting a bundle whose checks fail, as the merge queues do, replayed from the results known
//! so far: the same members, settings and results always give the same next trials, so a
//! restart (or another machine) recomputes the steps instead of storing them.
//!
//! The whole bundle is checked first; a failure is rerun up to `retry_flaky` times (a pass blames
//! nobody). Then the members after the known-good prefix are split into `parallel + 1` parts,
//! each part checked on top of the parts before it (`parallel` trials at once; the last is known
//! to fail), the parts before the first failure kept, the failing part split again until one
//! member is left: a culprit. It is taken out and the members after it are checked on top of
//! the good prefix, so a second culprit is found too. When the first member fails alone on the
//! base, the base is checked alone: a broken base blames nobody.

use serde::{Deserialize, Serialize};

/// An issue number: a member of the bundle.
pub type Number = u64;

/// One check: the base with `members` merged onto it in bundle order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Trial {
    /// A selection of the bundle's members, in bundle order (empty: the base alone).
    pub members: Vec<Number>,
    /// 0 for the first check of these members; reruns count up.
    pub run: u32,
}

/// How a failing bundle is bisected (`[checks] retry_flaky` and `parallel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Reruns of the whole bundle before anyone is blamed.
    pub retry_flaky: u32,
    /// Trials checked at once while bisecting (at least 1).
    pub parallel: u32,
}

/// What a trial was for, for a person reading the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The whole bundle, first time.
    Bundle,
    /// The whole bundle again, in case the failure was flaky.
    Rerun,
    /// Part of the members on top of the parts before it.
    Part,
    /// The members after a culprit, on top of the good prefix.
    Rest,
    /// The base alone, because the first member failed alone on it.
    Base,
}

/// One finished check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub trial: Trial,
    pub purpose: Purpose,
    pub passed: bool,
}

/// How the bisection ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Verdict {
    /// The members that broke the checks, in bundle order.
    pub culprits: Vec<Number>,
    /// The others, in bundle order: the bundle to offer.
    pub kept: Vec<Number>,
    /// The bundle failed, then passed when rerun: nobody is blamed.
    pub flaky_rerun_passed: bool,
    /// The base fails on its own: nobody is blamed.
    pub base_broken: bool,
}

impl Verdict {
    /// The whole bundle passed (at once or on a rerun), or nobody could be blamed.
    pub fn blames_nobody(&self) -> bool {
        self.culprits.is_empty()
    }
}

/// A trial to check, with the number its step will have (its place among the steps, from 1):
/// the same wherever the replay stops, so it can name the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wanted {
    pub trial: Trial,
    pub purpose: Purpose,
    pub step: usize,
}

/// Where a bisection stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Next {
    /// These trials have no result yet: check them (all at once).
    Check {
        trials: Vec<Wanted>,
    },
    Done {
        verdict: Verdict,
    },
}

/// The finished steps, in the order they were asked for, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bisection {
    pub steps: Vec<Step>,
    pub next: Next,
}

/// Replays the bisection of `members` (in bundle order) from the results known so far
/// (`None`: not checked yet, or still running).
pub fn bisect(
    members: &[Number],
    settings: Settings,
    result: impl Fn(&Trial) -> Option<bool>,
) -> Bisection {
    Replay {
        result,
        steps: Vec::new(),
    }
    .run(members, settings)
}

/// Walks the bisection, recording finished steps, until a trial without a result.
struct Replay<F> {
    result: F,
    steps: Vec<Step>,
}

impl<F: Fn(&Trial) -> Option<bool>> Replay<F> {
    fn run(mut self, members: &[Number], settings: Settings) -> Bisection {
        let next = match self.walk(members, settings) {
            Ok(verdict) => Next::Done { verdict },
            Err(trials) => Next::Check { trials },
        };
        Bisection {
            steps: self.steps,
            next,
        }
    }

    /// Looks `trial` up, recording it as a step when it has a result.
    fn check(&mut self, trial: Trial, purpose: Purpose) -> Result<bool, Vec<Wanted>> {
        match (self.result)(&trial) {
            Some(passed) => {
                self.steps.push(Step {
                    trial,
                    purpose,
                    passed,
                });
                Ok(passed)
            }
            None => Err(vec![Wanted {
                trial,
                purpose,
                step: self.steps.len() + 1,
            }]),
        }
    }

    /// The verdict, or the trials to check before it can go on.
    fn walk(&mut self, members: &[Number], settings: Settings) -> Result<Verdict, Vec<Wanted>> {
        let whole = |run| Trial {
            members: members.to_vec(),
            run,
        };
        if self.check(whole(0), Purpose::Bundle)? {
            return Ok(Verdict {
                kept: members.to_vec(),
                ..Verdict::default()
            });
        }
        for run in 1..=settings.retry_flaky {
            if self.check(whole(run), Purpose::Rerun)? {
                return Ok(Verdict {
                    kept: members.to_vec(),
                    flaky_rerun_passed: true,
                    ..Verdict::default()
                });
            }
        }
        let parts = settings.parallel.max(1) as usize + 1;
        let mut good: Vec<Number> = Vec::new();
        let mut culprits = Vec::new();
        // `suspect` fails on top of `good`; `rest` comes after it, not yet judged.
        let mut suspect = members.to_vec();
        let mut rest: Vec<Number> = Vec::new();
        loop {
            if suspect.is_empty() {
                if rest.is_empty() {
                    return Ok(Verdict {
                        culprits,
                        kept: good,
                        ..Verdict::default()
                    });
                }
                let trial = Trial {
                    members: [good.as_slice(), rest.as_slice()].concat(),
                    run: 0,
                };
                if self.check(trial, Purpose::Rest)? {
                    good.append(&mut rest);
                } else {
                    suspect = std::mem::take(&mut rest);
                }
                continue;
            }
            if let [culprit] = suspect[..] {
                if good.is_empty() && culprits.is_empty() {
                    let base = Trial {
                        members: Vec::new(),
                        run: 0,
                    };
                    if !self.check(base, Purpose::Base)? {
                        return Ok(Verdict {
                            kept: members.to_vec(),
                            base_broken: true,
                            ..Verdict::default()
                        });
                    }
                }
                culprits.push(culprit);
                suspect.clear();
                continue;
            }
            let failing = self.split_round(&good, &suspect, parts)?;
            let (start, end) = split(&suspect, parts)[failing];
            good.extend_from_slice(&suspect[..start]);
            rest.splice(0..0, suspect[end..].iter().copied());
            suspect = suspect[start..end].to_vec();
        }
    }

    /// Checks each part of `suspect` but the last on top of the parts before it, all at once;
    /// the index of the first failing part (the last when the others pass).
    fn split_round(
        &mut self,
        good: &[Number],
        suspect: &[Number],
        parts: usize,
    ) -> Result<usize, Vec<Wanted>> {
        let bounds = split(suspect, parts);
        let trials: Vec<Trial> = bounds[..bounds.len() - 1]
            .iter()
            .map(|&(_, end)| Trial {
                members: [good, &suspect[..end]].concat(),
                run: 0,
            })
            .collect();
        let results: Vec<Option<bool>> = trials.iter().map(|t| (self.result)(t)).collect();
        let first_failure = results.iter().position(|r| *r == Some(false));
        let decided = first_failure.unwrap_or(trials.len());
        if results[..decided].iter().any(Option::is_none) {
            let before = self.steps.len();
            return Err(trials
                .into_iter()
                .zip(&results)
                .enumerate()
                .take(decided)
                .filter(|(_, (_, r))| r.is_none())
                .map(|(index, (trial, _))| Wanted {
                    trial,
                    purpose: Purpose::Part,
                    step: before + index + 1,
                })
                .collect());
        }
        let finished = first_failure.map_or(trials.len(), |i| i + 1);
        for (trial, result) in trials.into_iter().zip(results).take(finished) {
            self.steps.push(Step {
                trial,
                purpose: Purpose::Part,
                passed: result.unwrap_or(false),
            });
        }
        Ok(first_failure.unwrap_or(bounds.len() - 1))
    }
}

/// `items` split into at most `parts` contiguous, non-empty, nearly equal parts: their
/// `(start, end)` bounds.
fn split(items: &[Number], parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.min(items.len()).max(1);
    (0..parts)
        .map(|i| (i * items.len() / parts, (i + 1) * items.len() / parts))
        .collect()
}

#[cfg(test)]
mod tests;
