//! Processes and trains, as an adversary found them failing: each test is one way that was
//! closed.

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::process::{ProcessTracking, is_running};
use clambake::adapters::hosts::local::procfs;
use clambake::adapters::hosts::local::supervisor::supervise;
use clambake::app::Workspace;
use clambake::app::agents::attempt::open_host;
use clambake::core::agents::containment::{cgroup_dir, own_cgroup};
use clambake::ports::AgentRuntime;
use tokio::sync::oneshot;

use crate::process_escape::{LIMITS, spec};
use crate::support::{TestRepo, wait_for, wait_for_async, write_script};

/// A process of the attempt that moves itself out of the attempt's cgroup (back into the one
/// it was made in, which whoever could join it can write) still carries the attempt's marker,
/// and is stopped with the attempt by it.
#[tokio::test]
async fn a_process_that_leaves_the_attempt_cgroup_is_stopped_with_its_attempt() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let parent = cgroup_dir(&mountinfo, own_cgroup(&ours).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "(setsid sh -c 'echo $$ > {procs}; echo $$ > moved.pid; exec sleep 300' &)\n\
         while [ ! -s moved.pid ]; do sleep 0.01; done\n\
         exit 0\n",
        procs = parent.join("cgroup.procs").display()
    );
    let script = write_script(dir.path(), "agent.sh", &body);
    let runtime = CommandRuntime::with_tracking(
        script.display().to_string(),
        String::new(),
        ProcessTracking::CgroupWhereAvailable,
    );
    let spec = spec(dir.path());
    let agent = runtime.start(&spec).await.unwrap();
    let containment = agent.containment.clone().unwrap();
    assert!(containment.cgroup.is_some(), "{containment:?}");
    supervise(agent, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    let pid: u32 = std::fs::read_to_string(dir.path().join("moved.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let survived = procfs::stat(pid).is_some_and(|s| is_running(pid, s.start_time));
    let marked = procfs::processes_marked("CLAMBAKE_ATTEMPT", &containment.marker);
    // Clean up before asserting.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(
        !survived,
        "pid {pid} left the attempt cgroup and outlived the attempt, still carrying its marker \
         (found by marker: {marked:?})"
    );
}

/// `clambake terminate` on a slot whose agent already finished (successfully, while no run
/// watched it) answers "not running" and leaves no stop request: the next run lands the work.
#[tokio::test(flavor = "multi_thread")]
async fn terminate_of_an_agent_that_already_succeeded_leaves_its_success_alone() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    let outside = tempfile::tempdir().unwrap();
    let release = outside.path().join("release");
    let script = write_script(
        outside.path(),
        "agent.sh",
        &format!(
            "while [ ! -e {release} ]; do sleep 0.05; done\n\
             echo done > work.txt\n\
             git add -A && git commit -qm 'Do the work'\n\
             exit 0\n",
            release = release.display()
        ),
    );
    repo.configure(&[
        ("agents.runtime", "command"),
        ("agents.command", script.to_str().unwrap()),
        ("agents.max_attempts", "1"),
        ("bundling.trigger", "manual"),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Finish me",
        "--label",
        "route:ready",
    ])
    .success();
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["run", "--no-view"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let entry = wait_for_async("the run to start its agent", async || {
        open_host(&workspace).unwrap().list().unwrap().pop()
    })
    .await;
    // The orchestrator dies; the agent finishes its work with nobody watching.
    run.kill().unwrap();
    run.wait().unwrap();
    std::fs::write(&release, "").unwrap();
    let status = entry.logs.stdout.with_extension("status");
    wait_for_async("the agent's waiter to record its exit", async || {
        status.exists()
    })
    .await;
    assert_eq!(std::fs::read_to_string(&status).unwrap(), "0\n");
    // A person cleans up before restarting: the slot is "not running", says terminate.
    let terminated = repo.clambake(&["terminate", "--agent", "agent001", "--grace", "1s"]);
    assert_eq!(terminated.code, 8, "{}", terminated.stdout);
    assert!(
        terminated.stderr.contains("agent001 is not running"),
        "{}",
        terminated.stderr
    );
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    assert_eq!(
        repo.labels_of(1),
        ["route:review"],
        "a successful attempt was judged killed: {:?}",
        repo.comments_on(1)
    );
}

/// `on_land`: a departure that sent nothing (its only branch waits for an open pull request)
/// is not counted, so once that pull request is gone the waiting branch leaves.
#[test]
fn on_land_a_branch_that_waited_for_an_open_pull_request_leaves_once_it_is_gone() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.write("shared.txt", "base\n");
    repo.commit_all("a file to fight over");
    repo.clambake(&["config", "set", "bundling.trigger", "on_land"])
        .success();
    let land = |agent: &str, slug: &str, contents: &str| {
        repo.landed_issue(agent, slug, "shared.txt", contents)
    };
    let first = land("agent001", "one", "one\n");
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    let lone = train["individual"][0]["number"]
        .as_u64()
        .unwrap_or_else(|| panic!("{train}"));
    next_second();
    let second = land("agent002", "two", "two\n");
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert!(
        train["bundles"].as_array().unwrap().is_empty()
            && train["individual"].as_array().unwrap().is_empty(),
        "#{second} should wait for #{lone}: {train}"
    );
    next_second();
    // #first's own pull request is turned down: nothing holds #second back any more.
    repo.clambake(&["pr", "close", &lone.to_string()]).success();
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert!(
        train["individual"]
            .as_array()
            .unwrap()
            .iter()
            .chain(train["bundles"].as_array().unwrap())
            .any(|pr| pr["issues"]
                .as_array()
                .is_some_and(|issues| issues.contains(&second.into()))),
        "#{second} (after #{first}) never leaves: {}",
        train["departure"]
    );
}

