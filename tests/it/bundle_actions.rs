//! Trains with `bundling.executor = "actions"` against the GitHub fake: a departure dispatches
//! the bundling workflow and bundles nothing here while its run is out; the train departs here
//! instead, saying why in the journal and `status`, when the workflow is missing, when the run
//! fails, and when it never finishes (cancelled then); `rollback --feature actions` cancels
//! Clambake's runs in flight.

use std::sync::Arc;

use clambake_github_fake::runner_contract::{Outcome, RunControl, RunEvents, RunSpec, Runner};
use clambake_github_fake::{RunStatus, WorkflowRun};
use serde_json::Value;

use crate::github_support::GithubRepo;
use crate::support::wait_for;

/// A bundling workflow as Clambake's conventions have it: dispatchable with `force_bundle`
/// and `dispatch_key`, its run named by the key, on a schedule too.
const BUNDLING_WORKFLOW: &str = "\
name: Clambake bundling
run-name: Clambake bundling ${{ inputs.dispatch_key }}
on:
  schedule:
    - cron: '*/10 * * * *'
  workflow_dispatch:
    inputs:
      force_bundle:
        type: boolean
        default: false
      dispatch_key:
        required: false
        default: ''
jobs:
  bundle:
    runs-on: ubuntu-latest
    steps:
      - id: clambake
        run: clambake bundle
";

/// An agent workflow, enough to have runs.
const AGENT_WORKFLOW: &str = "\
name: Clambake agent
on:
  schedule:
    - cron: '0 * * * *'
  workflow_dispatch:
    inputs:
      dispatch_key:
        required: false
        default: ''
jobs:
  agent:
    runs-on: ubuntu-latest
    steps:
      - id: clambake
        run: clambake agent remote-run
";

/// A runner whose every run fails at once.
struct FailingRunner;

struct Nothing;

impl RunControl for Nothing {
    fn cancel(&self) {}
}

impl Runner for FailingRunner {
    fn start(&self, spec: RunSpec, events: Arc<dyn RunEvents>) -> Box<dyn RunControl> {
        std::thread::spawn(move || {
            let job = "bundle";
            events.job_started(spec.run_id, job, &["clambake".to_owned()]);
            events.step_started(spec.run_id, job, 0);
            events.step_finished(spec.run_id, job, 0, Outcome::Failure, "exit 1");
            events.job_finished(spec.run_id, job, Outcome::Failure);
            events.run_finished(spec.run_id, Outcome::Failure);
        });
        Box::new(Nothing)
    }
}

/// A repository on the fake with trains on `on_land` dispatched to the bundling workflow
/// (pushed unless `workflows` is empty), and two issues landed in review.
fn landed_with_actions(workflows: &[(&str, &str)]) -> (GithubRepo, [u64; 2]) {
    let github = GithubRepo::start(2);
    let repo = &github.repo;
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("bundling.trigger", "on_land"),
        ("bundling.executor", "actions"),
        ("github_actions.enabled", "true"),
    ]);
    if !workflows.is_empty() {
        for (file, yaml) in workflows {
            repo.write(&format!(".github/workflows/{file}"), yaml);
        }
        repo.git(&["add", ".github"]);
        repo.git(&["commit", "-q", "-m", "workflows"]);
        repo.git(&["push", "-q", "origin", "main"]);
    }
    let one = repo.landed_issue("agent001", "one", "one.txt", "1\n");
    let two = repo.landed_issue("agent002", "two", "two.txt", "2\n");
    (github, [one, two])
}

fn bundles(github: &GithubRepo) -> Vec<Value> {
    github
        .repo
        .pull_requests()
        .into_iter()
        .filter(|pr| {
            pr["head"]
                .as_str()
                .is_some_and(|h| h.starts_with("clambake/bundle-"))
        })
        .collect()
}

fn status(github: &GithubRepo) -> Value {
    github.clambake(&["status", "--json"]).success().json()
}

