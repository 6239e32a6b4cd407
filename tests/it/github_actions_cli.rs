//! `clambake actions trigger|status|logs|cancel` against the GitHub fake's Actions endpoints,
//! with a scripted runner of these tests' own carrying out the runs: the dispatch with the
//! run's details and without (found by its key), the status of both workflows, the logs
//! fetched from the redirect without the token, cancelling, each refusal, and one run per
//! dispatch whatever answers are lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::forge::github::GithubActions;
use clambake::ports::actions::{
    Actions, ArtifactFile, Conclusion, Dispatch, RunStatus as Status, WorkflowState,
};
use clambake::ports::forge::ForgeError;
use clambake_github_fake::runner_contract::{Outcome, RunControl, RunEvents, RunSpec, Runner};
use clambake_github_fake::{Faults, RunStatus};

use crate::github_support::GithubRepo;
use crate::support::{TestRepo, wait_for, wait_for_async};

const BUNDLING: &str = "clambake-bundling.yml";
const AGENT: &str = "clambake-agent.yml";

/// Someone else's workflow, which GitHub's scheduler starts.
const OTHER_YAML: &str = "\
name: CI
on:
  schedule:
    - cron: '0 * * * *'
jobs:
  ci:
    runs-on: ubuntu-latest
    steps:
      - run: echo ci
";

/// Plays one job, `bundle`, of two steps, whose logs say which run and inputs they were; when
/// told to hang, its second step waits to be cancelled.
#[derive(Default)]
struct ScriptedRunner {
    hang: AtomicBool,
}

struct Stop(Mutex<Sender<()>>);

impl RunControl for Stop {
    fn cancel(&self) {
        let _ = self.0.lock().unwrap().send(());
    }
}

impl Runner for ScriptedRunner {
    fn start(&self, spec: RunSpec, events: Arc<dyn RunEvents>) -> Box<dyn RunControl> {
        let (stop, stopped) = channel();
        let hang = self.hang.load(Ordering::SeqCst);
        std::thread::spawn(move || play(&spec, events.as_ref(), hang, &stopped));
        Box::new(Stop(Mutex::new(stop)))
    }
}

fn play(spec: &RunSpec, events: &dyn RunEvents, hang: bool, stopped: &Receiver<()>) {
    let id = spec.run_id;
    let steps = ["Set up job".to_owned(), "Run clambake bundle".to_owned()];
    events.job_started(id, "bundle", &steps);
    events.step_started(id, "bundle", 0);
    events.step_finished(id, "bundle", 0, Outcome::Success, "runner ready");
    events.step_started(id, "bundle", 1);
    let ended = if hang {
        let _ = stopped.recv_timeout(Duration::from_secs(300));
        events.step_finished(id, "bundle", 1, Outcome::Cancelled, "stopped");
        Outcome::Cancelled
    } else {
        let force = spec.inputs.get("force_bundle").map(ToString::to_string);
        let log = format!(
            "bundled in run {id}, force_bundle={}",
            force.unwrap_or_default()
        );
        events.step_finished(id, "bundle", 1, Outcome::Success, &log);
        let files = vec![
            ("exit.json".to_owned(), b"{}".to_vec()),
            (
                "logs/events.jsonl".to_owned(),
                b"{\"type\":\"result\"}\n".to_vec(),
            ),
        ];
        events.artifact(id, "clambake-out", files);
        Outcome::Success
    };
    events.job_finished(id, "bundle", ended);
    events.run_finished(id, ended);
}

/// Which of Clambake's workflows the repository has: `init` wrote the bundling workflow,
/// `clambake actions install --agent-workflow` writes both.
#[derive(Clone, Copy, PartialEq)]
enum Installed {
    Neither,
    Bundling,
    Both,
}

