//! A run killed while `git worktree add` was making an attempt's worktree leaves it locked as
//! "initializing" and half checked out: the next run must make it again, not work in it. A git
//! killed while writing a worktree's index leaves its `index.lock`: the next attempt there must
//! not fail on it.

use crate::support::TestRepo;

/// Found by the orchestrator property test: a run killed during `git worktree add` leaves the
/// worktree locked as "initializing" and half checked out. The next attempt made it again instead of working in it
/// (where the missing files were committed as the agent's work, and the worktree could never be
/// removed).
#[test]
fn a_worktree_left_half_made_by_a_killed_run_is_made_again() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Task",
        "--label",
        "route:ready",
    ])
    .success();
    let worktree = repo.path().join(".clambake/worktrees/agent001-1");
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        "-b",
        "agent001/1-task",
        worktree.to_str().unwrap(),
        "main",
    ]);
    std::fs::remove_file(worktree.join("README.md")).unwrap();
    std::fs::write(
        repo.path().join(".git/worktrees/agent001-1/locked"),
        "initializing",
    )
    .unwrap();

    repo.clambake(&["run", "--until-idle"]).success();

    assert_eq!(
        repo.git(&["rev-list", "--count", "main..agent001/1-task"]),
        "1"
    );
    assert_eq!(
        repo.git(&["diff", "--name-only", "main", "agent001/1-task"]),
        "simulated/1-task.md",
        "only the agent's work is on the branch"
    );
}

/// Seen in the chaos test (seed 1796123996384483172): a git killed mid-write left
/// `index.lock` in an attempt's worktree, and every later attempt there failed at `git add`.
/// No live process holds the lock, so the next attempt removes it and works.
#[test]
fn an_index_lock_a_killed_git_left_in_a_worktree_does_not_fail_the_next_attempt() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.configure(&[
        ("agents.real_processes", "false".to_owned()),
        ("agents.max_attempts", "1".to_owned()),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Task",
        "--label",
        "route:ready",
    ])
    .success();
    // What the killed run left: the claim, and its attempt's worktree with the lock in it.
    repo.clambake(&[
        "issue",
        "label",
        "1",
        "--add",
        "agent001",
        "--remove",
        "route:ready",
    ])
    .success();
    let worktree = repo.path().join(".clambake/worktrees/agent001-1");
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        "-b",
        "agent001/1-task",
        worktree.to_str().unwrap(),
        "main",
    ]);
    let lock = repo.path().join(".git/worktrees/agent001-1/index.lock");
    std::fs::write(&lock, "").unwrap();

    repo.clambake(&["run", "--until-idle"]).success();

    assert!(!lock.exists(), "the stale lock is gone");
    assert_eq!(
        repo.git(&["diff", "--name-only", "main", "agent001/1-task"]),
        "simulated/1-task.md",
        "the attempt committed its work"
    );
    assert_ne!(repo.labels_of(1), ["route:failed"]);
}
