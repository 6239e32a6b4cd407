//! `clambake run` through the real binary: claims, attempts, landing, retries, failure, the
//! run lock, and resuming claims after a stop.

use std::os::unix::process::CommandExt;

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, wait_for};

/// An initialised repository on `backend` running the simulated agent with fast retries.
fn simulated_repo(backend: Backend, agents: &str, max_attempts: &str) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", agents]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("agents.max_attempts", max_attempts),
        // Trains only when the run goes idle, so what a test sees does not hang on the clock.
        ("bundling.trigger", "manual"),
    ]);
    repo
}

fn create(repo: &TestRepo, title: &str, body: &str, labels: &[&str]) {
    let mut args = vec!["issue", "create", "--title", title, "--body", body];
    for label in labels {
        args.extend(["--label", label]);
    }
    repo.clambake(&args).success();
}

#[rstest]
fn until_idle_lands_every_ready_issue_and_leaves_the_rest(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "2", "2");
    for n in 1..=4 {
        create(&repo, &format!("Task {n}"), "", &["route:ready"]);
    }
    create(&repo, "Not for agents", "", &["route:ready", "human-only"]);
    create(&repo, "Not queued", "", &[]);

    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    let landed = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "landed")
        .count();
    assert_eq!(landed, 4);
    for issue in 1..=4 {
        assert_eq!(repo.labels_of(issue), ["route:bundled"], "#{issue}");
    }
    let trains: Vec<&serde_json::Value> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "train_departed")
        .collect();
    assert_eq!(trains.len(), 1, "going idle sends one last train");
    assert_eq!(
        trains[0]["bundles"][0]["issues"].as_array().unwrap().len(),
        4
    );
    assert_eq!(repo.labels_of(5), ["human-only", "route:ready"]);
    assert!(repo.labels_of(6).is_empty());

    let branches = repo.git(&["branch", "--list", "agent*", "--format=%(refname:short)"]);
    assert_eq!(branches.lines().count(), 4, "{branches}");
    for line in branches.lines() {
        let ahead = repo.git(&["rev-list", "--count", &format!("main..{line}")]);
        assert_eq!(ahead, "1", "{line}");
        if backend == Backend::Github {
            let tip = repo.git(&["rev-parse", line]);
            assert_eq!(repo.origin_tip(line), Some(tip), "{line} is published");
        }
    }
    let worktrees = repo.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "landed worktrees are removed"
    );

    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        last["event"]["event"], "bundle",
        "the slot's landed work rode the train"
    );
    repo.assert_no_violations();
}

#[rstest]
fn a_failing_issue_is_retried_on_its_slot_then_marked_failed_with_its_work(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "2", "3");
    create(
        &repo,
        "Crashes",
        "simulate: outcome crash",
        &["route:ready"],
    );
    repo.clambake(&["run", "--until-idle"]).success();

    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let comments = repo.comments_on(1);
    assert_eq!(comments.len(), 3, "two retries announced, one failure told");
    let last = &comments[2];
    assert!(last.contains("All 3 attempts failed"), "{last}");
    assert!(last.contains("agent001/1-crashes"), "{last}");
    assert!(
        last.contains("init: session"),
        "the log's tail is quoted: {last}"
    );

    let branches = repo.git(&["branch", "--list", "agent*", "--format=%(refname:short)"]);
    assert_eq!(
        branches, "agent001/1-crashes",
        "every attempt continued on one slot's branch"
    );
    let kept = repo.git(&["log", "--format=%an %s", "main..agent001/1-crashes"]);
    assert_eq!(
        kept, "Clambake Work left uncommitted by agent001 on issue #1",
        "the crash's work was committed by Clambake; the retries found it already there"
    );
    repo.assert_no_violations();
}

