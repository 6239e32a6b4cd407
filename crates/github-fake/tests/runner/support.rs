//! A bare repository with one commit, a `bin` directory for the test's commands, a runner
//! over a work root, and a recording [`RunEvents`] to wait on and inspect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use clambake_github_fake::runner::{RunnerConfig, WorkflowRunner};
use clambake_github_fake::runner_contract::{Outcome, RunControl, RunEvents, RunSpec, Runner};
use serde_json::Value;
use tempfile::TempDir;

pub const TOKEN: &str = "ghs_faketoken123";

/// Long enough for a loaded two-core machine; no test waits for it unless something broke.
const PATIENCE: Duration = Duration::from_secs(120);

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// An artifact's files: path inside it, contents.
pub type Files = Vec<(String, Vec<u8>)>;

/// One event, as the runner reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    JobStarted(String, Vec<String>),
    StepStarted(String, usize),
    StepFinished(String, usize, Outcome, String),
    Summary(String, String),
    Artifact(String, Files),
    JobFinished(String, Outcome),
    RunFinished(Outcome),
}

#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    changed: Condvar,
}

impl Recorder {
    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
        self.changed.notify_all();
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until an event satisfies `done`, and returns it.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Event) -> bool) -> Event {
        let until = Instant::now() + PATIENCE;
        let mut events = self.events.lock().unwrap();
        loop {
            if let Some(event) = events.iter().find(|event| done(event)) {
                return event.clone();
            }
            let left = until.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} in {:#?}", *events);
            events = self.changed.wait_timeout(events, left).unwrap().0;
        }
    }

    /// Waits for the run to finish; its outcome.
    pub fn finished(&self) -> Outcome {
        match self.wait_for("run_finished", |e| matches!(e, Event::RunFinished(_))) {
            Event::RunFinished(outcome) => outcome,
            _ => unreachable!(),
        }
    }

    pub fn job_steps(&self, job: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .find_map(|event| match event {
                Event::JobStarted(name, steps) if name == job => Some(steps),
                _ => None,
            })
            .unwrap_or_else(|| panic!("job {job} never started: {:#?}", self.events()))
    }

    /// Step `index` of `job`: its conclusion and log.
    pub fn step(&self, job: &str, index: usize) -> (Outcome, String) {
        self.events()
            .into_iter()
            .find_map(|event| match event {
                Event::StepFinished(name, i, outcome, log) if name == job && i == index => {
                    Some((outcome, log))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("step {index} of {job} never finished: {:#?}", self.events()))
    }

    pub fn job(&self, job: &str) -> Outcome {
        self.events()
            .into_iter()
            .find_map(|event| match event {
                Event::JobFinished(name, outcome) if name == job => Some(outcome),
                _ => None,
            })
            .unwrap_or_else(|| panic!("job {job} never finished: {:#?}", self.events()))
    }

    pub fn artifacts(&self) -> Vec<(String, Files)> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Artifact(name, files) => Some((name, files)),
                _ => None,
            })
            .collect()
    }

    pub fn summaries(&self, job: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Summary(name, markdown) if name == job => Some(markdown),
                _ => None,
            })
            .collect()
    }
}

impl RunEvents for Recorder {
    fn job_started(&self, _run: u64, job: &str, steps: &[String]) {
        self.push(Event::JobStarted(job.to_string(), steps.to_vec()));
    }
    fn step_started(&self, _run: u64, job: &str, index: usize) {
        self.push(Event::StepStarted(job.to_string(), index));
    }
    fn step_finished(&self, _run: u64, job: &str, index: usize, outcome: Outcome, log: &str) {
        self.push(Event::StepFinished(
            job.to_string(),
            index,
            outcome,
            log.to_string(),
        ));
    }
    fn summary(&self, _run: u64, job: &str, markdown: &str) {
        self.push(Event::Summary(job.to_string(), markdown.to_string()));
    }
    fn artifact(&self, _run: u64, name: &str, files: Files) {
        self.push(Event::Artifact(name.to_string(), files));
    }
    fn job_finished(&self, _run: u64, job: &str, outcome: Outcome) {
        self.push(Event::JobFinished(job.to_string(), outcome));
    }
    fn run_finished(&self, _run: u64, outcome: Outcome) {
        self.push(Event::RunFinished(outcome));
    }
}

/// A repository and a runner to run workflows against it.
pub struct Bench {
    pub dir: TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
    pub bin: PathBuf,
    pub sha: String,
    pub config: RunnerConfig,
    /// Kept for the bench's life: a runner dropped cancels its runs.
    runner: WorkflowRunner,
}

impl Bench {
    pub fn new() -> Bench {
        let dir = TempDir::new().unwrap();
        let bare = dir.path().join("origin.git");
        let work = dir.path().join("work");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        git(
            dir.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                bare.to_str().unwrap(),
            ],
        );
        git(
            dir.path(),
            &[
                "clone",
                "--quiet",
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        std::fs::write(work.join("README"), "hello\n").unwrap();
        git(&work, &["add", "README"]);
        git(&work, &["commit", "--quiet", "-m", "first"]);
        git(&work, &["push", "--quiet", "origin", "HEAD:main"]);
        let sha = git(&work, &["rev-parse", "HEAD"]);
        let mut config = RunnerConfig::new(dir.path().join("runs"));
        config.path = vec![bin.clone()];
        config.grace = Duration::from_millis(300);
        Bench {
            dir,
            bare,
            work,
            bin,
            sha,
            runner: WorkflowRunner::new(config.clone()),
            config,
        }
    }

    /// The bench with a runner made anew from its `config`, after a test changed it.
    pub fn rebuilt(self) -> Bench {
        Bench {
            runner: WorkflowRunner::new(self.config.clone()),
            ..self
        }
    }

    /// Puts an executable `name` in the test's `bin` directory, first on the steps' PATH.
    pub fn command(&self, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin.join(name);
        std::fs::write(&path, format!("#!/bin/bash\n{script}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn spec(&self, yaml: &str, inputs: &[(&str, Value)]) -> RunSpec {
        RunSpec {
            run_id: 7001,
            run_number: 3,
            event: "workflow_dispatch".to_string(),
            workflow_path: ".github/workflows/test.yml".to_string(),
            workflow_yaml: yaml.to_string(),
            git_ref: "main".to_string(),
            sha: self.sha.clone(),
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            owner: "clambake".to_string(),
            repo: "demo".to_string(),
            bare_repo: self.bare.clone(),
            api_url: "http://127.0.0.1:9".to_string(),
            token: TOKEN.to_string(),
        }
    }

    /// Starts a run of `yaml` with `inputs`; its recorder and its control.
    pub fn start(
        &self,
        yaml: &str,
        inputs: &[(&str, Value)],
    ) -> (Arc<Recorder>, Box<dyn RunControl>) {
        self.start_spec(self.spec(yaml, inputs))
    }

    /// Starts the run `spec`; its recorder and its control.
    pub fn start_spec(&self, spec: RunSpec) -> (Arc<Recorder>, Box<dyn RunControl>) {
        let recorder = Arc::new(Recorder::default());
        let control = self.runner.start(spec, recorder.clone());
        (recorder, control)
    }

    /// Runs `yaml` to its end.
    pub fn run(&self, yaml: &str, inputs: &[(&str, Value)]) -> Arc<Recorder> {
        let (recorder, _control) = self.start(yaml, inputs);
        recorder.finished();
        recorder
    }
}
