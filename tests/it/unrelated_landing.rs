//! Work that shares no history with the base (a root commit of its own, as when a branch is
//! deleted under a running agent) is refused wherever it would land or ride: the run loop and
//! `clambake land` keep it archived, open no pull request, and mark the issue `route:failed`
//! saying why; a train leaves it waiting, with why, instead of opening a pull request that can
//! never merge.

use rstest::rstest;

use clambake::core::queue::labels;
use clambake::core::recovery::drift::archive_ref;

use crate::backend::Backend;
use crate::bundle_cli::waiting_issues;
use crate::support::{TestRepo, write_script};

/// Makes `branch` a root commit (no parent) holding one file.
fn unrelated_branch(repo: &TestRepo, branch: &str) -> String {
    let blob = repo.git_stdin(&["hash-object", "-w", "--stdin"], "no history\n");
    let tree = repo.git_stdin(&["mktree"], &format!("100644 blob {blob}\talone.txt\n"));
    let commit = repo.git(&["commit-tree", &tree, "-m", "A history of its own"]);
    repo.git(&["update-ref", &format!("refs/heads/{branch}"), &commit]);
    repo.publish(branch);
    commit
}

#[rstest]
fn the_run_loop_refuses_work_whose_branch_was_deleted_under_its_agent(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let scripts = tempfile::tempdir().unwrap();
    // The agent's branch is deleted under it; its next commit starts a history of its own.
    let script = write_script(
        scripts.path(),
        "agent.sh",
        r#"echo '{"type":"system","subtype":"init","session_id":"s-1","model":"scripted"}'
branch=$(git symbolic-ref --short HEAD)
git update-ref -d "refs/heads/$branch"
echo hi > greeting.txt && git add greeting.txt && git commit -qm 'Add greeting'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01}'
"#,
    );
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        ("agents.command", script.display().to_string()),
        ("agents.max_attempts", "1".to_owned()),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        labels::READY,
    ])
    .success();

    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();

    let branch = "agent001/1-add-greeting";
    let tip = repo.git(&["rev-parse", branch]);
    assert_eq!(
        repo.git(&["rev-list", "--max-parents=0", branch]),
        tip,
        "the branch is a root commit"
    );
    let disposed: Vec<&serde_json::Value> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "disposed")
        .collect();
    assert_eq!(disposed.len(), 1, "{summary:#}");
    assert_eq!(disposed[0]["disposition"]["kind"], "refused", "{summary:#}");
    let why = disposed[0]["disposition"]["why"].as_str().unwrap();
    assert!(why.contains("shares no history with `main`"), "{why}");
    assert_eq!(repo.labels_of(1), [labels::FAILED]);
    assert!(
        repo.last_comment_on(1)
            .contains("Clambake refused to land this work"),
        "{:?}",
        repo.comments_on(1)
    );
    assert!(
        repo.pull_requests().is_empty(),
        "{:#?}",
        repo.pull_requests()
    );
    assert_eq!(repo.git(&["rev-parse", &archive_ref(branch, &tip)]), tip);
    // The slot is free and the state consistent.
    let validate = repo.clambake(&["agent", "validate", "--all"]);
    assert_eq!(validate.code, 0, "{}{}", validate.stdout, validate.stderr);
    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["event"], "abandon", "{history:#}");
}

#[rstest]
fn land_by_hand_refuses_work_with_no_merge_base(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "agent001",
    ])
    .success();
    let branch = "agent001/1-add-greeting";
    let tip = unrelated_branch(&repo, branch);

    let refused = repo.clambake(&["land", "--agent", "agent001"]);

    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("refused to land #1"),
        "{}",
        refused.stderr
    );
    assert_eq!(repo.labels_of(1), [labels::FAILED]);
    assert!(
        repo.last_comment_on(1)
            .contains("Clambake refused to land this work")
    );
    assert!(repo.pull_requests().is_empty());
    assert_eq!(repo.git(&["rev-parse", &archive_ref(branch, &tip)]), tip);
    assert_eq!(repo.git(&["rev-parse", branch]), tip, "the branch is kept");
}

#[rstest]
fn a_train_leaves_a_branch_with_no_merge_base_waiting_without_a_pull_request(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    for title in ["One", "Two", "Alone"] {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            labels::REVIEW,
        ])
        .success();
    }
    repo.branch_with_file("agent001/1-one", "main", "one.txt", "1\n");
    repo.branch_with_file("agent002/2-two", "main", "two.txt", "2\n");
    unrelated_branch(&repo, "agent003/3-alone");

    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();

    assert_eq!(
        train["bundles"][0]["issues"],
        serde_json::json!([1, 2]),
        "{train:#}"
    );
    assert!(
        train["individual"].as_array().unwrap().is_empty(),
        "{train:#}"
    );
    assert_eq!(waiting_issues(&train), [3]);
    let why = train["waiting"][0]["why"].as_str().unwrap();
    assert!(why.contains("shares no history with the base"), "{why}");
    let heads: Vec<String> = repo
        .pull_requests()
        .iter()
        .map(|pr| pr["head"].as_str().unwrap().to_owned())
        .collect();
    assert!(!heads.contains(&"agent003/3-alone".to_owned()), "{heads:?}");
}
