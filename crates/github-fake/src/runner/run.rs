//! One run from start to end: the workflow read, its jobs carried out in `needs` order (a
//! job whose `if:` is false, or whose needs failed, skipped), and the run's conclusion.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::RunnerConfig;
use super::expression::{self, Scope, Status};
use super::job;
use super::process::CancelFlag;
use super::workflow::{self, Workflow, scalar};
use crate::runner_contract::{Outcome, RunEvents, RunSpec};

/// The event of a dispatched run.
const DISPATCH: &str = "workflow_dispatch";

/// What every job of a run shares.
pub struct Run<'a> {
    pub config: &'a RunnerConfig,
    pub spec: &'a RunSpec,
    pub events: &'a dyn RunEvents,
    pub cancel: &'a CancelFlag,
    pub workflow: &'a Workflow,
    /// The `inputs` context and `github.event.inputs`.
    inputs: (Value, Value),
    /// The names of the artifacts uploaded so far: a second one of a name is refused.
    pub artifacts: Mutex<BTreeSet<String>>,
}

/// Where a job runs.
pub struct JobDirs {
    pub workspace: PathBuf,
    pub temp: PathBuf,
    pub home: PathBuf,
}

/// Carries out `spec`'s run and reports it, ending with `run_finished`.
pub fn execute(config: &RunnerConfig, spec: &RunSpec, events: &dyn RunEvents, cancel: &CancelFlag) {
    let parsed = workflow::parse(&spec.workflow_yaml)
        .and_then(|workflow| workflow.job_order().map(|order| (workflow, order)));
    let outcome = match parsed {
        Ok((workflow, order)) => {
            let run = Run {
                config,
                spec,
                events,
                cancel,
                inputs: workflow.inputs(&spec.inputs, spec.event == DISPATCH),
                workflow: &workflow,
                artifacts: Mutex::new(BTreeSet::new()),
            };
            run.jobs(&order)
        }
        Err(error) => {
            // GitHub would show no job; one that says why keeps the logs useful.
            let step = format!("Read {}", spec.workflow_path);
            events.job_started(spec.run_id, "workflow", &[step]);
            events.step_started(spec.run_id, "workflow", 0);
            let log = format!("##[error]{error}\n");
            events.step_finished(spec.run_id, "workflow", 0, Outcome::Failure, &log);
            events.job_finished(spec.run_id, "workflow", Outcome::Failure);
            Outcome::Failure
        }
    };
    let outcome = if cancel.is_cancelled() {
        Outcome::Cancelled
    } else {
        outcome
    };
    events.run_finished(spec.run_id, outcome);
}

