//! The `/proc` adapter of the agent process port: agents are found by the worktree they run in.

use std::process::Command;

use clambake::adapters::processes::WorktreeProcesses;
use clambake::ports::processes::AgentProcesses;

#[tokio::test]
async fn finds_agent_processes_by_their_worktree_and_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let worktree = dir.path().join("agent001-123");
    std::fs::create_dir_all(&worktree).unwrap();
    let mut agent = Command::new("sleep")
        .arg("600")
        .current_dir(&worktree)
        .spawn()
        .unwrap();
    let mut elsewhere = Command::new("sleep")
        .arg("600")
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let processes = WorktreeProcesses::new(dir.path());
    let found = processes.processes().await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0].agent.as_str(),
            found[0].issue,
            found[0].pid,
            found[0].alive
        ),
        ("agent001", 123, agent.id(), true)
    );
    let stopping = tokio::spawn(async move { processes.stop("agent001").await });
    // The adapter waits for the process to go; reaping it is its parent's (this test's) job.
    let status = tokio::task::spawn_blocking(move || agent.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success());
    stopping.await.unwrap().unwrap();
    let processes = WorktreeProcesses::new(dir.path());
    assert_eq!(processes.processes().await.unwrap(), []);
    processes.stop("agent001").await.unwrap();
    elsewhere.kill().unwrap();
    elsewhere.wait().unwrap();
}
