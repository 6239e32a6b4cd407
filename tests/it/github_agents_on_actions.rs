//! Agent attempts on GitHub Actions runners, against the GitHub fake with its runner: the run
//! loop dispatches the agent workflow for its remote slots, the fake's runner runs `clambake
//! agent remote-run` (the simulated runtime, this test's binary on `PATH`) in a clone of the
//! fake's repository, and the orchestrator follows the run, brings its pushed branch back and
//! lands it as a local attempt's. Also: `terminate` cancels a run, a killed orchestrator's run
//! is re-adopted, and a local and a remote slot share the concurrency limit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use clambake::core::branches::name::branch_name;
use clambake_github_fake::runner::{RunnerConfig, WorkflowRunner};
use serde_json::Value;
use tempfile::TempDir;

use crate::github_support::GithubRepo;
use crate::support::wait_for;

/// A repository on the fake whose agent slots run on its runner.
struct OnActions {
    github: GithubRepo,
    /// The runner's work root.
    _runner: TempDir,
}

impl OnActions {
    /// `init --agents AGENTS`, the simulated runtime, GitHub Actions on with `settings`, the
    /// agent workflow installed, and all of it committed and pushed, as a user's would be.
    fn new(agents: u32, settings: &[(&str, &str)]) -> Self {
        let github = GithubRepo::start(agents);
        let repo = &github.repo;
        repo.configure(&[
            ("agents.runtime", "simulated"),
            ("agents.retry_backoff_seconds", "0"),
            ("forge.poll_interval_seconds", "1"),
            ("bundling.trigger", "manual"),
            ("github_actions.enabled", "true"),
        ]);
        repo.configure(settings);
        github
            .clambake(&["actions", "install", "--agent-workflow"])
            .success();
        repo.git(&["add", "clambake.toml", ".github"]);
        repo.git(&["commit", "-q", "-m", "Clambake on GitHub Actions"]);
        repo.git(&["push", "-q", "origin", "main"]);
        let work = tempfile::tempdir().unwrap();
        let mut config = RunnerConfig::new(work.path());
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_clambake"));
        config.path = vec![binary.parent().unwrap().to_path_buf()];
        github
            .fake()
            .set_runner(Arc::new(WorkflowRunner::new(config)));
        Self {
            github,
            _runner: work,
        }
    }

    fn issue(&self, title: &str, body: &str) -> u64 {
        let created = self
            .github
            .clambake(&[
                "issue",
                "create",
                "--title",
                title,
                "--body",
                body,
                "--label",
                "route:ready",
                "--json",
            ])
            .success()
            .json();
        created["number"].as_u64().unwrap()
    }

