//! Work a `clambake spawn` finished waits for `clambake land` (or a run) with its success
//! recorded: it is not drift. `agent status` says it waits, `agent recover` leaves it alone,
//! and a `run` lands it without running the agent again.

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, write_script};

/// A repository with one ready issue and a `command` agent that commits, reports success, and
/// appends a line to the returned file each time it runs.
fn spawned(repo: &TestRepo, scripts: &tempfile::TempDir) -> std::path::PathBuf {
    repo.init(&["--agents", "2"]).success();
    let runs = scripts.path().join("runs");
    let agent = write_script(
        scripts.path(),
        "agent.sh",
        &format!(
            "echo \"$1\" >> {runs}\n\
             echo work >> work.txt && git add work.txt && git commit -qm \"Work on #$1\"\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n",
            runs = runs.display()
        ),
    );
    repo.configure(&[
        ("bundling.trigger", "manual".to_owned()),
        ("agents.runtime", "command".to_owned()),
        ("agents.command", format!("{} {{issue}}", agent.display())),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "route:ready",
    ])
    .success();
    let report = repo
        .clambake(&["spawn", "--agent", "agent001", "--issue", "1", "--json"])
        .success()
        .json();
    assert_eq!(report["outcome"], "success", "{report}");
    assert_eq!(agent_runs(&runs), 1);
    runs
}

/// How many times the agent ran.
fn agent_runs(runs: &std::path::Path) -> usize {
    std::fs::read_to_string(runs).map_or(0, |text| text.lines().count())
}

/// Every inconsistency kind `agent status --json` reports.
fn problems(status: &serde_json::Value) -> Vec<String> {
    status
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|slot| slot["inconsistencies"].as_array().unwrap().clone())
        .map(|found| found["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn worktree(repo: &TestRepo) -> std::path::PathBuf {
    repo.path().join(".clambake/worktrees/agent001-1")
}

#[rstest]
fn agent_status_after_spawn_says_the_work_waits_for_land_not_that_it_drifted(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let scripts = tempfile::tempdir().unwrap();
    spawned(&repo, &scripts);

    let status = repo.clambake(&["agent", "status", "--json"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let status = status.json();
    assert_eq!(problems(&status), Vec::<String>::new(), "{status:#}");
    let slot = &status[0];
    assert_eq!(slot["agent"], "agent001", "{status:#}");
    assert_eq!(slot["finished"]["issue"], 1, "{status:#}");
    assert_eq!(slot["finished"]["attempt"], 1, "{status:#}");

    let shown = repo.clambake(&["agent", "status"]).success();
    assert!(
        shown
            .stdout
            .contains("`clambake land --agent agent001` lands it"),
        "{}",
        shown.stdout
    );
    assert!(
        !shown.stdout.contains("ProcessDeadButWorking"),
        "{}",
        shown.stdout
    );
}

#[rstest]
fn agent_recover_after_spawn_leaves_the_finished_work_for_land(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let scripts = tempfile::tempdir().unwrap();
    spawned(&repo, &scripts);
    let tip = repo.git(&["rev-parse", "agent001/1-add-greeting"]);

    repo.clambake(&["agent", "recover", "--all"]).success();
    assert_eq!(
        repo.labels_of(1),
        ["agent001"],
        "still claimed, not requeued"
    );
    assert!(worktree(&repo).is_dir(), "the worktree is left in place");
    assert_eq!(repo.git(&["rev-parse", "agent001/1-add-greeting"]), tip);
    let comments = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json();
    assert_eq!(comments["comments"], serde_json::json!([]), "{comments:#}");

    let landed = repo
        .clambake(&["land", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(landed["commits_ahead"], 1, "{landed}");
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert!(!worktree(&repo).exists());
}

#[rstest]
fn a_run_after_spawn_lands_the_finished_work_without_running_the_agent_again(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let scripts = tempfile::tempdir().unwrap();
    let runs = spawned(&repo, &scripts);

    let run = repo.clambake(&["run", "--until-idle"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(agent_runs(&runs), 1, "the agent ran again: {}", run.stdout);
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert!(!worktree(&repo).exists(), "landed as the run loop lands");
    assert_eq!(
        repo.git(&["rev-list", "--count", "main..agent001/1-add-greeting"]),
        "1"
    );
    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.last(),
        Some(&"complete_work"),
        "the slot is free: {history:#}"
    );
    let status = repo.clambake(&["agent", "status", "--json"]).success();
    assert_eq!(problems(&status.json()), Vec::<String>::new());
}

#[rstest]
fn a_slot_whose_finished_work_waits_for_land_takes_no_second_issue(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let scripts = tempfile::tempdir().unwrap();
    let runs = spawned(&repo, &scripts);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Second",
        "--label",
        "route:ready",
    ])
    .success();

    let refused = repo.clambake(&["spawn", "--agent", "agent001", "--issue", "2"]);

    assert_eq!(refused.code, 8, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("agent001 still holds issue #1"),
        "{}",
        refused.stderr
    );
    assert_eq!(agent_runs(&runs), 1);
    assert_eq!(repo.labels_of(2), ["route:ready"]);
    repo.clambake(&["land", "--agent", "agent001"]).success();
    repo.clambake(&["spawn", "--agent", "agent001", "--issue", "2"])
        .success();
    assert_eq!(agent_runs(&runs), 2);
}
