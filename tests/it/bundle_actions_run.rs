//! A train the bundling workflow makes on the fake's runner, end to end: simulated agents land
//! two issues, the departure is dispatched, the generated workflow's run (its Clambake step's
//! command line as `clambake actions install` writes it) `clambake bundle`s in a fresh checkout
//! (only the committed `clambake.toml`) opens the bundle, and the orchestrator's next pass
//! journals what a departure here would have: the slots' `Bundle` transitions and the
//! departure, marked as made by the run, with its timings.

use std::sync::Arc;

use clambake_github_fake::runner::{RunnerConfig, WorkflowRunner};
use clambake_github_fake::runner_contract::Outcome;
use serde_json::Value;

use crate::github_support::GithubRepo;
use crate::support::wait_for;

/// The fake's runner, with this build's `clambake` on its steps' `PATH`.
fn runner(work: &std::path::Path) -> Arc<WorkflowRunner> {
    Arc::new(WorkflowRunner::new(runner_config(work)))
}

fn runner_config(work: &std::path::Path) -> RunnerConfig {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_clambake"));
    let mut config = RunnerConfig::new(work);
    config.path.push(binary.parent().unwrap().to_path_buf());
    config
}

/// Where the generated bundling workflow is.
const WORKFLOW: &str = ".github/workflows/clambake-bundling.yml";

/// The generated bundling workflow, its Clambake step made to wait first until the file `$GO`
/// exists.
fn held(repo: &crate::support::TestRepo) {
    let generated = repo.read(WORKFLOW);
    let step = "        run: |\n";
    assert!(generated.contains(step), "{generated}");
    let wait = format!("{step}          while [ ! -e \"$GO\" ]; do sleep 0.05; done\n");
    repo.write(WORKFLOW, &generated.replacen(step, &wait, 1));
}

/// A repository on the fake whose configuration and bundling workflow (as `clambake actions
/// install` writes it, `change` made to it) are committed on `main`, trains departing through
/// the workflow only when the loop goes idle (`manual`: one departure, whenever each agent
/// lands), two ready issues for simulated agents.
fn repository_with(change: impl FnOnce(&crate::support::TestRepo)) -> GithubRepo {
    let github = GithubRepo::start(2);
    let repo = &github.repo;
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("bundling.trigger", "manual"),
        ("bundling.executor", "actions"),
        ("github_actions.enabled", "true"),
    ]);
    repo.clambake(&["actions", "install"]).success();
    change(repo);
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
    let github = repository_with(|_| {});
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
    let github = repository_with(held);
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