#[rstest]
fn comments_count_attempts_as_max_attempts_counts_them(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "1", "3");
    create(
        &repo,
        "Crashes",
        "simulate: outcome crash",
        &["route:ready"],
    );
    // An attempt a stopped run interrupted left its log: it used a number, but counts for
    // nothing.
    let logs = repo.path().join(".clambake/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("agent001-1-1.jsonl"), "").unwrap();
    repo.clambake(&["run", "--until-idle"]).success();

    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let bodies = repo.comments_on(1);
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    for (n, body) in bodies.iter().enumerate() {
        let n = n + 1;
        assert!(
            body.starts_with(&format!("Attempt {n} of 3 by agent001 ended `crashed`")),
            "{body}"
        );
        if n < 3 {
            assert!(
                body.contains(&format!("try again (attempt {} of 3)", n + 1)),
                "{body}"
            );
        }
    }
    assert!(bodies[2].contains("All 3 attempts failed"), "{}", bodies[2]);
    repo.assert_no_violations();
}

#[rstest]
fn once_runs_one_round_of_claims(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let repo = simulated_repo(backend, "2", "1");
    for n in 1..=3 {
        create(&repo, &format!("Task {n}"), "", &["route:ready"]);
    }
    repo.clambake(&["run", "--once"]).success();
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert_eq!(repo.labels_of(2), ["route:review"]);
    assert_eq!(
        repo.labels_of(3),
        ["route:ready"],
        "the third waits for the next pass"
    );
    repo.assert_no_violations();
}

#[rstest]
fn a_claim_left_by_a_stopped_run_is_resumed_on_the_same_slot(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "2", "2");
    create(&repo, "Left behind", "", &["route:ready"]);
    // What a run killed right after claiming leaves: the label, but no attempt, no journal.
    repo.clambake(&[
        "issue",
        "label",
        "1",
        "--add",
        "agent002",
        "--remove",
        "route:ready",
    ])
    .success();
    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    assert_eq!(summary["events"][0]["event"], "resumed");
    assert_eq!(summary["events"][0]["agent"], "agent002");
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert!(
        !repo
            .git(&["branch", "--list", "agent002/1-left-behind"])
            .is_empty()
    );
    repo.assert_no_violations();
}

#[rstest]
fn a_second_run_is_refused_and_names_the_first(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "1", "1");
    create(&repo, "Hangs", "simulate: outcome hang", &["route:ready"]);
    let mut first = repo
        .clambake_command(&[])
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock = repo.path().join(".clambake/run.lock");
    wait_for("the first run to claim the issue", || {
        repo.labels_of(1) == ["agent001"]
    });
    let second = repo.clambake(&["run", "--once"]);
    assert_eq!(second.code, 4);
    assert!(
        second
            .stderr
            .contains("already running agents in this repository: `clambake run`, pid"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.stderr
    );
    // Nor may an agent be spawned by hand beside it: the run would adopt it as its own.
    let by_hand = repo.clambake(&["spawn", "--agent", "agent002", "--issue", "1"]);
    assert_eq!(by_hand.code, 4, "{}", by_hand.stderr);
    assert!(
        by_hand.stderr.contains("`clambake run`, pid"),
        "{}",
        by_hand.stderr
    );
    // Nor may its work be landed by hand: the run lands or retries it itself.
    let landed = repo.clambake(&["land", "--agent", "agent001"]);
    assert_eq!(landed.code, 4, "{}", landed.stderr);
    assert!(
        landed.stderr.contains("`clambake run`, pid"),
        "{}",
        landed.stderr
    );

    // SIGTERM: the hanging agent is stopped, its claim stays, and the run exits cleanly.
    let pid = nix::unistd::Pid::from_raw(first.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = first.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        repo.labels_of(1),
        ["agent001"],
        "the claim stays for the next run"
    );
    assert!(
        std::fs::read_to_string(&lock).unwrap().is_empty(),
        "the lock is released"
    );
    repo.assert_no_violations();
}

#[rstest]
fn an_agent_outliving_a_killed_run_is_readopted_and_landed(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let scripts = tempfile::tempdir().unwrap();
    // Waits for the go-ahead file, so the run can be killed while the agent is mid-work.
    let go = scripts.path().join("go");
    let agent = crate::support::write_script(
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
    create(&repo, "Outlives its run", "", &["route:ready"]);

    let mut first = repo
        .clambake_command(&[])
        .args(["run", "--until-idle"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the agent is registered, the run leaves an agent the next one re-adopts.
    wait_for("the agent to be registered", || {
        repo.clambake(&["agent", "list", "--json"]).success().json() != serde_json::json!([])
    });
    first.kill().unwrap();
    first.wait().unwrap();
    std::fs::write(&go, "").unwrap();

    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    assert_eq!(summary["events"][0]["event"], "adopted", "{summary}");
    let landed = &summary["events"][1];
    assert_eq!(landed["event"], "disposed", "{summary}");
    assert_eq!(landed["disposition"]["kind"], "landed", "{summary}");
    assert_eq!(repo.labels_of(1), ["route:review"]);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "agent001/1-outlives-its-run"]),
        "Work on #1"
    );
    repo.assert_no_violations();
}

