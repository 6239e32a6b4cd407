//! The agent host as `clambake run` uses it: the run's busy slots are registered agents shown
//! by their own pid, and what an attempt leaves running is stopped and told in its verdict.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestRepo, process_alive, write_script};

/// Generous: the machine may be loaded.
const PATIENCE: Duration = Duration::from_secs(60);

/// A repository with one slot, its `command` agent `body` (run in the attempt's worktree),
/// and one ready issue.
fn repo_with_agent(scripts: &Path, body: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    let script = write_script(scripts, "agent.sh", body);
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
        "Host me",
        "--label",
        "route:ready",
    ])
    .success();
    repo
}

/// The number in `file`, once something has written it whole.
fn wait_for_pid(file: &Path) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            return text.trim().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The agent writes its pid and its daemon's where `dir` is, then ends as `end` says.
fn daemonizing_agent(dir: &Path, end: &str) -> String {
    let dir = dir.display();
    format!(
        "setsid sh -c 'echo $$ > \"{dir}/daemon.tmp\" && mv \"{dir}/daemon.tmp\" \"{dir}/daemon.pid\"; exec sleep 300' > /dev/null 2>&1 < /dev/null &\n\
         while [ ! -s \"{dir}/daemon.pid\" ]; do sleep 0.01; done\n\
         {end}\n"
    )
}

fn last_comment(repo: &TestRepo) -> String {
    let shown = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json();
    shown["comments"].as_array().unwrap().last().unwrap()["body"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_runs_busy_slot_is_listed_with_its_agents_own_pid() {
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path().display();
    let body = format!(
        "echo $$ > \"{dir}/agent.tmp\" && mv \"{dir}/agent.tmp\" \"{dir}/agent.pid\"\n\
         echo '{{\"type\":\"system\",\"subtype\":\"init\"}}'\n\
         while [ ! -e \"{dir}/go\" ]; do sleep 0.02; done\n\
         echo work > work.txt && git add work.txt && git commit -qm 'Work'\n\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n"
    );
    let repo = repo_with_agent(scripts.path(), &body);
    let mut run = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["run", "--until-idle", "--no-view"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent_pid = wait_for_pid(&scripts.path().join("agent.pid"));
    let deadline = Instant::now() + PATIENCE;
    let listed = loop {
        let listed = repo.clambake(&["agent", "list", "--json"]).success().json();
        if let Some(slot) = listed.as_array().unwrap().first() {
            break slot.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the run never registered its agent"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(listed["agent"], "agent001", "{listed}");
    assert_eq!(listed["pid"], agent_pid, "{listed}");
    assert_ne!(listed["pid"], run.id(), "{listed}");
    let monitored = repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(monitored["pid"], agent_pid, "{monitored}");
    std::fs::write(scripts.path().join("go"), "").unwrap();
    assert!(run.wait().unwrap().success());
    assert_eq!(repo.labels_of(1), ["route:review"]);
}

#[test]
fn a_daemon_a_landed_attempt_left_running_is_stopped_and_told() {
    let scripts = tempfile::tempdir().unwrap();
    let body = daemonizing_agent(
        scripts.path(),
        "echo work > work.txt && git add work.txt && git commit -qm 'Work'\n\
         echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}'",
    );
    let repo = repo_with_agent(scripts.path(), &body);
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    let daemon = wait_for_pid(&scripts.path().join("daemon.pid"));
    assert!(!process_alive(daemon), "the daemon was stopped");
    assert_eq!(repo.labels_of(1), ["route:review"]);
    let told = format!("the agent left 1 process running (pid {daemon}");
    let comment = last_comment(&repo);
    assert!(comment.contains(&told), "{comment}");
    assert!(comment.contains("stopped by Clambake"), "{comment}");
    let recorded = repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(recorded["outcome"], "success", "{recorded}");
    let reason = recorded["reason"].as_str().unwrap();
    assert!(reason.contains(&told), "{reason}");
}

#[test]
fn a_daemon_a_failed_attempt_left_running_is_stopped_and_told() {
    let scripts = tempfile::tempdir().unwrap();
    let body = daemonizing_agent(scripts.path(), "exit 3");
    let repo = repo_with_agent(scripts.path(), &body);
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    let daemon = wait_for_pid(&scripts.path().join("daemon.pid"));
    assert!(!process_alive(daemon), "the daemon was stopped");
    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let comment = last_comment(&repo);
    assert!(
        comment.contains(&format!("the agent left 1 process running (pid {daemon}")),
        "{comment}"
    );
}
