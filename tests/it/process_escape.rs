//! No process outlives its attempt: real agents start children that escape their process
//! group (`setsid`, `nohup`, a double fork, a daemon that closes its descriptors and leaves
//! the worktree), and every one of them is gone once the attempt ends, is stopped by the run
//! loop, or is terminated by `clambake terminate` from another process. Each case runs with
//! the attempt in a cgroup of its own, and with the environment marker alone (the fallback).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::cgroup::AttemptCgroup;
use clambake::adapters::hosts::local::process::{ProcessTracking, is_running};
use clambake::adapters::hosts::local::procfs;
use clambake::adapters::hosts::local::supervisor::supervise;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{AttemptRequest, open_host, run_attempt};
use clambake::core::agents::outcome::{Outcome, Termination};
use clambake::ports::AgentRuntime;
use clambake::ports::agent::AgentSpec;
use clambake::ports::agent::LogFiles;
use clambake::ports::agent_host::Limits;
use tokio::sync::oneshot;

use crate::support::{TestRepo, wait_for_async, write_script};

pub(crate) const LIMITS: Limits = Limits {
    stall: Duration::from_secs(60),
    timeout: Duration::from_secs(120),
    grace: Duration::from_secs(2),
    budget: None,
};

/// The escapes, each recording its pid in `<name>.pid` in the working directory, started from
/// a subshell that exits at once: orphaned, they are no longer in the agent's process tree,
/// as a daemon's children are not. The daemon ignores SIGTERM, so only a kill stops it.
const ESCAPES: &str = r#"(
setsid sh -c 'echo $$ > setsid.pid; exec sleep 300' &
nohup sh -c 'echo $$ > nohup.pid; exec sleep 300' > /dev/null 2>&1 &
sh -c 'sh -c "echo \$\$ > double.pid; exec sleep 300" & exit 0'
dir=$PWD
setsid sh -c "trap '' TERM; echo \$\$ > '$dir/daemon.pid'; cd /; exec < /dev/null > /dev/null 2>&1; while :; do sleep 1; done" &
"#;

/// Closes the subshell of the escapes.
const END_ESCAPES: &str = ")\n";

/// Only a cgroup holds a process that throws its environment away.
const ENV_ESCAPE: &str = "setsid env -i sh -c 'echo $$ > clean-env.pid; exec sleep 300' &\n";

fn escapes(tracking: ProcessTracking) -> Vec<&'static str> {
    let mut names = vec!["setsid", "nohup", "double", "daemon"];
    if tracking == ProcessTracking::CgroupWhereAvailable {
        names.push("clean-env");
    }
    names
}

fn script_body(tracking: ProcessTracking, then: &str) -> String {
    let mut body = String::from(ESCAPES);
    if tracking == ProcessTracking::CgroupWhereAvailable {
        body.push_str(ENV_ESCAPE);
    }
    body.push_str(END_ESCAPES);
    let waits: String = escapes(tracking)
        .iter()
        .map(|name| format!("while [ ! -s {name}.pid ]; do sleep 0.01; done\n"))
        .collect();
    format!("{body}{waits}echo '{{\"type\":\"system\",\"subtype\":\"init\"}}'\n{then}")
}

/// The escaped processes, by pid and start time, once they have all written their pids.
fn escaped(dir: &Path, tracking: ProcessTracking) -> Vec<(String, u32, u64)> {
    escapes(tracking)
        .into_iter()
        .map(|name| {
            let path = dir.join(format!("{name}.pid"));
            let pid: u32 = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .trim()
                .parse()
                .unwrap();
            let start = procfs::stat(pid)
                .unwrap_or_else(|| panic!("the {name} escape {pid} was already gone"))
                .start_time;
            (name.to_owned(), pid, start)
        })
        .collect()
}

fn assert_none_running(escaped: &[(String, u32, u64)], when: &str) {
    let running: Vec<_> = escaped
        .iter()
        .filter(|(_, pid, start)| is_running(*pid, *start))
        .collect();
    assert!(running.is_empty(), "{when}: still running: {running:?}");
}

