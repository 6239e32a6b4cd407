//! Trains on GitHub Actions, measured on the GitHub fake with its runner and the real
//! `clambake` binary, `bundling.executor = "actions"`: simulated agents land work, the run
//! loop going idle dispatches the bundling workflow, the fake's runner carries the run out
//! (`clambake bundle` in a fresh checkout), and the next pass journals the departure with its
//! timings. Printed for each round, and their medians: the trigger latency (landing to the
//! run queued), landing to the dispatch answered with the run's id, and landing to the bundle
//! pull request. GitHub's and the fake's times are to the second, so are these. Run it with
//! `cargo bench --bench actions`, or in a debug build with `cargo test --bench actions`.
//!
//! The bundling workflow is the one `clambake actions install` writes.
//!
//! Measured (debug build, the fake on 127.0.0.1, its runner on this machine, 3 rounds of 2
//! issues): landing to the dispatch answered 1.0s, trigger latency 1.0s, landing to the bundle
//! pull request 1.0s (medians; the fake's clock is to the second). On GitHub, the runner's
//! queue and start-up and the Clambake install come on top of the last two.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clambake_github_fake::runner::{RunnerConfig, WorkflowRunner};
use clambake_github_fake::{FakeGithub, Options};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const ROUNDS: usize = 3;
const ISSUES_PER_ROUND: usize = 2;
const PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let origin = tempfile::tempdir().expect("a temp dir");
    let runs = tempfile::tempdir().expect("a temp dir");
    let work = tempfile::tempdir().expect("a temp dir");
    let fake = runtime
        .block_on(FakeGithub::start(Options::new(
            origin.path().join("origin.git"),
        )))
        .expect("the fake starts");
    let binary = Path::new(env!("CARGO_BIN_EXE_clambake"));
    let mut config = RunnerConfig::new(runs.path());
    config
        .path
        .push(binary.parent().expect("a directory").to_path_buf());
    fake.set_runner(Arc::new(WorkflowRunner::new(config)));
    let bench = Bench {
        fake,
        dir: work.path(),
    };
    bench.set_up();
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let timings = bench.round(round);
        let trigger = between(&timings, "landed_at", "queued_at");
        let dispatch = between(&timings, "landed_at", "dispatched_at");
        let pull_request = between(&timings, "landed_at", "pull_request_at");
        println!(
            "round {round}: landing to dispatch answered {}, to run queued (trigger latency) {}, \
             to bundle pull request {}",
            seconds(dispatch),
            seconds(trigger),
            seconds(pull_request)
        );
        rounds.push((dispatch, trigger, pull_request));
    }
    let median = |pick: fn(&(SignedDuration, SignedDuration, SignedDuration)) -> SignedDuration| {
        let mut all: Vec<SignedDuration> = rounds.iter().map(pick).collect();
        all.sort();
        all[all.len() / 2]
    };
    println!(
        "median of {ROUNDS}: landing to dispatch answered {}, trigger latency {}, landing to \
         bundle pull request {}",
        seconds(median(|r| r.0)),
        seconds(median(|r| r.1)),
        seconds(median(|r| r.2))
    );
}

struct Bench<'a> {
    fake: FakeGithub,
    dir: &'a Path,
}

impl Bench<'_> {
    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .current_dir(self.dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.com")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    fn clambake(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_clambake"))
            .current_dir(self.dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env("GH_TOKEN", self.fake.token())
            .env_remove("GITHUB_TOKEN")
            .output()
            .expect("clambake runs");
        assert!(
            output.status.success(),
            "clambake {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A clone of the fake's repository, `init`ed, its configuration and the bundling workflow
    /// committed and pushed.
    fn set_up(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "initial commit"]);
        self.git(&["remote", "add", "origin", &self.fake.origin_url()]);
        self.git(&["push", "-q", "origin", "main"]);
        let api = self.fake.api_url();
        self.clambake(&[
            "init",
            "--backend",
            "github",
            "--agents",
            "2",
            "--owner",
            "clambake",
            "--repo",
            "demo",
            "--api-url",
            &api,
        ]);
        for (key, value) in [
            ("github.mutation_interval_ms", "0"),
            ("agents.real_processes", "false"),
            ("bundling.trigger", "manual"),
            ("bundling.executor", "actions"),
            ("github_actions.enabled", "true"),
        ] {
            self.clambake(&["config", "set", key, value]);
        }
        self.clambake(&["actions", "install"]);
        self.git(&["add", "clambake.toml", ".gitignore", ".github"]);
        self.git(&["commit", "-q", "-m", "clambake"]);
        self.git(&["push", "-q", "origin", "main"]);
    }

    /// One round: issues landed and a departure dispatched, its run waited for, its departure
    /// journaled; returns the departure's timings.
    fn round(&self, round: usize) -> Value {
        for n in 1..=ISSUES_PER_ROUND {
            let title = format!("Round {round} task {n}");
            self.clambake(&[
                "issue",
                "create",
                "--title",
                &title,
                "--label",
                "route:ready",
            ]);
        }
        self.clambake(&["run", "--until-idle", "--no-view"]);
        // Trains are `manual`: the loop dispatches once, as it goes idle.
        let run = self
            .fake
            .runs()
            .iter()
            .map(|run| run.id)
            .max()
            .expect("a departure dispatched");
        let deadline = Instant::now() + PATIENCE;
        while self.fake.run(run).is_none_or(|r| r.conclusion.is_none()) {
            assert!(Instant::now() < deadline, "run {run} never ended");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.clambake(&["run", "--until-idle", "--no-view"]);
        let departure = self.status()["last_departure"].clone();
        assert_eq!(departure["made_by"]["run"], run, "{departure}");
        departure["made_by"]["timings"].clone()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.clambake(&["status", "--json"])).expect("status is JSON")
    }
}

fn between(timings: &Value, from: &str, to: &str) -> SignedDuration {
    let at = |key: &str| -> Timestamp {
        timings[key]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {timings}"))
    };
    at(to).duration_since(at(from))
}

fn seconds(duration: SignedDuration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
