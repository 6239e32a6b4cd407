//! What the Actions tests share: workflow files pushed to the fake, waiting for a run, and a
//! scripted [`Runner`] of the tests' own that reports as a real one would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use clambake_github_fake::runner_contract::{Outcome, RunControl, RunEvents, RunSpec, Runner};
use clambake_github_fake::{RunStatus, WorkflowRun};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Harness, git};

/// A dispatchable, scheduled workflow whose `outcome` input tells [`ScriptedRunner`] how
/// the run goes.
pub const TEST_WORKFLOW: &str = "\
name: Test workflow
run-name: Test ${{ inputs.dispatch_key }} (${{ github.event.inputs.outcome }})
on:
  schedule:
    - cron: '*/10 * * * *'
  workflow_dispatch:
    inputs:
      outcome:
        type: choice
        options: [success, failure, hang, stay-queued]
        default: success
      dispatch_key:
        required: false
        default: ''
      issue:
        required: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - id: clambake
        run: echo testing
      - uses: actions/upload-artifact@v5
";

/// A workflow that needs an input.
pub const NEEDS_ISSUE: &str = "\
on:
  workflow_dispatch:
    inputs:
      issue:
        required: true
jobs:
  go:
    runs-on: ubuntu-latest
    steps:
      - run: echo go
";

/// A workflow that only runs on pushes.
pub const PUSH_ONLY: &str = "\
name: CI
on: push
jobs:
  ci:
    runs-on: ubuntu-latest
    steps:
      - run: echo ci
";

/// The steps [`ScriptedRunner`] reports, in order.
pub const STEPS: [&str; 3] = ["Run actions/checkout@v5", "Run clambake", "Upload artifact"];

impl Harness {
    /// Commits the workflow files (name, YAML) and pushes `main`.
    pub fn push_workflows(&self, workflows: &[(&str, &str)]) -> String {
        std::fs::create_dir_all(self.work.join(".github/workflows")).unwrap();
        let mut sha = String::new();
        for (file, yaml) in workflows {
            sha = self.commit(&format!(".github/workflows/{file}"), yaml, file);
        }
        git(&self.work, &["push", "--quiet", "origin", "HEAD:main"]);
        sha
    }

    /// Dispatches `file` on `main` asking for the run's details; returns the run's id.
    pub async fn dispatch(&self, file: &str, inputs: Value) -> u64 {
        let path = self.repo(&format!("/actions/workflows/{file}/dispatches"));
        let body = json!({ "ref": "main", "inputs": inputs, "return_run_details": true });
        let answer = self.expect(Method::POST, &path, body, 200).await;
        answer["workflow_run_id"].as_u64().unwrap()
    }

    /// Waits (a minute at most) until the run satisfies `done`.
    pub async fn wait_for_run(&self, id: u64, done: impl Fn(&WorkflowRun) -> bool) -> WorkflowRun {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = self.fake.run(id).expect("the run exists");
            if done(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} never got there: {run:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_for_completion(&self, id: u64) -> WorkflowRun {
        self.wait_for_run(id, |run| run.status == RunStatus::Completed)
            .await
    }
}

/// A runner that plays one job, `build`, of three steps: it checks out, runs (failing when
/// the `outcome` input says `failure`, or waiting to be cancelled when it says `hang`) and
/// uploads an artifact; it writes a job summary on the way. With `stay-queued` it starts no
/// job and waits to be cancelled.
#[derive(Default)]
pub struct ScriptedRunner {
    /// Every run it was handed.
    pub started: Mutex<Vec<RunSpec>>,
    /// How many times it was told to cancel a run.
    pub cancels: Arc<AtomicUsize>,
}

/// Set once the run is cancelled.
#[derive(Default)]
struct Cancelled {
    flag: Mutex<bool>,
    changed: Condvar,
}

struct Control {
    cancelled: Arc<Cancelled>,
    cancels: Arc<AtomicUsize>,
}

impl RunControl for Control {
    fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        *self.cancelled.flag.lock().unwrap() = true;
        self.cancelled.changed.notify_all();
    }
}

impl Runner for ScriptedRunner {
    fn start(&self, spec: RunSpec, events: Arc<dyn RunEvents>) -> Box<dyn RunControl> {
        self.started.lock().unwrap().push(spec.clone());
        let cancelled = Arc::new(Cancelled::default());
        let control = Control {
            cancelled: cancelled.clone(),
            cancels: self.cancels.clone(),
        };
        std::thread::spawn(move || play(&spec, &*events, &cancelled));
        Box::new(control)
    }
}

fn play(spec: &RunSpec, events: &dyn RunEvents, cancelled: &Cancelled) {
    let id = spec.run_id;
    let outcome = spec.inputs.get("outcome").and_then(Value::as_str);
    if outcome == Some("stay-queued") {
        wait_for_cancel(cancelled);
        events.run_finished(id, Outcome::Cancelled);
        return;
    }
    let steps: Vec<String> = STEPS.iter().map(|step| step.to_string()).collect();
    events.job_started(id, "build", &steps);
    events.step_started(id, "build", 0);
    let checkout = format!("Checking out {}\nHEAD is now at {}", spec.git_ref, spec.sha);
    events.step_finished(id, "build", 0, Outcome::Success, &checkout);
    events.step_started(id, "build", 1);
    events.summary(id, "build", "## Plan\n");
    let ended = match outcome {
        Some("hang") => {
            wait_for_cancel(cancelled);
            events.step_finished(id, "build", 1, Outcome::Cancelled, "stopped\n");
            Outcome::Cancelled
        }
        Some("failure") => {
            events.step_finished(id, "build", 1, Outcome::Failure, "it broke\nexit 1");
            Outcome::Failure
        }
        _ => {
            events.step_finished(id, "build", 1, Outcome::Success, "all good");
            events.summary(id, "build", "## Plan\nbundle #1\n");
            events.step_started(id, "build", 2);
            let files = vec![
                ("exit.json".to_string(), b"{\"code\":0}".to_vec()),
                ("logs/events.jsonl".to_string(), b"{}\n".to_vec()),
            ];
            events.artifact(id, "out", files);
            events.step_finished(id, "build", 2, Outcome::Success, "uploaded");
            Outcome::Success
        }
    };
    events.job_finished(id, "build", ended);
    events.run_finished(id, ended);
}

/// Waits (two minutes at most) until the run is cancelled.
fn wait_for_cancel(cancelled: &Cancelled) {
    let flag = cancelled.flag.lock().unwrap();
    let (flag, _) = cancelled
        .changed
        .wait_timeout_while(flag, Duration::from_secs(120), |flag| !*flag)
        .unwrap();
    assert!(*flag, "the scripted run was never cancelled");
}

/// A fake with [`TEST_WORKFLOW`] as `test.yml` and a [`ScriptedRunner`].
pub async fn with_runner() -> (Harness, Arc<ScriptedRunner>) {
    let harness = Harness::start().await;
    harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    let runner = Arc::new(ScriptedRunner::default());
    harness.fake.set_runner(runner.clone());
    (harness, runner)
}

/// The files of a zip archive, by path.
pub fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut file = archive.by_index(index).unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).unwrap();
            (file.name().unwrap().to_string(), text)
        })
        .collect()
}
