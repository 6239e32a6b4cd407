//! One job: its environment, its steps in order with their `if:`, `env:`, timeouts and
//! `continue-on-error`, the files each step talks back through, and the job's conclusion.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use serde_yaml_ng::Value as Yaml;

use super::command_files;
use super::expression::{self, Scope, Status};
use super::run::{JobDirs, Run};
use super::steps::{self, StepCall};
use super::workflow::{Job, RunDefaults, Step, scalar};
use crate::runner_contract::Outcome;

/// GitHub's default for a job's `timeout-minutes`.
const DEFAULT_TIMEOUT_MINUTES: f64 = 360.0;

/// Reports a job that failed before its first step, with one step saying why.
pub fn fail_before_start(run: &Run, name: &str, error: &str) -> Outcome {
    let id = run.spec.run_id;
    run.events
        .job_started(id, name, &["Set up job".to_string()]);
    run.events.step_started(id, name, 0);
    run.events.step_finished(
        id,
        name,
        0,
        Outcome::Failure,
        &format!("##[error]{error}\n"),
    );
    Outcome::Failure
}

/// Runs the job `id`, reported as `name`; returns its conclusion (`job_finished` is the
/// caller's).
pub fn run(
    run: &Run,
    job: &Job,
    id: &str,
    name: &str,
    dirs: &JobDirs,
    contexts: Map<String, Value>,
) -> Outcome {
    if let Some(what) = job.unsupported() {
        return fail_before_start(
            run,
            name,
            &format!("the fake's runner does not emulate {what}"),
        );
    }
    for dir in [&dirs.workspace, &dirs.temp, &dirs.home] {
        if let Err(error) = std::fs::create_dir_all(dir) {
            return fail_before_start(run, name, &format!("{}: {error}", dir.display()));
        }
    }
    let mut state = JobState {
        run,
        job,
        id,
        name,
        dirs,
        contexts,
        env: BTreeMap::new(),
        paths: Vec::new(),
        steps: Map::new(),
        status: Status::Success,
        timed_out: false,
        cancel_counts: !run.cancel.is_cancelled(),
        summary: String::new(),
    };
    let prepared = state.prepare();
    let (names, deadline) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return fail_before_start(run, name, &error),
    };
    let shown: Vec<String> = names
        .iter()
        .zip(&job.steps)
        .map(|(name, step)| name.clone().unwrap_or_else(|_| step.display_name()))
        .collect();
    run.events.job_started(run.spec.run_id, name, &shown);
    for (index, (step, step_name)) in job.steps.iter().zip(names).enumerate() {
        state.step(index, step, step_name, deadline);
    }
    if state.cancelled() {
        Outcome::Cancelled
    } else if state.timed_out || state.status != Status::Success {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// A step's name with its expressions expanded, or why they cannot be.
type StepName = Result<String, String>;

struct JobState<'a> {
    run: &'a Run<'a>,
    job: &'a Job,
    id: &'a str,
    name: &'a str,
    dirs: &'a JobDirs,
    /// Every context but `env` and `steps`, which change from step to step.
    contexts: Map<String, Value>,
    /// The workflow's and the job's `env:`, then what steps wrote to `$GITHUB_ENV`.
    env: BTreeMap<String, String>,
    /// What steps wrote to `$GITHUB_PATH`, latest first.
    paths: Vec<String>,
    steps: Map<String, Value>,
    status: Status,
    timed_out: bool,
    /// Whether a cancel of the run stops this job: not when it started after the cancel (an
    /// `always()` job), which runs as any other, as on GitHub.
    cancel_counts: bool,
    /// The job summary so far.
    summary: String,
}

