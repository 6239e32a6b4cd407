//! `clambake spawn` through the real binary.

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, write_script};

/// An initialised repository on `backend` with issue #1 and a comment on it.
fn repo_with_issue(backend: Backend) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--body",
        "Say hi",
        "--json",
    ])
    .success();
    repo.clambake(&["issue", "comment", "1", "--body", "In French, please."])
        .success();
    repo
}

#[rstest]
fn spawn_runs_the_simulated_agent_to_a_success(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = repo_with_issue(backend);
    let args = [
        "spawn",
        "--agent",
        "agent001",
        "--issue",
        "1",
        "--runtime",
        "simulated",
        "--json",
    ];
    let first = repo.clambake(&args).success().json();
    assert_eq!(first["outcome"], "success");
    assert_eq!(first["branch"], "agent001/1-add-greeting");
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["commits_ahead"], 1);
    assert_eq!(first["runtime"], "simulated");
    assert!(
        first["log"]
            .as_str()
            .unwrap()
            .ends_with(".clambake/logs/agent001-1-1.jsonl")
    );
    let second = repo.clambake(&args).success().json();
    assert_eq!(second["attempt"], 2);
    assert_eq!(repo.git(&["branch", "--show-current"]), "main");
    assert_eq!(
        repo.labels_of(1),
        ["agent001"],
        "the finished work keeps its claim"
    );
    repo.assert_no_violations();
}

#[rstest]
fn spawn_hands_the_command_runtime_the_prompt_file(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = repo_with_issue(backend);
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(
        scripts.path(),
        "agent.sh",
        "cp \"$2\" prompt-seen.md\necho \"issue $1\"\n",
    );
    let template = format!("{} {{issue}} {{prompt_file}}", script.display());
    repo.clambake(&["config", "set", "agents.command", &template])
        .success();
    let report = repo
        .clambake(&[
            "spawn",
            "--agent",
            "agent002",
            "--issue",
            "1",
            "--runtime",
            "command",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["outcome"], "success", "{report}");
    assert_eq!(report["committed_leftovers"], true);
    let prompt = repo.git(&["show", "agent002/1-add-greeting:prompt-seen.md"]);
    assert!(prompt.contains("issue #1: Add greeting"), "{prompt}");
    assert!(prompt.contains("Say hi"));
    assert!(prompt.contains("In French, please."));
    assert!(prompt.contains("Leave your changes in the worktree, uncommitted"));
    repo.assert_no_violations();
}

#[test]
fn spawn_refuses_a_name_that_is_not_an_agent_slot() {
    let repo = repo_with_issue(Backend::Local);
    let out = repo.clambake(&[
        "spawn",
        "--agent",
        "bob",
        "--issue",
        "1",
        "--runtime",
        "simulated",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`bob` is not an agent id"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("agent001"), "{}", out.stderr);
}

#[test]
fn a_real_runtime_asked_for_while_real_agents_are_rolled_back_is_refused() {
    let repo = repo_with_issue(Backend::Local);
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    let refused = repo.clambake(&[
        "spawn",
        "--agent",
        "agent001",
        "--issue",
        "1",
        "--runtime",
        "claude",
    ]);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the claude runtime was asked for, but agents.real_processes is false"),
        "{}",
        refused.stderr
    );
    assert!(
        repo.git(&["branch", "--list", "agent001/*"]).is_empty(),
        "nothing ran"
    );
    // Without --runtime the rolled-back configuration runs the simulated agent.
    let simulated = repo
        .clambake(&["spawn", "--agent", "agent001", "--issue", "1", "--json"])
        .success()
        .json();
    assert_eq!(simulated["runtime"], "simulated");
}
