//! The rollback switches: each turns a capability off for every later run, and back on.

use crate::support::TestRepo;

fn repo_with_ready_issues(count: u32) -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    for n in 1..=count {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }
    repo
}

fn get(repo: &TestRepo, key: &str) -> String {
    repo.clambake(&["config", "get", key])
        .success()
        .stdout
        .trim()
        .to_owned()
}

#[test]
fn a_switch_needs_confirming_and_changes_nothing_without() {
    let repo = repo_with_ready_issues(0);
    let before = repo.read("clambake.toml");
    let out = repo.clambake(&["rollback", "--feature", "bundling"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("set bundling.enabled = false"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--confirm"), "{}", out.stderr);
    assert_eq!(repo.read("clambake.toml"), before);
}

#[test]
fn without_bundling_every_landed_branch_gets_its_own_pull_request() {
    let repo = repo_with_ready_issues(3);
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    repo.clambake(&["rollback", "--feature", "bundling", "--confirm"])
        .success();
    assert_eq!(get(&repo, "bundling.enabled"), "false");
    assert!(
        repo.read("clambake.toml")
            .contains("# false gives every landed branch"),
        "comments kept"
    );

    repo.clambake(&["run", "--until-idle"]).success();
    let prs = repo.clambake(&["pr", "list", "--json"]).success().json();
    let prs = prs.as_array().unwrap();
    assert_eq!(prs.len(), 3);
    for pr in prs {
        assert!(pr["head"].as_str().unwrap().starts_with("agent"), "{pr}");
        // Simulated agents did the work, and each pull request says so first.
        let body = pr["body"].as_str().unwrap();
        assert!(body.starts_with("> **Simulated work.**"), "{pr}");
        assert!(body.contains("\n\nCloses #"), "{pr}");
    }

    repo.clambake(&["rollback", "--feature", "bundling", "--enable", "--confirm"])
        .success();
    assert_eq!(get(&repo, "bundling.enabled"), "true");
}

#[test]
fn without_real_agents_the_simulated_agent_works() {
    let repo = repo_with_ready_issues(1);
    // A real runtime that could not start: the switch must keep it from being used at all.
    repo.clambake(&["config", "set", "agents.runtime", "command"])
        .success();
    repo.clambake(&[
        "config",
        "set",
        "agents.command",
        "/nonexistent/agent {issue}",
    ])
    .success();
    repo.clambake(&["rollback", "--feature", "real-agents", "--confirm"])
        .success();
    repo.clambake(&["run", "--until-idle"]).success();
    assert_eq!(repo.labels_of(1), ["route:review"]);
    let log = repo.git(&["log", "-1", "--format=%s", "agent001/1-task-1"]);
    assert_eq!(log, "[simulated] Work on issue #1");
}

#[test]
fn without_the_state_machine_labels_alone_manage_the_agents() {
    let repo = repo_with_ready_issues(2);
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    repo.clambake(&["rollback", "--feature", "state-machine", "--confirm"])
        .success();
    repo.clambake(&["run", "--until-idle"]).success();
    // Landed, and sent by a train: together by the run's last one, or alone by a scheduled
    // departure if the run crossed into a new window between the two landings.
    for issue in [1, 2] {
        let labels = repo.labels_of(issue);
        assert!(
            labels == ["route:bundled"] || labels == ["route:review"],
            "#{issue}: {labels:?}"
        );
    }
    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(history, serde_json::json!([]), "the journal is not written");
    let validate = repo.clambake(&["agent", "validate", "--all"]);
    assert_eq!(validate.code, 0, "{}{}", validate.stdout, validate.stderr);
}