    /// The runs of the agent workflow: id, status, conclusion and the slot dispatched, as
    /// the fake has them.
    fn agent_runs(&self) -> Vec<(u64, &'static str, Option<&'static str>, String)> {
        self.github
            .fake()
            .runs()
            .into_iter()
            .filter(|run| run.path.ends_with("clambake-agent.yml"))
            .map(|run| {
                let slot = run.inputs.get("slot").and_then(Value::as_str);
                (
                    run.id,
                    run.status.as_str(),
                    run.conclusion.map(|c| c.as_str()),
                    slot.unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The Actions requests the orchestrator made, by kind, for the report.
    fn actions_requests(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for request in self.github.fake().requests() {
            let path = request.path.split('?').next().unwrap_or_default();
            let Some((_, tail)) = path.split_once("/actions/") else {
                continue;
            };
            let kind = tail
                .split('/')
                .map(|part| match part.parse::<u64>() {
                    Ok(_) => "{id}",
                    Err(_) => part,
                })
                .collect::<Vec<_>>()
                .join("/");
            *counts
                .entry(format!("{} {kind}", request.method))
                .or_insert(0) += 1;
        }
        counts
    }

    fn run_until_idle(&self) -> Value {
        self.github
            .clambake(&["run", "--until-idle", "--no-view", "--json"])
            .success()
            .json()
    }
}

fn events<'a>(summary: &'a Value, kind: &str) -> Vec<&'a Value> {
    summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

#[test]
fn an_attempt_on_a_runner_is_landed_and_bundled_like_a_local_one() {
    let actions = OnActions::new(2, &[("agents.executor", "actions")]);
    let first = actions.issue("Add a greeting", "Say hello.");
    let second = actions.issue("Add a farewell", "Say goodbye.");
    let summary = actions.run_until_idle();

    let landed: Vec<&Value> = events(&summary, "disposed")
        .into_iter()
        .filter(|e| e["disposition"]["kind"] == "landed")
        .collect();
    assert_eq!(landed.len(), 2, "{summary:#}");
    let trains = events(&summary, "train_departed");
    assert_eq!(trains.len(), 1, "{summary:#}");
    let bundled = &trains[0]["bundles"][0];
    let mut issues: Vec<u64> = bundled["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    issues.sort_unstable();
    assert_eq!(issues, [first, second]);
    let runs = actions.agent_runs();
    assert_eq!(runs.len(), 2, "one run per attempt: {runs:?}");
    for (_, status, conclusion, _) in &runs {
        assert_eq!((*status, *conclusion), ("completed", Some("success")));
    }
    let repo = &actions.github.repo;
    for (issue, title, slot) in [
        (first, "Add a greeting", "agent001"),
        (second, "Add a farewell", "agent002"),
    ] {
        // The branch here is the runner's, as a local attempt's would be: its log too.
        let branch = branch_name(slot, issue, title);
        let pushed = actions.github.origin_git(&["rev-parse", &branch]);
        assert_eq!(repo.git(&["rev-parse", &branch]), pushed);
        let log = std::fs::read_to_string(
            repo.path()
                .join(format!(".clambake/logs/{slot}-{issue}-1.jsonl")),
        )
        .unwrap();
        assert!(log.contains(r#""type":"result""#), "{log}");
        let labels = repo.labels_of(issue);
        assert!(labels.iter().any(|l| l == "route:bundled"), "{labels:?}");
    }
    // As monitor shows a local attempt that ended: judged from the log the artifact brought.
    let ended = actions
        .github
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(ended["state"], "ended", "{ended:#}");
    assert_eq!(ended["outcome"], "success", "{ended:#}");
    assert_eq!(ended["runtime"], "simulated", "{ended:#}");
    assert_eq!(ended["commits_ahead"], 1, "{ended:#}");
    assert!(ended["events"].as_u64().unwrap() > 0, "{ended:#}");
    // The journal agrees with the world: no drift left by a remote attempt.
    actions.github.clambake(&["agent", "validate"]).success();
    let requests = actions.actions_requests();
    eprintln!("GitHub Actions requests for 2 remote attempts: {requests:#?}");
    let count = |kind: &str| requests.get(kind).copied().unwrap_or(0);
    assert_eq!(
        count("POST workflows/clambake-agent.yml/dispatches"),
        2,
        "{requests:#?}"
    );
    assert_eq!(
        count("GET runs/{id}/artifacts"),
        2,
        "the artifact once per attempt: {requests:#?}"
    );
    assert!(
        count("GET runs/{id}/jobs") <= count("GET runs/{id}"),
        "jobs only while a run is in progress: {requests:#?}"
    );
    actions.github.assert_no_violations();
}

#[test]
fn terminate_cancels_the_run_and_the_work_already_pushed_is_kept() {
    let actions = OnActions::new(
        1,
        &[("agents.executor", "actions"), ("agents.max_attempts", "1")],
    );
    let title = "Wait forever";
    let issue = actions.issue(title, "simulate: outcome hang");
    let branch = branch_name("agent001", issue, title);
    let repo = &actions.github.repo;
    // An earlier attempt's work, on origin: the runner continues it.
    let earlier = repo.branch_with_file(&branch, "main", "earlier.txt", "first try\n");
    repo.publish(&branch);
    repo.git(&["branch", "-q", "-D", &branch]);
    let run = repo
        .clambake_command(&["run", "--until-idle", "--no-view", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the run to reach the agent's step", || {
        actions
            .github
            .fake()
            .runs()
            .iter()
            .any(|r| !actions.github.fake().jobs(r.id).is_empty())
    });
    // The drift checks see the run alive, not a dead process.
    actions.github.clambake(&["agent", "validate"]).success();
    let monitor = actions
        .github
        .clambake(&["monitor", "--agent", "agent001"])
        .success();
    assert!(
        monitor.stdout.contains("on GitHub Actions"),
        "{}",
        monitor.stdout
    );
    let terminated = actions
        .github
        .clambake(&["terminate", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert!(terminated["run"].as_u64().is_some(), "{terminated}");
    let output = run.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let disposed = events(&summary, "disposed");
    assert_eq!(disposed.len(), 1, "{summary:#}");
    assert_eq!(disposed[0]["outcome"], "killed", "{summary:#}");
    let runs = actions.agent_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].2, Some("cancelled"), "{runs:?}");
    let kept = actions.github.origin_git(&["rev-parse", &branch]);
    actions
        .github
        .origin_git(&["merge-base", "--is-ancestor", &earlier, &kept]);
    repo.git(&["merge-base", "--is-ancestor", &earlier, &branch]);
    actions.github.assert_no_violations();
}

#[test]
fn an_orchestrator_killed_mid_run_re_adopts_the_run_and_loses_nothing() {
    let actions = OnActions::new(1, &[("agents.executor", "actions")]);
    let title = "Add a greeting";
    let issue = actions.issue(title, "Say hello.");
    let repo = &actions.github.repo;
    let mut first = repo
        .clambake_command(&["run", "--until-idle", "--no-view"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the attempt's run registered", || {
        let listed = repo.clambake(&["agent", "list", "--json"]).success().json();
        listed.to_string().contains("actions")
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let summary = actions.run_until_idle();
    let adopted = events(&summary, "adopted");
    assert_eq!(adopted.len(), 1, "{summary:#}");
    let landed: Vec<&Value> = events(&summary, "disposed")
        .into_iter()
        .filter(|e| e["disposition"]["kind"] == "landed")
        .collect();
    assert_eq!(landed.len(), 1, "{summary:#}");
    assert_eq!(landed[0]["attempt"], 1, "{summary:#}");
    assert_eq!(actions.agent_runs().len(), 1, "never dispatched twice");
    let branch = branch_name("agent001", issue, title);
    let pushed = actions.github.origin_git(&["rev-parse", &branch]);
    assert_eq!(repo.git(&["rev-parse", &branch]), pushed);
    let ahead = repo.git(&["rev-list", "--count", &format!("main..{branch}")]);
    assert_eq!(ahead, "1");
    actions.github.assert_no_violations();
}

#[test]
fn one_local_and_one_remote_slot_share_the_concurrency_limit() {
    let actions = OnActions::new(1, &[("agents.actions_slots", "1")]);
    // init makes a label for every slot, the remote one after the local one too.
    actions.github.repo.init(&["--agents", "1"]).success();
    let labels: Vec<String> = actions
        .github
        .fake()
        .labels()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(labels.iter().any(|l| l == "agent002"), "{labels:?}");
    let issues: Vec<u64> = (1..=3)
        .map(|n| actions.issue(&format!("Task {n}"), "Do it."))
        .collect();
    let summary = actions.run_until_idle();
    let claimed: Vec<(String, u64)> = events(&summary, "claimed")
        .into_iter()
        .map(|e| {
            (
                e["agent"].as_str().unwrap().to_owned(),
                e["issue"].as_u64().unwrap(),
            )
        })
        .collect();
    let slots: std::collections::BTreeSet<&str> = claimed.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        slots.into_iter().collect::<Vec<_>>(),
        ["agent001", "agent002"],
        "{claimed:?}"
    );
    let landed = events(&summary, "disposed")
        .into_iter()
        .filter(|e| e["disposition"]["kind"] == "landed")
        .count();
    assert_eq!(landed, issues.len(), "{summary:#}");
    // agent002 is the remote slot: a run for each of its attempts, none for agent001's.
    let remote = claimed.iter().filter(|(a, _)| a == "agent002").count();
    let runs = actions.agent_runs();
    assert_eq!(runs.len(), remote, "{claimed:?}");
    assert!(runs.iter().all(|run| run.3 == "agent002"), "{runs:?}");
    actions.github.assert_no_violations();
}

#[test]
fn an_orchestrator_killed_right_after_its_dispatch_takes_the_run_up_rather_than_dispatching_again()
{
    let actions = OnActions::new(1, &[("agents.executor", "actions")]);
    let title = "Add a greeting";
    let issue = actions.issue(title, "Say hello.");
    let repo = &actions.github.repo;
    let mut first = repo
        .clambake_command(&["run", "--until-idle", "--no-view"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as its run exists: registered or not yet.
    wait_for("the attempt's run", || !actions.agent_runs().is_empty());
    first.kill().unwrap();
    first.wait().unwrap();
    let run = actions
        .github
        .clambake(&["run", "--until-idle", "--no-view", "--json"]);
    let run = run.success();
    let summary = run.json();
    let landed: Vec<&Value> = events(&summary, "disposed")
        .into_iter()
        .filter(|e| e["disposition"]["kind"] == "landed")
        .collect();
    let runs = actions.agent_runs();
    let attempt_log =
        std::fs::read_to_string(repo.path().join(".clambake/logs/agent001-1-1.jsonl"));
    let titles: Vec<(u64, String, String)> = actions
        .github
        .fake()
        .runs()
        .into_iter()
        .map(|r| (r.id, r.display_title, r.created_at))
        .collect();
    let context = format!(
        "{summary:#}\n{runs:?}\n{titles:?}\n{attempt_log:?}\n{}",
        run.stderr
    );
    assert_eq!(landed.len(), 1, "{context}");
    assert_eq!(landed[0]["attempt"], 1, "{context}");
    assert_eq!(runs.len(), 1, "never dispatched twice: {context}");
    let branch = branch_name("agent001", issue, title);
    let ahead = repo.git(&["rev-list", "--count", &format!("main..{branch}")]);
    assert_eq!(ahead, "1");
    actions.github.assert_no_violations();
}
