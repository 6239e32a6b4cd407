//! A train the bundling workflow makes on the fake's runner, end to end: simulated agents land
//! two issues, the departure is dispatched, the run's `clambake bundle` in a fresh checkout
//! (only the committed `clambake.toml`) opens the bundle, and the orchestrator's next pass
//! journals what a departure here would have: the slots' `Bundle` transitions and the
//! departure, marked as made by the run, with its timings.

use std::sync::Arc;

use clambake_github_fake::runner::{RunnerConfig, WorkflowRunner};
use clambake_github_fake::runner_contract::Outcome;
use serde_json::Value;

use crate::github_support::GithubRepo;
use crate::support::wait_for;

/// A bundling workflow as Clambake's conventions have it, its Clambake step as the generated
/// one runs it.
pub const BUNDLING_WORKFLOW: &str = r#"name: Clambake bundling
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
      - uses: actions/checkout@v5
        with:
          fetch-depth: 0
      - id: clambake
        env:
          GH_TOKEN: ${{ secrets.CLAMBAKE_TOKEN || github.token }}
          FORCE_BUNDLE: ${{ inputs.force_bundle }}
          GIT_AUTHOR_NAME: github-actions[bot]
          GIT_COMMITTER_NAME: github-actions[bot]
          GIT_AUTHOR_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
          GIT_COMMITTER_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
        run: |
          if [ "$FORCE_BUNDLE" = "true" ]; then
            clambake bundle --force --summary "$GITHUB_STEP_SUMMARY"
          else
            clambake bundle --summary "$GITHUB_STEP_SUMMARY"
          fi
"#;

/// The fake's runner, with this build's `clambake` on its steps' `PATH`.
pub fn runner(work: &std::path::Path) -> Arc<WorkflowRunner> {
    Arc::new(WorkflowRunner::new(runner_config(work)))
}

fn runner_config(work: &std::path::Path) -> RunnerConfig {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_clambake"));
    let mut config = RunnerConfig::new(work);
    config.path.push(binary.parent().unwrap().to_path_buf());
    config
}

/// [`BUNDLING_WORKFLOW`] whose Clambake step first waits until the file `$GO` exists.
fn held_workflow() -> String {
    BUNDLING_WORKFLOW.replace(
        "        run: |\n",
        "        run: |\n          while [ ! -e \"$GO\" ]; do sleep 0.05; done\n",
    )
}

/// A repository on the fake whose configuration and bundling workflow are committed on
/// `main`, trains on `on_land` through the workflow, two ready issues for simulated agents.
pub fn repository_with_workflow() -> GithubRepo {
    repository_with(BUNDLING_WORKFLOW)
}

fn repository_with(workflow: &str) -> GithubRepo {
    let github = GithubRepo::start(2);
    let repo = &github.repo;
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("bundling.trigger", "on_land"),
        ("bundling.executor", "actions"),
        ("github_actions.enabled", "true"),
    ]);
    repo.write(".github/workflows/clambake-bundling.yml", workflow);
    repo.git(&["add", "clambake.toml", ".github"]);
    repo.git(&["commit", "-q", "-m", "clambake"]);
    repo.git(&["push", "-q", "origin", "main"]);
    for n in 1..=2 {
        repo.create_issue(&format!("Task {n}"), "route:ready");
    }
    github
}

#[test]
fn a_bundle_the_workflow_makes_is_journaled_as_a_departure_here_would_be() {
    let github = repository_with_workflow();
    let work = tempfile::tempdir().unwrap();
    github.fake().set_runner(runner(work.path()));

    github.clambake(&["run", "--until-idle"]).success();

    let run = github.fake().runs()[0].id;
    let done = wait_for("the bundling run to end", || {
        github.fake().run(run).filter(|r| r.conclusion.is_some())
    });
    assert_eq!(done.conclusion, Some(Outcome::Success), "{done:?}");
    let prs = github.repo.pull_requests();
    assert_eq!(prs.len(), 1, "{prs:?}");
    let bundle = prs[0]["number"].as_u64().unwrap();
    assert!(
        prs[0]["head"]
            .as_str()
            .unwrap()
            .starts_with("clambake/bundle-")
    );
    let summary = &github.fake().summaries(run)[0].1;
    assert!(summary.contains(&format!("[#{bundle}]")), "{summary}");

    // The next pass reads what the run made.
    github.clambake(&["run", "--until-idle"]).success();

    let shown = github.clambake(&["status", "--json"]).success().json();
    let departure = &shown["last_departure"];
    assert_eq!(departure["made_by"]["from"], "run", "{shown}");
    assert_eq!(departure["made_by"]["run"], run, "{shown}");
    assert_eq!(departure["pull_requests"], serde_json::json!([bundle]));
    let timings = &departure["made_by"]["timings"];
    for moment in ["landed_at", "dispatched_at", "queued_at", "pull_request_at"] {
        assert!(timings[moment].is_string(), "{moment}: {shown}");
    }
    assert_eq!(shown["bundling_run"], Value::Null);
    for agent in ["agent001", "agent002"] {
        let history = github
            .clambake(&["agent", "history", "--agent", agent, "--json"])
            .success()
            .json();
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["event"]["event"], "bundle", "{agent}: {history}");
        assert_eq!(
            last["to"]["Bundled"]["bundle_pr"], bundle,
            "{agent}: {history}"
        );
    }
    assert_eq!(github.fake().runs().len(), 1, "one dispatch");
    github.assert_no_violations();
}

#[test]
fn a_bundle_made_here_by_hand_while_the_run_is_out_is_not_made_twice() {
    let github = repository_with(&held_workflow());
    let work = tempfile::tempdir().unwrap();
    let go = work.path().join("go");
    let mut config = runner_config(work.path());
    config
        .env
        .insert("GO".to_owned(), go.to_str().unwrap().to_owned());
    github
        .fake()
        .set_runner(Arc::new(WorkflowRunner::new(config)));
    github.clambake(&["run", "--until-idle"]).success();
    let run = github.fake().runs()[0].id;
    wait_for("the run to start", || {
        github
            .fake()
            .run(run)
            .is_some_and(|r| r.status == clambake_github_fake::RunStatus::InProgress)
    });

    // By hand, while the run is out: this machine bundles.
    let here = github
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(here["bundles"].as_array().unwrap().len(), 1, "{here}");
    std::fs::write(&go, "").unwrap();
    let done = wait_for("the bundling run to end", || {
        github.fake().run(run).filter(|r| r.conclusion.is_some())
    });
    assert_eq!(done.conclusion, Some(Outcome::Success), "{done:?}");
    github.clambake(&["run", "--until-idle"]).success();

    let prs = github.repo.pull_requests();
    assert_eq!(prs.len(), 1, "one bundle, no duplicate: {prs:?}");
    // The run sent nothing, and is over; the latest departure is the one made here.
    let shown = github.clambake(&["status", "--json"]).success().json();
    assert_eq!(shown["bundling_run"], Value::Null, "{shown}");
    let departure = &shown["last_departure"];
    assert_eq!(departure["made_by"]["from"], "here", "{shown}");
    assert_eq!(
        departure["pull_requests"],
        serde_json::json!([prs[0]["number"]])
    );
    github.assert_no_violations();
}