fn bundling_runs(github: &GithubRepo) -> Vec<WorkflowRun> {
    let runs = github.fake().runs();
    runs.into_iter()
        .filter(|run| run.path.ends_with("clambake-bundling.yml"))
        .collect()
}

#[test]
fn a_departure_dispatches_the_workflow_and_bundles_nothing_here_while_its_run_is_out() {
    let (github, _) = landed_with_actions(&[("clambake-bundling.yml", BUNDLING_WORKFLOW)]);

    github.clambake(&["run", "--until-idle"]).success();

    let runs = bundling_runs(&github);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].event, "workflow_dispatch");
    assert_eq!(
        runs[0].inputs["force_bundle"],
        Value::from("true"),
        "{runs:?}"
    );
    assert_eq!(
        bundles(&github),
        Vec::<Value>::new(),
        "nothing bundled here"
    );
    let shown = status(&github);
    assert_eq!(shown["bundling_run"]["run"], runs[0].id, "{shown}");
    assert_eq!(shown["last_departure"], Value::Null, "{shown}");

    // A restarted loop follows the same run: no second dispatch, no departure here.
    github.clambake(&["run", "--until-idle"]).success();
    assert_eq!(bundling_runs(&github).len(), 1);
    assert_eq!(bundles(&github), Vec::<Value>::new());
    let shown = status(&github);
    assert!(
        shown["bundling_run"]["timings"]["queued_at"].is_string(),
        "{shown}"
    );
    github.assert_no_violations();
}

#[test]
fn without_the_workflow_the_train_departs_here_and_says_why() {
    let (github, [one, two]) = landed_with_actions(&[]);

    github.clambake(&["run", "--until-idle"]).success();

    let made = bundles(&github);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(github.fake().runs().is_empty());
    let shown = status(&github);
    let departure = &shown["last_departure"];
    assert_eq!(departure["made_by"]["from"], "fallback", "{shown}");
    assert_eq!(departure["made_by"]["run"], Value::Null, "{shown}");
    let why = departure["made_by"]["why"].as_str().unwrap();
    assert!(why.contains("clambake-bundling.yml"), "{why}");
    assert_eq!(
        departure["pull_requests"],
        serde_json::json!([made[0]["number"]])
    );
    let text = github.clambake(&["status"]).success().stdout;
    assert!(text.contains("instead of the bundling workflow"), "{text}");
    for issue in [one, two] {
        assert_eq!(github.repo.labels_of(issue), ["route:bundled"]);
    }
    github.assert_no_violations();
}

#[test]
fn a_run_that_fails_makes_the_train_depart_here() {
    let (github, _) = landed_with_actions(&[("clambake-bundling.yml", BUNDLING_WORKFLOW)]);
    github.fake().set_runner(Arc::new(FailingRunner));
    github.clambake(&["run", "--until-idle"]).success();
    let run = bundling_runs(&github)[0].id;
    wait_for("the run to fail", || {
        github
            .fake()
            .run(run)
            .is_some_and(|r| r.conclusion == Some(Outcome::Failure))
    });
    assert_eq!(bundles(&github), Vec::<Value>::new());

    github.clambake(&["run", "--until-idle"]).success();

    assert_eq!(bundles(&github).len(), 1);
    let shown = status(&github);
    let made_by = &shown["last_departure"]["made_by"];
    assert_eq!(made_by["from"], "fallback", "{shown}");
    assert_eq!(made_by["run"], run, "{shown}");
    assert_eq!(
        made_by["why"], "the bundling workflow's run ended `failure`",
        "{shown}"
    );
    assert_eq!(shown["bundling_run"], Value::Null, "{shown}");
    assert_eq!(bundling_runs(&github).len(), 1, "no second dispatch");
    github.assert_no_violations();
}

