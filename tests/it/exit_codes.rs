//! Each exit code of the README's table, from the real binary in the situation that produces
//! it. A refused model key (7) is `claude_failures::a_refused_key_stops_the_run_and_gives_the_issue_back`;
//! 101 is Rust's own code for a panic, which no situation produces on purpose.

use clambake::app::agents::lock::RunLock;

use crate::recovery_world::TestWorld;
use crate::support::{CliOutput, TestRepo, clambake_in};

fn initialised() -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo
}

fn assert_code(out: &CliOutput, code: i32) {
    assert_eq!(
        out.code, code,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

#[test]
fn success_is_0() {
    assert_code(&initialised().clambake(&["status"]), 0);
}

#[tokio::test]
async fn inconsistencies_found_are_1() {
    let world = TestWorld::new().await;
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 1);
    // The journal has agent001 working, but no process runs in its worktree: it died.
    world.working("agent001", issue, &branch, 1);
    assert_code(&world.repo.clambake(&["agent", "validate", "--all"]), 1);
}

#[test]
fn a_failing_doctor_check_is_1() {
    let repo = TestRepo::new();
    assert_code(&repo.clambake(&["doctor"]), 1);
}

#[test]
fn usage_errors_are_2() {
    let repo = initialised();
    assert_code(&repo.clambake(&["no-such-command"]), 2);
    assert_code(&repo.clambake(&["agent", "history", "--agent", "bob"]), 2);
}

#[test]
fn not_initialised_is_3() {
    let outside = tempfile::tempdir().unwrap();
    assert_code(&clambake_in(outside.path(), &["status"]), 3);
    assert_code(&TestRepo::new().clambake(&["status"]), 3);
}

#[test]
fn busy_is_4() {
    let repo = initialised();
    repo.configure(&[("agents.runtime", "simulated")]);
    let _held = RunLock::acquire(&repo.path().join(".clambake"), "the exit code test").unwrap();
    let out = repo.clambake(&["run", "--once"]);
    assert_code(&out, 4);
    assert!(out.stderr.contains("the exit code test"), "{}", out.stderr);
}

#[test]
fn a_configuration_error_is_5() {
    let repo = initialised();
    repo.write("clambake.toml", "[agents\n");
    assert_code(&repo.clambake(&["status"]), 5);
}

#[test]
fn a_forge_error_is_6() {
    assert_code(&initialised().clambake(&["issue", "show", "99"]), 6);
}

#[test]
fn a_refused_request_is_8() {
    let repo = initialised();
    repo.clambake(&["issue", "create", "--title", "Done already"])
        .success();
    repo.clambake(&["issue", "close", "1"]).success();
    let out = repo.clambake(&["spawn", "--agent", "agent001", "--issue", "1"]);
    assert_code(&out, 8);
    assert!(out.stderr.contains("issue #1 is closed"), "{}", out.stderr);
}

#[test]
fn a_damaged_journal_is_a_system_error_9() {
    let repo = initialised();
    let journal = repo.path().join(".clambake/journal.db");
    std::fs::write(&journal, "not a database").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", journal.display()));
    }
    assert_code(
        &repo.clambake(&["agent", "history", "--agent", "agent001"]),
        9,
    );
}