async fn wait_for_pids(dir: &Path, tracking: ProcessTracking) {
    wait_for_async("the escapes to write their pids", async || {
        escapes(tracking).iter().all(|name| {
            std::fs::read_to_string(dir.join(format!("{name}.pid")))
                .is_ok_and(|t| !t.trim().is_empty())
        })
    })
    .await;
}

/// The spec of an attempt working in `dir`, its logs beneath it.
pub(crate) fn spec(dir: &Path) -> AgentSpec {
    AgentSpec {
        agent: "agent001".to_owned(),
        issue: 7,
        attempt: 1,
        title: "Escape".to_owned(),
        branch: "agent001/7-escape".to_owned(),
        worktree: dir.to_path_buf(),
        prompt: "escape".to_owned(),
        prompt_file: dir.join("prompt.md"),
        logs: LogFiles::in_dir(&dir.join("logs"), "agent001", 7, 1),
        resume_session: None,
        claim: None,
        max_budget_usd: None,
    }
}

/// Runs the agent `then` (after starting the escapes) under the supervisor, stopping it once
/// the escapes are up if `stop` is set, and checks the mechanism the attempt got.
async fn supervised(tracking: ProcessTracking, then: &str, stop: bool) {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "agent.sh", &script_body(tracking, then));
    let runtime =
        CommandRuntime::with_tracking(script.display().to_string(), String::new(), tracking);
    let agent = runtime.start(&spec(dir.path())).await.unwrap();
    let containment = agent.containment.clone().unwrap();
    assert_eq!(
        containment.cgroup.is_some(),
        tracking == ProcessTracking::CgroupWhereAvailable,
        "the attempt's cgroup: {containment:?}"
    );
    let (stopper, stopped) = oneshot::channel();
    let supervisor = tokio::spawn(supervise(agent, LIMITS, stopped));
    wait_for_pids(dir.path(), tracking).await;
    let escaped = escaped(dir.path(), tracking);
    if stop {
        stopper.send(()).unwrap();
    } else {
        std::fs::write(dir.path().join("go"), "").unwrap();
    }
    let report = supervisor.await.unwrap().unwrap();
    if stop {
        assert_eq!(
            report.terminated,
            Some(Termination::Requested),
            "{report:?}"
        );
    } else {
        assert_eq!(report.terminated, None, "{report:?}");
    }
    assert_none_running(&escaped, "after the attempt");
    if let Some(cgroup) = containment.cgroup {
        assert!(!cgroup.exists(), "{} was not removed", cgroup.display());
    }
}

/// The agent's end, once the test has seen its escapes.
const EXIT_ON_GO: &str = "while [ ! -e go ]; do sleep 0.01; done\nexit 0\n";

#[tokio::test]
async fn escapes_die_with_an_attempt_that_ends_in_its_cgroup() {
    supervised(ProcessTracking::CgroupWhereAvailable, EXIT_ON_GO, false).await;
}

#[tokio::test]
async fn escapes_die_with_an_attempt_that_ends_found_by_its_marker() {
    supervised(ProcessTracking::MarkerOnly, EXIT_ON_GO, false).await;
}

#[tokio::test]
async fn escapes_die_with_an_attempt_the_run_loop_stops_in_its_cgroup() {
    supervised(ProcessTracking::CgroupWhereAvailable, "sleep 300\n", true).await;
}

#[tokio::test]
async fn escapes_die_with_an_attempt_the_run_loop_stops_found_by_its_marker() {
    supervised(ProcessTracking::MarkerOnly, "sleep 300\n", true).await;
}