/// A repository on the fake with Actions on, the workflows `installed` and `others` committed
/// and pushed to `main` with clambake.toml, and the scripted runner.
fn actions_repo(
    installed: Installed,
    others: &[(&str, &str)],
) -> (GithubRepo, Arc<ScriptedRunner>) {
    let repo = GithubRepo::start(1);
    repo.repo.configure(&[("github_actions.enabled", "true")]);
    match installed {
        Installed::Neither => {
            std::fs::remove_dir_all(repo.repo.path().join(".github")).unwrap();
        }
        Installed::Bundling => {}
        Installed::Both => {
            repo.clambake(&["actions", "install", "--agent-workflow"])
                .success();
        }
    }
    assert_eq!(
        repo.repo
            .path()
            .join(".github/workflows")
            .join(AGENT)
            .exists(),
        installed == Installed::Both
    );
    for (file, yaml) in others {
        repo.repo.write(&format!(".github/workflows/{file}"), yaml);
    }
    repo.repo.commit_all("Clambake's workflows");
    repo.repo.git(&["push", "-q", "origin", "main"]);
    let runner = Arc::new(ScriptedRunner::default());
    repo.fake().set_runner(runner.clone());
    (repo, runner)
}

fn both_workflows() -> (GithubRepo, Arc<ScriptedRunner>) {
    actions_repo(Installed::Both, &[])
}

/// Triggers a run with `args` (`--json` added) and returns its id.
fn trigger(repo: &GithubRepo, args: &[&str]) -> u64 {
    let mut all = vec!["actions", "trigger", "--json"];
    all.extend_from_slice(args);
    let triggered = repo.clambake(&all).success().json();
    triggered["run"]["id"].as_u64().unwrap()
}

fn wait_until_completed(repo: &GithubRepo, id: u64) -> clambake_github_fake::WorkflowRun {
    wait_for(&format!("run {id} to complete"), || {
        repo.fake()
            .run(id)
            .filter(|run| run.status == RunStatus::Completed)
    })
}

#[test]
fn trigger_dispatches_the_bundling_workflow_on_the_default_branch_once() {
    let (repo, _runner) = both_workflows();
    let triggered = repo
        .clambake(&["actions", "trigger", "--json"])
        .success()
        .json();
    let id = triggered["run"]["id"].as_u64().unwrap();
    assert!(
        triggered["run"]["html_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/actions/runs/{id}")),
        "{triggered}"
    );
    let runs = repo.fake().runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(
        (run.id, run.path.as_str()),
        (id, ".github/workflows/clambake-bundling.yml")
    );
    assert_eq!(
        (run.event.as_str(), run.head_branch.as_str()),
        ("workflow_dispatch", "main")
    );
    assert_eq!(run.inputs["force_bundle"], "false");
    let key = run.inputs["dispatch_key"].as_str().unwrap();
    assert!(key.starts_with("clambake-") && run.display_title.contains(key));

    let forced = repo.clambake(&["actions", "trigger", "--force"]).success();
    let second = repo.fake().runs()[1].clone();
    assert_eq!(second.inputs["force_bundle"], "true");
    assert!(
        forced
            .stdout
            .contains(&format!("started run {} ", second.id))
            && forced
                .stdout
                .contains(&format!("/actions/runs/{}", second.id)),
        "{}",
        forced.stdout
    );
    repo.clambake(&["actions", "--trigger-bundle", "--force"])
        .success();
    assert_eq!(repo.fake().runs()[2].inputs["force_bundle"], "true");
    repo.assert_no_violations();
}

#[test]
fn without_the_runs_details_the_trigger_finds_its_run_by_its_key() {
    let (repo, _runner) = both_workflows();
    // Another run of the workflow, dispatched first, is not taken for the trigger's.
    trigger(&repo, &[]);
    repo.fake().set_dispatch_without_details(true);
    let id = trigger(&repo, &["--force"]);
    let runs = repo.fake().runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(id, runs[1].id, "the run the second dispatch made");
    assert_eq!(runs[1].inputs["force_bundle"], "true");
    repo.assert_no_violations();
}

