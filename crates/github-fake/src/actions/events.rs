//! What a runner reports, written into the runs: statuses, times, step logs, summaries and
//! artifacts move as GitHub's would.

use std::sync::{Arc, Weak};

use crate::runner_contract::{Outcome, RunEvents};
use crate::state::timestamp;

use super::{Actions, Artifact, Job, RunStatus, Step, Store, WorkflowRun, archives};

/// The [`RunEvents`] handed to the runner. It holds the runs weakly: a runner that outlives
/// the fake reports into nothing.
pub struct Recorder {
    actions: Weak<Actions>,
}

impl Recorder {
    pub fn new(actions: &Arc<Actions>) -> Recorder {
        Recorder {
            actions: Arc::downgrade(actions),
        }
    }

    /// Applies `change` to the run if it is still going; it is then updated now.
    fn change(&self, run_id: u64, change: impl FnOnce(&mut Store, &mut WorkflowRun)) {
        let Some(actions) = self.actions.upgrade() else {
            return;
        };
        let mut store = actions.lock();
        let Some(mut run) = store.runs.remove(&run_id) else {
            return;
        };
        if run.status != RunStatus::Completed {
            change(&mut store, &mut run);
            run.updated_at = timestamp();
        }
        store.runs.insert(run_id, run);
    }

    /// Applies `change` to the run's job named `job`, if it started.
    fn change_job(&self, run_id: u64, job: &str, change: impl FnOnce(&mut Job)) {
        self.change(run_id, |_, run| {
            if let Some(job) = run.jobs.iter_mut().rev().find(|j| j.name == job) {
                change(job);
            }
        });
    }
}

/// Ends whatever of `job` has not ended: a step that was running ends as the job did, one
/// that never started is skipped.
fn end_job(job: &mut Job, outcome: Outcome, now: &str) {
    for step in &mut job.steps {
        match step.status {
            RunStatus::Completed => {}
            RunStatus::InProgress => {
                step.status = RunStatus::Completed;
                step.conclusion = Some(outcome);
                step.completed_at = Some(now.to_string());
            }
            RunStatus::Queued => {
                step.status = RunStatus::Completed;
                step.conclusion = Some(Outcome::Skipped);
            }
        }
    }
    if job.status != RunStatus::Completed {
        job.status = RunStatus::Completed;
        job.conclusion = Some(outcome);
        job.completed_at = Some(now.to_string());
    }
}

/// Completes `run` with `outcome`, ending its jobs.
pub fn finish_run(run: &mut WorkflowRun, outcome: Outcome) {
    let now = timestamp();
    for job in &mut run.jobs {
        end_job(job, outcome, &now);
    }
    run.status = RunStatus::Completed;
    run.conclusion = Some(outcome);
    run.updated_at = now;
}

/// `log` with GitHub's timestamp before each line.
fn stamped(log: &str) -> String {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.7fZ");
    log.lines().map(|line| format!("{now} {line}\n")).collect()
}

impl RunEvents for Recorder {
    fn job_started(&self, run_id: u64, job: &str, steps: &[String]) {
        self.change(run_id, |store, run| {
            let now = timestamp();
            run.status = RunStatus::InProgress;
            run.jobs.push(Job {
                id: store.take_id(),
                name: job.to_string(),
                status: RunStatus::InProgress,
                conclusion: None,
                started_at: now,
                completed_at: None,
                steps: steps
                    .iter()
                    .zip(1..)
                    .map(|(name, number)| Step {
                        number,
                        name: name.clone(),
                        status: RunStatus::Queued,
                        conclusion: None,
                        started_at: None,
                        completed_at: None,
                        log: String::new(),
                    })
                    .collect(),
            });
        });
    }

    fn step_started(&self, run_id: u64, job: &str, index: usize) {
        self.change_job(run_id, job, |job| {
            if let Some(step) = job.steps.get_mut(index) {
                step.status = RunStatus::InProgress;
                step.started_at = Some(timestamp());
            }
        });
    }

    fn step_finished(&self, run_id: u64, job: &str, index: usize, outcome: Outcome, log: &str) {
        self.change_job(run_id, job, |job| {
            if let Some(step) = job.steps.get_mut(index) {
                let now = timestamp();
                step.started_at.get_or_insert_with(|| now.clone());
                step.status = RunStatus::Completed;
                step.conclusion = Some(outcome);
                step.completed_at = Some(now);
                step.log.push_str(&stamped(log));
            }
        });
    }

    fn summary(&self, run_id: u64, job: &str, markdown: &str) {
        self.change(run_id, |_, run| {
            match run.summaries.iter_mut().find(|(name, _)| name == job) {
                Some((_, kept)) => *kept = markdown.to_string(),
                None => run.summaries.push((job.to_string(), markdown.to_string())),
            }
        });
    }

    fn artifact(&self, run_id: u64, name: &str, files: Vec<(String, Vec<u8>)>) {
        let zip = archives::zip(files.iter().map(|(path, bytes)| (path.clone(), &bytes[..])));
        self.change(run_id, |store, run| {
            run.artifacts.push(Artifact {
                id: store.take_id(),
                name: name.to_string(),
                files,
                created_at: timestamp(),
                zip,
            });
        });
    }

    fn job_finished(&self, run_id: u64, job: &str, outcome: Outcome) {
        self.change_job(run_id, job, |job| end_job(job, outcome, &timestamp()));
    }

    fn run_finished(&self, run_id: u64, outcome: Outcome) {
        self.change(run_id, |_, run| finish_run(run, outcome));
        // Dropped once the lock is released: a control may report as it goes.
        let control = self
            .actions
            .upgrade()
            .and_then(|actions| actions.lock().controls.remove(&run_id));
        drop(control);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_githubs_timestamp() {
        let stamp =
            regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z one$").unwrap();
        let log = stamped("one\none\n");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| stamp.is_match(line)), "{log}");
    }
}