#[rstest]
fn a_stray_agent_left_unregistered_in_a_worktree_is_stopped_before_the_claim_is_resumed(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "1", "1");
    create(&repo, "Stray", "", &["route:ready"]);
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
    // What a run killed between starting an agent and registering it leaves: the claim, the
    // worktree, and an agent process nobody watches.
    let worktree = repo.path().join(".clambake/worktrees/agent001-1");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "agent001/1-stray",
        worktree.to_str().unwrap(),
    ]);
    let mut stray = std::process::Command::new("sleep")
        .arg("600")
        .current_dir(&worktree)
        .env("CLAMBAKE_AGENT", "agent001")
        .process_group(0)
        .spawn()
        .unwrap();
    // A person's shell in the same directory is not an agent, and is left alone.
    let mut bystander = std::process::Command::new("sleep")
        .arg("600")
        .current_dir(&worktree)
        .spawn()
        .unwrap();

    repo.clambake(&["run", "--until-idle"]).success();
    // Stopped: exited by a signal, or already reaped (in its own group, it is one of the
    // orphans this process, as an agents' subreaper, reaps).
    match stray.wait() {
        Ok(status) => assert!(!status.success(), "the stray was stopped: {status:?}"),
        Err(error) => assert_eq!(error.raw_os_error(), Some(nix::libc::ECHILD), "{error}"),
    }
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander still runs"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    assert_eq!(repo.labels_of(1), ["route:review"]);
    repo.assert_no_violations();
}

#[rstest]
fn a_worktree_whose_metadata_a_kill_destroyed_is_set_aside_with_its_files(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "1", "1");
    create(&repo, "Broken", "", &["route:ready"]);
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
    std::fs::create_dir_all(&worktree).unwrap();
    std::fs::write(
        worktree.join(".git"),
        format!(
            "gitdir: {}\n",
            repo.path().join(".git/worktrees/agent001-1").display()
        ),
    )
    .unwrap();
    std::fs::write(worktree.join("notes.txt"), "keep me").unwrap();

    repo.clambake(&["run", "--until-idle"]).success();
    // Landed, and alone on the last train: a pull request of its own.
    assert_eq!(repo.labels_of(1), ["route:review"]);
    let aside: Vec<_> = std::fs::read_dir(repo.path().join(".clambake/broken-worktrees"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path().join("notes.txt")).unwrap(),
        "keep me"
    );
    repo.assert_no_violations();
}

#[rstest]
fn the_summary_says_why_a_branch_rode_alone_and_what_waits_behind_an_open_pull_request(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, "1", "1");
    create(
        &repo,
        "First edit",
        "simulate: edit shared.txt",
        &["route:ready"],
    );
    let first = repo.clambake(&["run", "--until-idle"]).success();
    // The only branch of its train rides alone: it did not fail to join anything.
    assert!(
        first
            .stdout
            .contains("carries #1 alone: it was the only branch left waiting"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("could not join"), "{}", first.stdout);
    let lone = repo.pull_requests()[0]["number"].as_u64().unwrap();

    // A later branch that clashes with that open pull request waits for it, and says so.
    create(
        &repo,
        "Second edit",
        "simulate: edit shared.txt",
        &["route:ready"],
    );
    let second = repo.clambake(&["run", "--until-idle"]).success();
    assert!(
        second
            .stdout
            .contains(&format!("waiting: #3: waits for #{lone} to merge")),
        "{}",
        second.stdout
    );
    assert_eq!(repo.labels_of(3), ["route:review"]);
    assert_eq!(repo.pull_requests().len(), 1);
    repo.assert_no_violations();
}