impl Run<'_> {
    fn jobs(&self, order: &[String]) -> Outcome {
        let mut results: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut failed = false;
        for id in order {
            let job = &self.workflow.jobs[id];
            let needs = job.needs();
            let status = if self.cancel.is_cancelled() {
                Status::Cancelled
            } else if needs.iter().any(|need| results[need] != Outcome::Success) {
                Status::Failure
            } else {
                Status::Success
            };
            let needs_context: Map<String, Value> = needs
                .iter()
                .map(|need| {
                    (
                        need.clone(),
                        json!({ "result": results[need].as_str(), "outputs": {} }),
                    )
                })
                .collect();
            let dirs = self.dirs(id);
            let mut contexts = self.contexts(id, &dirs);
            contexts.insert("needs".to_string(), Value::Object(needs_context));
            let scope = Scope {
                contexts: &contexts,
                status,
            };
            let name = match &job.name {
                Some(name) => expression::expand(name, &scope).unwrap_or_else(|_| name.clone()),
                None => id.clone(),
            };
            let condition = match &job.condition {
                Some(condition) => {
                    scalar(condition).and_then(|text| expression::condition(&text, &scope))
                }
                None => Ok(status == Status::Success),
            };
            let outcome = match condition {
                Ok(false) => {
                    self.events.job_started(self.spec.run_id, &name, &[]);
                    Outcome::Skipped
                }
                Ok(true) => job::run(self, job, id, &name, &dirs, contexts),
                Err(error) => job::fail_before_start(self, &name, &error),
            };
            self.events.job_finished(self.spec.run_id, &name, outcome);
            let continues = job
                .continue_on_error
                .as_ref()
                .and_then(|value| scalar(value).ok())
                .is_some_and(|value| value == "true");
            failed |= outcome == Outcome::Failure && !continues;
            results.insert(id.clone(), outcome);
        }
        if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    fn dirs(&self, job: &str) -> JobDirs {
        let root = self
            .config
            .work_root
            .join(format!("run-{}", self.spec.run_id))
            .join(job);
        JobDirs {
            workspace: root.join("work").join(&self.spec.repo),
            temp: root.join("temp"),
            home: root.join("home"),
        }
    }

    /// The contexts an expression in job `job` sees, but for `env`, `steps` and `needs`.
    fn contexts(&self, job: &str, dirs: &JobDirs) -> Map<String, Value> {
        let spec = self.spec;
        let mut secrets: Map<String, Value> = self
            .config
            .secrets
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        secrets.insert(
            "GITHUB_TOKEN".to_string(),
            Value::String(spec.token.clone()),
        );
        let github = github_context(spec, self.workflow, &self.inputs.1, job, &dirs.workspace);
        let runner = json!({
            "os": "Linux",
            "arch": "X64",
            "name": "clambake-fake-runner",
            "temp": dirs.temp.display().to_string(),
        });
        let mut contexts = Map::new();
        contexts.insert("github".to_string(), github);
        contexts.insert("inputs".to_string(), self.inputs.0.clone());
        contexts.insert("secrets".to_string(), Value::Object(secrets));
        contexts.insert("runner".to_string(), runner);
        contexts.insert("needs".to_string(), json!({}));
        contexts
    }
}

/// `spec`'s display title: `run_name` (the workflow's `run-name`) evaluated as GitHub does,
/// with the `github` and `inputs` contexts only and by this runner's evaluator, so that an
/// expression it cannot evaluate is an error naming it, never an empty string.
pub fn display_title(spec: &RunSpec, run_name: &str) -> Result<String, String> {
    let workflow = workflow::parse(&spec.workflow_yaml)?;
    let (inputs, event_inputs) = workflow.inputs(&spec.inputs, spec.event == DISPATCH);
    let mut github = github_context(spec, &workflow, &event_inputs, "", Path::new(""));
    if let Value::Object(github) = &mut github {
        // A job's, not a run's.
        github.remove("job");
        github.remove("workspace");
    }
    let mut contexts = Map::new();
    contexts.insert("github".to_string(), github);
    contexts.insert("inputs".to_string(), inputs);
    let scope = Scope {
        contexts: &contexts,
        status: Status::Success,
    };
    expression::expand(run_name, &scope).map_err(|error| format!("run-name: {error}"))
}

/// The `github` context of a job `job` whose workspace is `workspace`.
fn github_context(
    spec: &RunSpec,
    workflow: &Workflow,
    event_inputs: &Value,
    job: &str,
    workspace: &Path,
) -> Value {
    let branch = spec.git_ref.trim_start_matches("refs/heads/");
    let full_name = format!("{}/{}", spec.owner, spec.repo);
    let workflow_name = workflow.name.clone().unwrap_or(spec.workflow_path.clone());
    json!({
        "token": spec.token,
        "run_id": spec.run_id.to_string(),
        "run_number": spec.run_number.to_string(),
        "run_attempt": "1",
        "repository": full_name,
        "repository_owner": spec.owner,
        "ref": format!("refs/heads/{branch}"),
        "ref_name": branch,
        "ref_type": "branch",
        "sha": spec.sha,
        "event_name": spec.event,
        "workspace": workspace.display().to_string(),
        "server_url": spec.api_url,
        "api_url": spec.api_url,
        "actor": spec.owner,
        "workflow": workflow_name,
        "job": job,
        "event": {
            "inputs": event_inputs,
            "ref": format!("refs/heads/{branch}"),
            "workflow": spec.workflow_path,
            "repository": {
                "full_name": full_name,
                "name": spec.repo,
                "owner": { "login": spec.owner },
            },
        },
    })
}