#[test]
fn a_run_that_never_finishes_is_cancelled_and_the_train_departs_here() {
    // No runner: the run stays queued.
    let (github, _) = landed_with_actions(&[("clambake-bundling.yml", BUNDLING_WORKFLOW)]);
    github.clambake(&["run", "--until-idle"]).success();
    let run = bundling_runs(&github)[0].id;
    // Its time runs out: it was dispatched longer ago than workflow_timeout_minutes (30).
    let file = github.repo.path().join(".clambake/bundle-run.json");
    let mut kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(31);
    kept["timings"]["dispatched_at"] = Value::from(long_ago.to_string());
    std::fs::write(&file, kept.to_string()).unwrap();

    github.clambake(&["run", "--until-idle"]).success();

    let cancelled = github.fake().run(run).unwrap();
    assert_eq!(cancelled.status, RunStatus::Completed);
    assert_eq!(cancelled.conclusion, Some(Outcome::Cancelled));
    assert_eq!(bundles(&github).len(), 1);
    let shown = status(&github);
    let made_by = &shown["last_departure"]["made_by"];
    assert_eq!(made_by["run"], run, "{shown}");
    let why = made_by["why"].as_str().unwrap();
    assert!(why.contains("did not finish within 30m"), "{why}");
    github.assert_no_violations();
}

#[test]
fn switching_actions_off_cancels_clambakes_runs_in_flight() {
    let (github, _) = landed_with_actions(&[
        ("clambake-bundling.yml", BUNDLING_WORKFLOW),
        ("clambake-agent.yml", AGENT_WORKFLOW),
    ]);
    github.clambake(&["run", "--until-idle"]).success();
    let bundling = bundling_runs(&github)[0].id;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let agent = runtime
        .block_on(github.fake().schedule("clambake-agent.yml"))
        .unwrap();

    let rolled = github
        .clambake(&["rollback", "--feature", "actions", "--confirm", "--json"])
        .success()
        .json();

    assert_eq!(rolled["enabled"], false, "{rolled}");
    let mut ids: Vec<u64> = rolled["cancelled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [bundling, agent], "{rolled}");
    for id in [bundling, agent] {
        assert_eq!(
            github.fake().run(id).unwrap().conclusion,
            Some(Outcome::Cancelled)
        );
    }
    // The next train departs here, with the work the run never did.
    github.clambake(&["run", "--until-idle"]).success();
    assert_eq!(bundles(&github).len(), 1);
    assert_eq!(status(&github)["bundling_run"], Value::Null);
    github.assert_no_violations();
}

/// A `clambake run` child, killed if the test ends before stopping it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_loop_follows_the_rollback_from_its_next_pass() {
    // No runner: the dispatched run stays queued.
    let (github, _) = landed_with_actions(&[("clambake-bundling.yml", BUNDLING_WORKFLOW)]);
    github
        .repo
        .configure(&[("forge.poll_interval_seconds", "1")]);
    let mut running = Running(
        github
            .repo
            .clambake_command(&["run", "--no-view"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = wait_for("the departure's dispatch", || {
        bundling_runs(&github).first().map(|r| r.id)
    });
    assert_eq!(bundles(&github), Vec::<Value>::new());

    github
        .clambake(&["rollback", "--feature", "actions", "--confirm"])
        .success();

    wait_for("the running loop's train to depart here", || {
        !bundles(&github).is_empty()
    });
    assert_eq!(
        github.fake().run(run).unwrap().conclusion,
        Some(Outcome::Cancelled)
    );
    assert_eq!(bundling_runs(&github).len(), 1, "no second dispatch");
    // Switched off, not given up on: the loop departs here as without Actions.
    let shown = status(&github);
    assert_eq!(
        shown["last_departure"]["made_by"]["from"], "here",
        "{shown}"
    );
    assert_eq!(shown["bundling_run"], Value::Null, "{shown}");
    let pid = nix::unistd::Pid::from_raw(running.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(running.0.wait().unwrap().success());
    github.assert_no_violations();
}
