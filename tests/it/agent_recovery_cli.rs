//! `clambake agent status|diagnose|recover|force-reset|validate` through the binary: exit 0
//! when consistent, 1 when inconsistencies remain, the code of its kind on errors.

use clambake::core::lifecycle::machine::State;
use clambake::core::recovery::drift::archive_ref;

use rstest::rstest;

use crate::backend::Backend;
use crate::recovery_world::TestWorld;

#[rstest]
#[tokio::test]
async fn drift_is_diagnosed_recovered_and_validated(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let repo = &world.repo;
    assert_eq!(repo.clambake(&["agent", "validate", "--all"]).code, 0);
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 2);
    let tip = world.tip(&branch);
    // The journal has agent001 working, but no process runs in its worktree: it died.
    world.working("agent001", issue, &branch, 1);

    let validate = repo.clambake(&["agent", "validate", "--all", "--json"]);
    assert_eq!(validate.code, 1, "{}", validate.stderr);
    assert_eq!(
        validate.json()["inconsistencies"],
        serde_json::json!(["ProcessDeadButWorking"])
    );
    let diagnose = repo.clambake(&["agent", "diagnose", "--all", "--json"]);
    assert_eq!(diagnose.code, 1);
    let plans = diagnose.json();
    assert_eq!(plans[0]["inconsistency"]["kind"], "ProcessDeadButWorking");
    assert_eq!(plans[0]["inconsistency"]["branch"]["commits_ahead"], 2);
    assert_eq!(plans[0]["steps"][0]["step"], "archive_branch");
    let text = repo.clambake(&["agent", "diagnose", "--all"]).stdout;
    assert!(text.contains("archive `agent001/1-fix`"), "{text}");

    let dry = repo.clambake(&["agent", "recover", "--all", "--dry-run"]);
    assert_eq!(dry.code, 1);
    assert!(
        !world.has_ref(&archive_ref(&branch, &tip)),
        "a dry run changes nothing"
    );

    let status = repo.clambake(&[
        "agent",
        "status",
        "--agent",
        "agent001",
        "--show-state",
        "--json",
    ]);
    assert_eq!(status.code, 1);
    assert_eq!(status.json()[0]["state"]["Working"]["issue"], issue);

    let recovered = repo.clambake(&["agent", "recover", "--agent", "agent001", "--json"]);
    assert_eq!(
        recovered.code, 0,
        "{}{}",
        recovered.stdout, recovered.stderr
    );
    assert_eq!(recovered.json()["remaining"], serde_json::json!([]));
    assert!(world.has_ref(&archive_ref(&branch, &tip)));
    assert_eq!(world.state("agent001"), State::Idle {});
    assert_eq!(world.labels(issue).await, ["route:ready"]);
    assert_eq!(world.tip(&branch), tip, "the work stays for the retry");
    assert_eq!(repo.clambake(&["agent", "validate", "--all"]).code, 0);
    let status = repo.clambake(&["agent", "status"]).success().stdout;
    assert!(status.contains("Idle") && status.contains("ok"), "{status}");
    repo.assert_no_violations();
}

#[rstest]
#[tokio::test]
async fn force_reset_archives_the_work_and_cleans_the_labels(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let repo = &world.repo;
    let issue = world.issue(&["agent002"]).await;
    let branch = world.branch("agent002", issue, 1);
    world.working("agent002", issue, &branch, 1);
    let worktree = world.worktree("agent002", issue, &branch);
    std::fs::write(worktree.join("half-done.txt"), "work in progress\n").unwrap();

    let reset = repo.clambake(&["agent", "force-reset", "--agent", "agent002", "--json"]);
    assert_eq!(reset.code, 0, "{}{}", reset.stdout, reset.stderr);
    assert_eq!(world.state("agent002"), State::Idle {});
    assert!(!worktree.exists());
    let tip = world.tip(&branch);
    assert!(
        world.has_ref(&archive_ref(&branch, &tip)),
        "the tip with the leftovers is kept"
    );
    let files = repo.git(&["ls-tree", "--name-only", &tip]);
    assert!(files.contains("half-done.txt"), "{files}");
    assert_eq!(
        world.labels(issue).await,
        ["route:ready"],
        "requeued, work kept"
    );
    assert!(
        world.has_ref(&format!("refs/heads/{branch}")),
        "the branch stays for the retry"
    );
    assert!(world.last_comment(issue).await.contains("force-reset"));
    assert_eq!(repo.clambake(&["agent", "validate", "--all"]).code, 0);
    let again = repo.clambake(&["agent", "force-reset", "--agent", "agent002"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    repo.assert_no_violations();
}

#[test]
fn errors_exit_by_kind_and_say_what_was_wrong() {
    let repo = crate::support::TestRepo::new();
    let uninitialised = repo.clambake(&["agent", "validate", "--all"]);
    assert_eq!(uninitialised.code, 3);
    assert!(
        uninitialised.stderr.contains("clambake init"),
        "{}",
        uninitialised.stderr
    );
    repo.clambake(&["init"]).success();
    let bad = repo.clambake(&["agent", "force-reset", "--agent", "robot7"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`robot7` is not an agent id"),
        "{}",
        bad.stderr
    );
    let scope = repo.clambake(&["agent", "recover"]);
    assert_eq!(scope.code, 2, "--agent or --all is required");
}

#[rstest]
#[tokio::test]
async fn with_the_state_machine_disabled_labels_alone_are_the_belief(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let repo = &world.repo;
    repo.clambake(&["config", "set", "state_machine.enabled", "false"])
        .success();
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 1);

    let status = repo.clambake(&["agent", "status", "--json"]);
    assert!(
        status
            .stderr
            .contains("validation against the journal is off"),
        "{}",
        status.stderr
    );
    assert_eq!(
        status.json()[0]["state"]["Working"]["branch"],
        branch.as_str()
    );
    // No process works in its worktree: from the labels, agent001's process died.
    let validate = repo.clambake(&["agent", "validate", "--all", "--json"]);
    assert_eq!(validate.code, 1);
    assert_eq!(
        validate.json()["inconsistencies"],
        serde_json::json!(["ProcessDeadButWorking"])
    );
    let recovered = repo.clambake(&["agent", "recover", "--all", "--json"]);
    assert_eq!(recovered.code, 0, "{}", recovered.stdout);
    let report = recovered.json();
    let outcomes: Vec<&str> = report["executed"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["done", "skipped", "done", "done"],
        "archive, the journal step skipped, labels, comment"
    );
    assert_eq!(world.labels(issue).await, ["route:ready"]);
    let journal =
        clambake::ports::journal::Journal::current_states(world.journal.as_ref()).unwrap();
    assert!(
        journal.is_empty(),
        "the journal is not written: {journal:?}"
    );
    assert_eq!(repo.clambake(&["agent", "validate", "--all"]).code, 0);
    repo.assert_no_violations();
}