/// `on_land`: work counts as landed when it moves to review, not when its agent committed it.
/// An agent that committed before a train left (a killed run left it for the next run to judge)
/// and lands after it still makes the next train leave.
#[test]
fn on_land_work_committed_before_a_train_but_landed_after_it_leaves() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.clambake(&["config", "set", "bundling.trigger", "on_land"])
        .success();
    let first = repo.landed_issue("agent001", "one", "one.txt", "one\n");
    // The second agent's commit is older than any train; its issue is still claimed.
    let second = repo.create_issue("two", "agent002");
    let branch = format!("agent002/{second}-two");
    let tip = repo.branch_with_file(&branch, "main", "two.txt", "two\n");
    let tree = format!("{tip}^{{tree}}");
    let old = repo.git_env(
        &["commit-tree", &tree, "-p", "main", "-m", "Work on #2"],
        &[("GIT_COMMITTER_DATE", "@1577836800 +0000")],
    );
    repo.git(&["update-ref", &format!("refs/heads/{branch}"), &old]);
    let carried = |train: &serde_json::Value, number: u64| {
        train["individual"]
            .as_array()
            .unwrap()
            .iter()
            .chain(train["bundles"].as_array().unwrap())
            .any(|pr| pr["issues"].as_array().unwrap().contains(&number.into()))
    };
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert!(carried(&train, first), "#{first} does not leave: {train}");

    // The second lands after that train, as a run lands it.
    repo.clambake(&[
        "issue",
        "label",
        &second.to_string(),
        "--add",
        "route:review",
        "--remove",
        "agent002",
    ])
    .success();
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert!(carried(&train, second), "#{second} never leaves: {train}");
}

/// Clambake is the subreaper of its agents' orphans: one in a session of its own that exits
/// while its attempt still runs is reaped too, not left a zombie of the orchestrator.
#[tokio::test]
async fn an_orphan_that_exits_during_its_attempt_is_reaped() {
    let dir = tempfile::tempdir().unwrap();
    // The agent ends only once its orphan has exited (reaped, or a zombie).
    let body = "(setsid sh -c 'echo $$ > orphan.pid; sleep 0.2' &)\n\
                while [ ! -s orphan.pid ]; do sleep 0.01; done\n\
                pid=$(cat orphan.pid)\n\
                while [ -e /proc/$pid ] && [ \"$(cut -d' ' -f3 /proc/$pid/stat)\" != Z ]; do sleep 0.01; done\n\
                exit 0\n";
    let script = write_script(dir.path(), "agent.sh", body);
    let runtime = CommandRuntime::with_tracking(
        script.display().to_string(),
        String::new(),
        ProcessTracking::MarkerOnly,
    );
    let spec = spec(dir.path());
    let agent = runtime.start(&spec).await.unwrap();
    supervise(agent, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    let pid: u32 = std::fs::read_to_string(dir.path().join("orphan.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Gone from the process table: it exited, and was reaped.
    wait_for_async(
        &format!("the orphan {pid} to be reaped"),
        async || match procfs::stat(pid) {
            None => Ok(()),
            Some(stat) => Err(format!("{stat:?}")),
        },
    )
    .await;
}

/// Waits until the clock has passed into the next whole second: departures and landings are
/// named to the second, so what happens after this is later than what happened before.
fn next_second() {
    let now = || jiff::Timestamp::now().as_second();
    let before = now();
    wait_for("the clock to pass a second", || now() > before);
}

/// A bundle branch named in the future (another orchestrator's clock ahead, a mistaken push)
/// is not taken as the last departure: the schedule is not held back until then.
#[test]
fn a_departure_named_in_the_future_does_not_stop_the_schedule() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let land =
        |agent: &str, slug: &str| repo.landed_issue(agent, slug, &format!("{slug}.txt"), "x\n");
    land("agent001", "one");
    repo.git(&["branch", "clambake/bundle-20990101T0000Z", "main"]);
    let first = repo.clambake(&["bundle", "--json"]).success().json();
    eprintln!("first: {first}");
    land("agent002", "two");
    let status = repo
        .clambake(&["bundle", "--status", "--json"])
        .success()
        .json();
    let last: jiff::Timestamp = status["last_departure"].as_str().unwrap().parse().unwrap();
    assert!(
        last <= jiff::Timestamp::now(),
        "the schedule now waits for {last}: {}",
        status["next"]
    );
}