impl JobState<'_> {
    /// Evaluates the job's environment, its steps' names and its deadline.
    fn prepare(&mut self) -> Result<(Vec<StepName>, Instant), String> {
        for map in [&self.run.workflow.env, &self.job.env] {
            let evaluated = self.evaluate_env(map)?;
            self.env.extend(evaluated);
        }
        let scope_contexts = self.scope_contexts(&self.env);
        let scope = Scope {
            contexts: &scope_contexts,
            status: Status::Success,
        };
        let names = self
            .job
            .steps
            .iter()
            .map(|step| expression::expand(&step.display_name(), &scope))
            .collect();
        let minutes = match &self.job.timeout_minutes {
            Some(value) => minutes(value, &scope)?,
            None => DEFAULT_TIMEOUT_MINUTES,
        };
        Ok((
            names,
            Instant::now() + Duration::from_secs_f64(minutes * 60.0),
        ))
    }

    fn evaluate_env(&self, map: &IndexMap<String, Yaml>) -> Result<Vec<(String, String)>, String> {
        let contexts = self.scope_contexts(&self.env);
        let scope = Scope {
            contexts: &contexts,
            status: self.status,
        };
        map.iter()
            .map(|(name, value)| {
                let text = scalar(value).map_err(|error| format!("env {name}: {error}"))?;
                let value = expression::expand(&text, &scope)
                    .map_err(|error| format!("env {name}: {error}"))?;
                Ok((name.clone(), value))
            })
            .collect()
    }

    fn scope_contexts(&self, env: &BTreeMap<String, String>) -> Map<String, Value> {
        let mut contexts = self.contexts.clone();
        let env: Map<String, Value> = env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        contexts.insert("env".to_string(), Value::Object(env));
        contexts.insert("steps".to_string(), Value::Object(self.steps.clone()));
        let status = match self.status {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
        };
        contexts.insert("job".to_string(), json!({ "status": status }));
        contexts
    }

    fn step(&mut self, index: usize, step: &Step, name: StepName, job_deadline: Instant) {
        let (run_id, events) = (self.run.spec.run_id, self.run.events);
        if self.cancelled() {
            self.status = Status::Cancelled;
        }
        if !self.timed_out && Instant::now() >= job_deadline {
            self.timed_out = true;
            self.status = Status::Cancelled;
        }
        events.step_started(run_id, self.name, index);
        let (outcome, log) = match name.and_then(|_| self.should_run(step)) {
            Ok(true) => self.execute(index, step, job_deadline),
            Ok(false) => (Outcome::Skipped, String::new()),
            Err(error) => (Outcome::Failure, format!("##[error]{error}\n")),
        };
        let continues = outcome == Outcome::Failure && self.continues_on_error(step);
        let conclusion = if continues { Outcome::Success } else { outcome };
        if let Some(id) = &step.id {
            let outputs = self
                .steps
                .get(id)
                .and_then(|entry| entry.get("outputs").cloned())
                .unwrap_or(json!({}));
            let entry = json!({
                "outcome": outcome.as_str(),
                "conclusion": conclusion.as_str(),
                "outputs": outputs,
            });
            self.steps.insert(id.clone(), entry);
        }
        if conclusion == Outcome::Failure && self.status == Status::Success {
            self.status = Status::Failure;
        }
        events.step_finished(run_id, self.name, index, conclusion, &self.mask(&log));
    }

    /// Whether the run was cancelled since this job started.
    fn cancelled(&self) -> bool {
        self.cancel_counts && self.run.cancel.is_cancelled()
    }

    fn should_run(&self, step: &Step) -> Result<bool, String> {
        let contexts = self.scope_contexts(&self.env);
        let scope = Scope {
            contexts: &contexts,
            status: self.status,
        };
        match &step.condition {
            Some(condition) => expression::condition(&scalar(condition)?, &scope),
            None => Ok(self.status == Status::Success),
        }
    }

    fn continues_on_error(&self, step: &Step) -> bool {
        let contexts = self.scope_contexts(&self.env);
        let scope = Scope {
            contexts: &contexts,
            status: self.status,
        };
        step.continue_on_error.as_ref().is_some_and(|value| {
            scalar(value)
                .and_then(|text| expression::expand(&text, &scope))
                .is_ok_and(|text| text == "true")
        })
    }

    /// Runs a step whose `if:` held; returns its outcome and log, and takes in what it wrote
    /// to its command files.
    fn execute(&mut self, index: usize, step: &Step, job_deadline: Instant) -> (Outcome, String) {
        let files = match self.command_files(index) {
            Ok(files) => files,
            Err(error) => return (Outcome::Failure, format!("##[error]{error}\n")),
        };
        let prepared = self.step_env(step, &files).and_then(|env| {
            let contexts = self.scope_contexts(&self.env);
            let scope = Scope {
                contexts: &contexts,
                status: self.status,
            };
            let deadline = match &step.timeout_minutes {
                Some(value) => {
                    let step_deadline =
                        Instant::now() + Duration::from_secs_f64(minutes(value, &scope)? * 60.0);
                    step_deadline.min(job_deadline)
                }
                None => job_deadline,
            };
            Ok((env, contexts, deadline))
        });
        let (env, contexts, deadline) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return (Outcome::Failure, format!("##[error]{error}\n")),
        };
        let defaults = self.run_defaults();
        let deadline = if self.timed_out { None } else { Some(deadline) };
        let call = StepCall {
            run: self.run,
            step,
            scope: &Scope {
                contexts: &contexts,
                status: self.status,
            },
            env: &env,
            dirs: self.dirs,
            defaults: &defaults,
            deadline,
            cancellable: self.cancel_counts && !self.run.cancel.is_cancelled(),
        };
        let (mut outcome, mut log) = steps::execute(&call);
        if deadline.is_some() && Instant::now() >= job_deadline && !self.cancelled() {
            self.timed_out = true;
            self.status = Status::Cancelled;
            outcome = Outcome::Cancelled;
            log.push_str("##[error]The job has exceeded its timeout-minutes.\n");
        }
        if let Err(error) = self.take_in(step, &files) {
            log.push_str(&format!("##[error]{error}\n"));
            outcome = Outcome::Failure;
        }
        (outcome, log)
    }

    /// The job's `defaults.run`, falling back on the workflow's.
    fn run_defaults(&self) -> RunDefaults {
        let (workflow, job) = (&self.run.workflow.defaults.run, &self.job.defaults.run);
        RunDefaults {
            shell: job.shell.clone().or(workflow.shell.clone()),
            working_directory: job
                .working_directory
                .clone()
                .or(workflow.working_directory.clone()),
        }
    }

    /// Fresh, empty command files for step `index`.
    fn command_files(&self, index: usize) -> Result<CommandFiles, String> {
        let dir = self.dirs.temp.join("_runner_file_commands");
        std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
        let file = |kind: &str| dir.join(format!("{kind}_{index}"));
        let files = CommandFiles {
            env: file("set_env"),
            output: file("set_output"),
            path: file("add_path"),
            summary: file("step_summary"),
        };
        for path in [&files.env, &files.output, &files.path, &files.summary] {
            std::fs::write(path, "").map_err(|error| format!("{}: {error}", path.display()))?;
        }
        Ok(files)
    }

    /// The whole environment of a step's processes.
    fn step_env(
        &self,
        step: &Step,
        files: &CommandFiles,
    ) -> Result<BTreeMap<String, String>, String> {
        let (spec, config, dirs) = (self.run.spec, self.run.config, self.dirs);
        let path = self
            .paths
            .iter()
            .cloned()
            .chain(config.path.iter().map(|dir| dir.display().to_string()))
            .chain(std::env::var("PATH").ok())
            .collect::<Vec<_>>()
            .join(":");
        let github = &self.contexts["github"];
        let text = |key: &str| github[key].as_str().unwrap_or_default().to_string();
        let display = |path: &std::path::Path| path.display().to_string();
        let mut env: BTreeMap<String, String> = [
            ("CI", "true".to_string()),
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_API_URL", spec.api_url.clone()),
            ("GITHUB_SERVER_URL", spec.api_url.clone()),
            ("GITHUB_GRAPHQL_URL", format!("{}/graphql", spec.api_url)),
            ("GITHUB_REPOSITORY", text("repository")),
            ("GITHUB_REPOSITORY_OWNER", spec.owner.clone()),
            ("GITHUB_RUN_ID", spec.run_id.to_string()),
            ("GITHUB_RUN_NUMBER", text("run_number")),
            ("GITHUB_RUN_ATTEMPT", "1".to_string()),
            ("GITHUB_WORKFLOW", text("workflow")),
            ("GITHUB_JOB", self.id.to_string()),
            ("GITHUB_ACTOR", spec.owner.clone()),
            ("GITHUB_WORKSPACE", display(&dirs.workspace)),
            ("GITHUB_REF", text("ref")),
            ("GITHUB_REF_NAME", text("ref_name")),
            ("GITHUB_REF_TYPE", "branch".to_string()),
            ("GITHUB_SHA", spec.sha.clone()),
            ("GITHUB_EVENT_NAME", text("event_name")),
            ("GITHUB_ENV", display(&files.env)),
            ("GITHUB_OUTPUT", display(&files.output)),
            ("GITHUB_PATH", display(&files.path)),
            ("GITHUB_STEP_SUMMARY", display(&files.summary)),
            ("RUNNER_OS", "Linux".to_string()),
            ("RUNNER_ARCH", "X64".to_string()),
            ("RUNNER_TEMP", display(&dirs.temp)),
            ("HOME", display(&dirs.home)),
            ("PATH", path),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(config.env.clone());
        env.extend(self.env.clone());
        env.extend(self.evaluate_env(&step.env)?);
        Ok(env)
    }

    /// Applies what the step wrote to `$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT` and
    /// `$GITHUB_STEP_SUMMARY`.
    fn take_in(&mut self, step: &Step, files: &CommandFiles) -> Result<(), String> {
        let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
        self.env.extend(command_files::pairs(&read(&files.env))?);
        for dir in command_files::paths(&read(&files.path)) {
            self.paths.insert(0, dir);
        }
        let outputs: Map<String, Value> = command_files::pairs(&read(&files.output))?
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        if let Some(id) = &step.id {
            self.steps
                .insert(id.clone(), json!({ "outputs": Value::Object(outputs) }));
        }
        let summary = read(&files.summary);
        if !summary.is_empty() {
            self.summary.push_str(&summary);
            let markdown = self.mask(&self.summary);
            self.run
                .events
                .summary(self.run.spec.run_id, self.name, &markdown);
        }
        Ok(())
    }

    /// `text` with every secret's value, and the run's token, written as `***`, as GitHub
    /// masks them in logs.
    fn mask(&self, text: &str) -> String {
        let secrets = self
            .run
            .config
            .secrets
            .values()
            .chain([&self.run.spec.token]);
        secrets
            .filter(|secret| !secret.is_empty())
            .fold(text.to_string(), |text, secret| {
                text.replace(secret.as_str(), "***")
            })
    }
}

struct CommandFiles {
    env: std::path::PathBuf,
    output: std::path::PathBuf,
    path: std::path::PathBuf,
    summary: std::path::PathBuf,
}

/// A `timeout-minutes` value: a number, or an expression giving one.
fn minutes(value: &Yaml, scope: &Scope) -> Result<f64, String> {
    let text = expression::expand(&scalar(value)?, scope)?;
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|minutes| *minutes > 0.0)
        .ok_or_else(|| format!("timeout-minutes is not a positive number: `{text}`"))
}
