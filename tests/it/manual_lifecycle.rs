//! The commands a person runs by hand go through the run loop's lifecycle: `spawn` takes the
//! same claim and journals the same steps, `land` cleans up as the run loop does; and the
//! journal shows `Working` while an agent works, and a restarted run's re-adoption.

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, wait_for, write_script};

/// Each of the slot's journal entries: its event and its cause.
fn history(repo: &TestRepo, agent: &str) -> Vec<(String, String)> {
    let json = repo
        .clambake(&["agent", "history", "--agent", agent, "--json"])
        .success()
        .json();
    json.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"]["event"].as_str().unwrap().to_owned(),
                e["cause"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn events(history: &[(String, String)]) -> Vec<&str> {
    history.iter().map(|(event, _)| event.as_str()).collect()
}

/// The kinds of inconsistency `agent status --json` reports, over every slot.
fn kinds(statuses: &serde_json::Value) -> Vec<String> {
    statuses
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|status| status["inconsistencies"].as_array().unwrap().clone())
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[rstest]
fn spawn_claims_the_issue_and_journals_it_and_land_cleans_up_as_the_run_loop_does(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "2"]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "route:ready",
    ])
    .success();

    let spawned = repo
        .clambake(&[
            "spawn",
            "--agent",
            "agent001",
            "--issue",
            "1",
            "--runtime",
            "simulated",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(spawned["outcome"], "success", "{spawned}");
    // Claimed as the run loop claims: a `run` cannot take it too.
    assert_eq!(repo.labels_of(1), ["agent001"]);
    let journaled = history(&repo, "agent001");
    assert_eq!(
        events(&journaled),
        ["assign", "start_work"],
        "{journaled:?}"
    );
    assert_eq!(journaled[0].1, "claimed by `clambake spawn`");
    assert_eq!(journaled[1].1, "the agent process started");

    // Something a person left in the worktree is kept, as the run loop keeps leftovers.
    let worktree = repo.path().join(".clambake/worktrees/agent001-1");
    std::fs::write(worktree.join("note.txt"), "left here\n").unwrap();
    repo.clambake(&["land", "--agent", "agent001"]).success();
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert_eq!(
        repo.git(&["show", "agent001/1-add-greeting:note.txt"]),
        "left here"
    );
    assert!(!worktree.exists(), "the worktree is removed");
    let journaled = history(&repo, "agent001");
    assert_eq!(
        events(&journaled),
        ["assign", "start_work", "start_work", "complete_work"],
        "{journaled:?}"
    );
    let status = repo.clambake(&["agent", "status", "--json"]);
    assert_eq!(status.code, 0, "{}", status.stdout);
    assert!(
        !kinds(&status.json()).contains(&"OrphanWorktree".to_owned()),
        "{}",
        status.stdout
    );
}

#[rstest]
fn spawn_refuses_an_issue_another_slot_holds(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "2"]).success();
    repo.clambake(&["issue", "create", "--title", "Taken", "--label", "agent002"])
        .success();
    let refused = repo.clambake(&[
        "spawn",
        "--agent",
        "agent001",
        "--issue",
        "1",
        "--runtime",
        "simulated",
    ]);
    assert_eq!(refused.code, 8, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("issue #1 is claimed by agent002, so agent001 cannot work on it"),
        "{}",
        refused.stderr
    );
    assert_eq!(repo.labels_of(1), ["agent002"]);
    assert!(repo.git(&["branch", "--list", "agent001/*"]).is_empty());
}

/// A child process killed when the test ends, passing or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes the agent's go-ahead file when dropped.
struct Release(std::path::PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

#[rstest]
fn the_journal_shows_working_while_the_agent_works_and_records_its_re_adoption(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let scripts = tempfile::tempdir().unwrap();
    // Works only once the go-ahead file exists, so the run can be looked at and killed first.
    let go = scripts.path().join("go");
    let agent = write_script(
        scripts.path(),
        "agent.sh",
        &format!(
            "echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}}'\n\
             while [ ! -e {go} ]; do sleep 0.05; done\n\
             echo work > work.txt && git add work.txt && git commit -qm \"Work on #$1\"\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n",
            go = go.display()
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
        "Slow",
        "--label",
        "route:ready",
    ])
    .success();
    let start_run = || {
        Reaped(
            repo.clambake_command(&["run", "--until-idle"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    // The agent waits for `go`: written on the way out too, so that it never outlives the test.
    let _release = Release(go.clone());

    let mut first = start_run();
    wait_for("the agent to be registered", || {
        repo.clambake(&["agent", "list", "--json"]).success().json() != serde_json::json!([])
    });
    let shown = repo
        .clambake(&["agent", "status", "--agent", "agent001", "--json"])
        .json();
    assert!(
        shown[0]["state"]["Working"].is_object(),
        "while the agent works: {shown}"
    );
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    let mut second = start_run();
    wait_for("the re-adoption to be journaled", || {
        history(&repo, "agent001").len() > 2
    });
    std::fs::write(&go, "").unwrap();
    assert!(second.0.wait().unwrap().success());

    let journaled = history(&repo, "agent001");
    assert_eq!(
        events(&journaled),
        [
            "assign",
            "start_work",
            "start_work",
            "start_work",
            "complete_work"
        ],
        "{journaled:?}"
    );
    assert_eq!(journaled[1].1, "the agent process started");
    assert!(journaled[2].1.starts_with("re-adopted"), "{journaled:?}");
    assert_eq!(repo.labels_of(1), ["route:review"]);
}