/// An attempt run by this process (as `clambake run` would), terminated by `clambake
/// terminate` from another: the agent traps SIGTERM and exits 143 as many CLIs do.
async fn terminated_from_outside(tracking: ProcessTracking) {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(
        scripts.path(),
        "agent.sh",
        &script_body(
            tracking,
            "trap 'exit 143' TERM\nwhile :; do sleep 0.05; done\n",
        ),
    );
    let runtime =
        CommandRuntime::with_tracking(script.display().to_string(), String::new(), tracking);
    let supervisor = tokio::spawn({
        let workspace = workspace.clone();
        async move {
            let request = AttemptRequest {
                agent: "agent001".to_owned(),
                issue: 4,
                title: "Escape".to_owned(),
                body: String::new(),
                comments: Vec::new(),
                comments_left_out: None,
                attempt: 1,
                base: "main".to_owned(),
                pull_request_heads: Vec::new(),
                resume_session: None,
                checks_failure: None,
                review_feedback: Vec::new(),
            };
            let (_keep, stop) = oneshot::channel();
            run_attempt(&workspace, &runtime, &request, LIMITS, stop).await
        }
    });
    let worktree: PathBuf = workspace.state_dir().join("worktrees/agent001-4");
    wait_for_pids(&worktree, tracking).await;
    let escaped = escaped(&worktree, tracking);
    // The escapes may have started before their attempt was registered.
    let entry = wait_for_async("the attempt to be registered", async || {
        open_host(&workspace).unwrap().list().unwrap().pop()
    })
    .await;
    let containment = entry.containment.clone().unwrap();
    assert_eq!(
        containment.cgroup.is_some(),
        tracking == ProcessTracking::CgroupWhereAvailable,
        "{containment:?}"
    );
    let report = repo
        .clambake(&[
            "terminate",
            "--agent",
            "agent001",
            "--grace",
            "2s",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["stopped"], "gracefully", "{report}");
    assert_none_running(&escaped, "after terminate");
    let result = supervisor.await.unwrap().unwrap();
    assert_eq!(
        result.classification.outcome,
        Outcome::Killed,
        "{:?}",
        result.classification
    );
    assert_eq!(result.classification.reason, "terminated on request");
    assert_none_running(&escaped, "after the attempt");
    if let Some(cgroup) = containment.cgroup {
        assert!(!cgroup.exists(), "{} was not removed", cgroup.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_from_another_process_stops_escapes_in_the_cgroup_and_counts_as_killed() {
    terminated_from_outside(ProcessTracking::CgroupWhereAvailable).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_from_another_process_stops_marked_escapes_and_counts_as_killed() {
    terminated_from_outside(ProcessTracking::MarkerOnly).await;
}

#[tokio::test]
async fn an_empty_attempt_cgroup_whose_maker_is_gone_is_removed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "agent.sh", "exit 0\n");
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let first = runtime.start(&spec(dir.path())).await.unwrap();
    let cgroup = first.containment.clone().unwrap().cgroup.unwrap();
    supervise(first, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    // What a maker killed between making a cgroup and removing it leaves: an empty cgroup
    // named after a process that is gone.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let parent = cgroup.parent().unwrap();
    let abandoned = parent.join(format!("clambake-agent009-1-1.{gone_pid}.5"));
    std::fs::create_dir(&abandoned).unwrap();
    let alive = parent.join(format!("clambake-agent009-1-2.{}.5", std::process::id()));
    std::fs::create_dir(&alive).unwrap();

    let next = runtime.start(&spec(dir.path())).await.unwrap();
    supervise(next, LIMITS, oneshot::channel().1).await.unwrap();
    assert!(!abandoned.exists(), "{} was left", abandoned.display());
    assert!(alive.exists(), "a live maker's cgroup is its own to remove");
    std::fs::remove_dir(&alive).unwrap();
}

/// A stray: an agent whose orchestrator was killed before registering it. The next attempt
/// in its worktree stops it, and everything it started, in its cgroup and by its marker.
async fn a_stray_is_stopped_with_its_escapes(tracking: ProcessTracking) {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let worktree = workspace.state_dir().join("worktrees/agent001-4");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "agent001/4-escape",
        worktree.to_str().unwrap(),
        "main",
    ]);
    let scripts = tempfile::tempdir().unwrap();
    let stray_script = write_script(
        scripts.path(),
        "stray.sh",
        &script_body(tracking, "while :; do sleep 0.05; done\n"),
    );
    let stray_runtime =
        CommandRuntime::with_tracking(stray_script.display().to_string(), String::new(), tracking);
    let stray = stray_runtime
        .start(&AgentSpec {
            worktree: worktree.clone(),
            ..spec(scripts.path())
        })
        .await
        .unwrap();
    wait_for_pids(&worktree, tracking).await;
    let escaped = escaped(&worktree, tracking);
    // Its supervisor dies with the orchestrator: nobody watches it any more.
    drop(stray);

    let next = write_script(scripts.path(), "next.sh", "exit 0\n");
    let runtime = CommandRuntime::new(next.display().to_string(), String::new());
    let request = AttemptRequest {
        agent: "agent001".to_owned(),
        issue: 4,
        title: "Escape".to_owned(),
        body: String::new(),
        comments: Vec::new(),
        comments_left_out: None,
        attempt: 2,
        base: "main".to_owned(),
        pull_request_heads: Vec::new(),
        resume_session: None,
        checks_failure: None,
        review_feedback: Vec::new(),
    };
    let (_keep, stop) = oneshot::channel();
    run_attempt(&workspace, &runtime, &request, LIMITS, stop)
        .await
        .unwrap();
    assert_none_running(&escaped, "after the next attempt started");
}

#[tokio::test]
async fn a_stray_in_a_cgroup_is_stopped_with_its_escapes() {
    a_stray_is_stopped_with_its_escapes(ProcessTracking::CgroupWhereAvailable).await;
}

#[tokio::test]
async fn a_marked_stray_is_stopped_with_its_escapes() {
    a_stray_is_stopped_with_its_escapes(ProcessTracking::MarkerOnly).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_of_an_agent_a_real_run_supervises_is_recorded_as_killed_on_request() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(
        scripts.path(),
        "agent.sh",
        "echo '{\"type\":\"system\",\"subtype\":\"init\"}'\n\
         trap 'exit 143' TERM\nwhile :; do sleep 0.05; done\n",
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
        "Stop me",
        "--label",
        "route:ready",
    ])
    .success();
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["run", "--until-idle", "--no-view"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    wait_for_async("the run to start its agent", async || {
        open_host(&workspace).unwrap().list().unwrap().len() == 1
    })
    .await;
    repo.clambake(&["terminate", "--agent", "agent001", "--grace", "5s"])
        .success();
    assert!(run.wait().unwrap().success());
    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let last = repo.last_comment_on(1);
    assert!(
        last.contains("ended `killed`: terminated on request"),
        "{last}"
    );
}

#[tokio::test]
async fn freezing_and_killing_empties_a_cgroup_without_cgroup_kill() {
    let dir = tempfile::tempdir().unwrap();
    // A fork loop: it keeps starting children while it is killed.
    let script = write_script(
        dir.path(),
        "agent.sh",
        &format!(
            "{}while :; do sleep 30 & sleep 0.01; done\n",
            script_body(ProcessTracking::CgroupWhereAvailable, "")
        ),
    );
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let agent = runtime.start(&spec(dir.path())).await.unwrap();
    wait_for_pids(dir.path(), ProcessTracking::CgroupWhereAvailable).await;
    let escaped = escaped(dir.path(), ProcessTracking::CgroupWhereAvailable);
    let cgroup = AttemptCgroup::at(agent.containment.clone().unwrap().cgroup.unwrap());
    cgroup.freeze_and_kill();
    wait_for_async("the cgroup to empty", async || {
        if cgroup.is_populated() {
            Err(format!("left: {:?}", cgroup.members()))
        } else {
            Ok(())
        }
    })
    .await;
    assert_none_running(&escaped, "after freezing and killing");
    supervise(agent, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
}