#[test]
fn status_lists_both_workflows_runs_and_reports_a_missing_workflow() {
    let (repo, _runner) = actions_repo(Installed::Bundling, &[]);
    let first = trigger(&repo, &[]);
    let second = trigger(&repo, &["--force"]);
    wait_until_completed(&repo, first);
    wait_until_completed(&repo, second);
    let status = repo
        .clambake(&["actions", "status", "--json"])
        .success()
        .json();
    let runs = status["runs"].as_array().unwrap();
    let ids: Vec<u64> = runs.iter().map(|run| run["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [second, first], "newest first");
    assert_eq!(runs[0]["workflow"], BUNDLING);
    assert_eq!(runs[0]["event"], "workflow_dispatch");
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["conclusion"], "success");
    assert!(runs[0]["duration_seconds"].as_i64().unwrap() >= 0);
    assert!(runs[0]["started_at"].is_string() && runs[0]["html_url"].is_string());
    assert_eq!(status["missing_workflows"], serde_json::json!([AGENT]));

    let limited = repo
        .clambake(&["actions", "status", "--limit", "1", "--json"])
        .success();
    assert_eq!(limited.json()["runs"].as_array().unwrap().len(), 1);
    let table = repo.clambake(&["actions", "--status"]).success().stdout;
    for expected in [
        first.to_string().as_str(),
        BUNDLING,
        "completed",
        "success",
        "no workflow .github/workflows/clambake-agent.yml: `clambake actions install` writes it",
    ] {
        assert!(
            table.contains(expected),
            "{expected} missing from:\n{table}"
        );
    }
}

#[test]
fn logs_print_each_jobs_log_and_the_token_never_follows_the_redirect() {
    let (repo, _runner) = both_workflows();
    let id = trigger(&repo, &["--force"]);
    wait_until_completed(&repo, id);
    let logs = repo
        .clambake(&["actions", "logs", &id.to_string()])
        .success()
        .stdout;
    let header = logs
        .find("=== job bundle ===")
        .unwrap_or_else(|| panic!("{logs}"));
    let ready = logs
        .find("runner ready")
        .unwrap_or_else(|| panic!("{logs}"));
    let bundled = logs
        .find(&format!("bundled in run {id}, force_bundle=\"true\""))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(header < ready && ready < bundled, "in step order:\n{logs}");
    let seed = repo
        .clambake(&["actions", "--logs", "--run-id", &id.to_string()])
        .success();
    assert_eq!(seed.stdout, logs);
    repo.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_not_completed_has_no_logs_yet_and_cancel_stops_it() {
    let (repo, runner) = both_workflows();
    runner.hang.store(true, Ordering::SeqCst);
    let id = trigger(&repo, &[]);
    wait_for("the run to start", || {
        repo.fake()
            .run(id)
            .is_some_and(|run| run.status == RunStatus::InProgress)
    });
    let not_yet = client(&repo).logs(id).await;
    assert!(
        matches!(&not_yet, Err(ForgeError::Conflict(m)) if m.contains("has not completed yet")),
        "{not_yet:?}"
    );
    let early = repo.clambake(&["actions", "logs", &id.to_string()]);
    assert_eq!(early.code, 8, "{}", early.stderr);
    assert!(
        early.stderr.contains("has not completed yet"),
        "{}",
        early.stderr
    );

    let cancelled = repo
        .clambake(&["actions", "cancel", &id.to_string()])
        .success();
    assert!(
        cancelled
            .stdout
            .contains(&format!("asked GitHub to cancel run {id}"))
    );
    let run = wait_until_completed(&repo, id);
    assert_eq!(run.conclusion.map(|c| c.as_str()), Some("cancelled"));
    let again = repo
        .clambake(&["actions", "cancel", &id.to_string(), "--json"])
        .success();
    assert_eq!(again.json()["already_completed"], true);
    repo.assert_no_violations();
}

#[test]
fn cancel_refuses_runs_of_other_workflows_and_runs_that_do_not_exist() {
    let (repo, _runner) = actions_repo(Installed::Bundling, &[("ci.yml", OTHER_YAML)]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ci = runtime.block_on(repo.fake().schedule("ci.yml")).unwrap();
    let refused = repo.clambake(&["actions", "cancel", &ci.to_string()]);
    assert_eq!(refused.code, 8, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("none of Clambake's workflows"),
        "{}",
        refused.stderr
    );
    let missing = repo.clambake(&["actions", "cancel", "999999"]);
    assert_eq!(missing.code, 6, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("there is no workflow run 999999"),
        "{}",
        missing.stderr
    );
    assert!(
        repo.fake()
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("/cancel"))
    );
}

#[test]
fn trigger_is_refused_with_actions_off_on_another_forge_and_without_a_usable_workflow() {
    let (repo, _runner) = actions_repo(Installed::Neither, &[]);
    let missing = repo.clambake(&["actions", "trigger"]);
    assert_eq!(missing.code, 6, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains(".github/workflows/clambake-bundling.yml")
            && missing.stderr.contains("clambake actions install"),
        "{}",
        missing.stderr
    );

    repo.clambake(&["actions", "install"]).success();
    repo.repo.commit_all("the bundling workflow");
    repo.repo.git(&["push", "-q", "origin", "main"]);
    repo.fake().disable_workflow(BUNDLING);
    let disabled = repo.clambake(&["actions", "trigger"]);
    assert_eq!(disabled.code, 6, "{}", disabled.stderr);
    assert!(
        disabled.stderr.contains("gh workflow enable"),
        "{}",
        disabled.stderr
    );

    repo.repo.configure(&[("github_actions.enabled", "false")]);
    let off = repo.clambake(&["actions", "trigger"]);
    assert_eq!(off.code, 5, "{}", off.stderr);
    assert!(
        off.stderr
            .contains("clambake rollback --feature actions --enable --confirm"),
        "{}",
        off.stderr
    );
    assert!(repo.fake().runs().is_empty());

    let local = TestRepo::new();
    local.init(&[]).success();
    for args in [&["actions", "trigger"][..], &["actions", "status"]] {
        let refused = local.clambake(args);
        assert_eq!(refused.code, 5, "{args:?}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("forge.backend = \"github\""),
            "{}",
            refused.stderr
        );
    }
}

/// The client of `repo`'s Actions, looking for a dispatch's run for two seconds.
fn client(repo: &GithubRepo) -> GithubActions {
    let forge = repo
        .repo
        .github()
        .unwrap()
        .client(clambake::app::compose::clock());
    forge
        .actions()
        .unwrap()
        .with_run_lookup(Duration::from_secs(2))
}

fn bundling_dispatch(key: &str) -> Dispatch {
    Dispatch {
        workflow: BUNDLING.to_owned(),
        git_ref: "main".to_owned(),
        inputs: [("force_bundle".to_owned(), "true".to_owned())].into(),
        key: key.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_jobs_and_artifacts_read_as_the_run_went() {
    let (repo, _runner) = both_workflows();
    let actions = client(&repo);
    let id = actions
        .dispatch(&bundling_dispatch("clambake-k1"))
        .await
        .unwrap();
    let run = wait_for_async("the run to complete", async || {
        let run = actions.run(id).await.unwrap();
        (run.status == Status::Completed).then_some(run)
    })
    .await;
    assert_eq!(run.conclusion, Some(Conclusion::Success));
    assert_eq!(run.path, ".github/workflows/clambake-bundling.yml");
    assert!(run.display_title.contains("clambake-k1"), "{run:?}");
    let jobs = actions.jobs(id).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0].name.as_str(), jobs[0].conclusion),
        ("bundle", Some(Conclusion::Success))
    );
    let steps: Vec<(u32, &str)> = jobs[0]
        .steps
        .iter()
        .map(|s| (s.number, s.name.as_str()))
        .collect();
    assert_eq!(steps, [(1, "Set up job"), (2, "Run clambake bundle")]);

    let mut files = actions.artifact(id, "clambake-out").await.unwrap().unwrap();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let file = |path: &str, contents: &[u8]| ArtifactFile {
        path: path.to_owned(),
        contents: contents.to_vec(),
    };
    assert_eq!(
        files,
        [
            file("exit.json", b"{}"),
            file("logs/events.jsonl", b"{\"type\":\"result\"}\n")
        ]
    );
    assert_eq!(actions.artifact(id, "clambake-other").await.unwrap(), None);
    assert_eq!(actions.runs(BUNDLING, 5).await.unwrap()[0].id, id);
    assert_eq!(
        actions.workflow(BUNDLING).await.unwrap().state,
        WorkflowState::Active
    );
    assert!(matches!(
        actions.workflow("nothing.yml").await,
        Err(ForgeError::NoWorkflow { file }) if file == "nothing.yml"
    ));
    assert!(matches!(
        actions.run(999).await,
        Err(ForgeError::NoRun { id: 999 })
    ));
    repo.assert_no_violations();
}

/// The forge and its Actions share one client: what one asks counts in the other's usage,
/// and a rate limit one meets stops the other too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_requests_count_against_the_forges_limits() {
    let (repo, _runner) = both_workflows();
    let forge = repo
        .repo
        .github()
        .unwrap()
        .client(clambake::app::compose::clock());
    let actions = forge.actions().unwrap();
    let before = clambake::ports::Forge::usage(&forge);
    actions.runs(BUNDLING, 5).await.unwrap();
    actions
        .dispatch(&bundling_dispatch("clambake-k2"))
        .await
        .unwrap();
    let after = clambake::ports::Forge::usage(&forge);
    assert_eq!(after.fresh_reads, before.fresh_reads + 1);
    assert_eq!(after.mutations, before.mutations + 1);
    repo.fake().set_rate_limit(0, Duration::from_secs(600));
    assert!(matches!(
        actions.runs(BUNDLING, 5).await,
        Err(ForgeError::RateLimited { .. })
    ));
    let sent = repo.fake().requests().len();
    assert!(matches!(
        clambake::ports::Forge::labels(&forge).await,
        Err(ForgeError::RateLimited { .. })
    ));
    assert_eq!(repo.fake().requests().len(), sent, "the forge sent nothing");
}

/// Dispatches through the client while the fake drops answers it acted on and fails
/// requests without acting: each dispatch either says which run it made or fails, a failed
/// one tried again with its key finds or makes its run, and no dispatch ever makes two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_makes_one_run_whatever_answers_are_lost() {
    let (repo, _runner) = both_workflows();
    let actions = client(&repo);
    repo.fake().set_faults(Faults {
        seed: 12,
        server_error_rate: 0.25,
        lost_answer_rate: 0.35,
        ..Faults::default()
    });
    let mut outcomes = Vec::new();
    for n in 0..6 {
        let key = format!("clambake-test{n}");
        let outcome = actions.dispatch(&bundling_dispatch(&key)).await;
        if let Err(error) = &outcome {
            assert!(matches!(error, ForgeError::Transient(_)), "{error:?}");
        }
        outcomes.push((key, outcome.ok()));
    }
    repo.fake().set_faults(Faults::default());
    for (key, outcome) in &mut outcomes {
        if outcome.is_none() {
            *outcome = Some(actions.dispatch(&bundling_dispatch(key)).await.unwrap());
        }
    }
    let runs = repo.fake().runs();
    for (key, id) in &outcomes {
        let made: Vec<u64> = runs
            .iter()
            .filter(|run| run.inputs["dispatch_key"] == key.as_str())
            .map(|run| run.id)
            .collect();
        assert_eq!(made, vec![id.unwrap()], "{key}");
    }
    assert_eq!(runs.len(), outcomes.len(), "{runs:?}");
    let requests = repo.fake().requests();
    let dispatches = || requests.iter().filter(|r| r.path.ends_with("/dispatches"));
    assert!(
        dispatches().any(|r| r.lost) && dispatches().any(|r| r.status >= 500),
        "the faults hit no dispatch: {:?}",
        dispatches().collect::<Vec<_>>()
    );
    repo.assert_no_violations();
}

/// `actions trigger` while answers are lost: at most one run, and the one it names.
#[test]
fn a_trigger_whose_answers_are_lost_makes_at_most_one_run() {
    let (repo, _runner) = both_workflows();
    for seed in 1..=4 {
        let before = repo.fake().runs().len();
        repo.fake().set_faults(Faults {
            seed,
            lost_answer_rate: 0.4,
            ..Faults::default()
        });
        let triggered = repo.clambake(&["actions", "trigger", "--json"]);
        repo.fake().set_faults(Faults::default());
        let made: Vec<u64> = repo.fake().runs()[before..].iter().map(|r| r.id).collect();
        if triggered.code == 0 {
            assert_eq!(made.len(), 1, "seed {seed}: {made:?}");
            assert_eq!(triggered.json()["run"]["id"].as_u64(), Some(made[0]));
        } else {
            assert!(
                made.len() <= 1,
                "seed {seed}: {made:?}\n{}",
                triggered.stderr
            );
        }
    }
    let requests = repo.fake().requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/dispatches") && r.lost),
        "no dispatch's answer was lost"
    );
    repo.assert_no_violations();
}
