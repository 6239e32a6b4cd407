//! Agent process supervision against real child processes: small shell scripts run as the
//! `command` runtime, watched by the supervisor and stopped by `terminate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::attempt_processes::AttemptProcesses;
use clambake::adapters::hosts::local::supervisor::supervise;
use clambake::adapters::hosts::local::{process, procfs};
use clambake::core::agents::command::BASE_ALLOWLIST;
use clambake::core::agents::events::ResultSubtype;
use clambake::core::agents::outcome::{ExitStatus, Termination};
use clambake::ports::AgentRuntime;
use clambake::ports::agent::AgentSpec;
use clambake::ports::agent::{AgentControl, LogFiles};
use clambake::ports::agent_host::{AttemptReport, Limits, Stopped};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::support::{process_alive, wait_for_async, write_script};

const RELAXED: Limits = Limits {
    stall: Duration::from_secs(30),
    timeout: Duration::from_secs(60),
    grace: Duration::from_secs(5),
    budget: None,
};

struct Run {
    report: AttemptReport,
    logs: LogFiles,
    dir: TempDir,
}

fn spec(dir: &Path, attempt: u32) -> AgentSpec {
    AgentSpec {
        agent: "agent001".to_owned(),
        issue: 7,
        attempt,
        title: "Test".to_owned(),
        branch: "agent001/7-test".to_owned(),
        worktree: dir.to_path_buf(),
        prompt: "do it".to_owned(),
        prompt_file: dir.join("prompt.md"),
        resume_session: None,
        logs: LogFiles::in_dir(&dir.join("logs"), "agent001", 7, attempt),
        claim: None,
        max_budget_usd: None,
    }
}

/// Runs `body` as an agent under `limits`; with `stop_on`, asks it to stop once it has printed
/// that line (so the stop never comes before the script is ready for it).
async fn run_script(body: &str, limits: Limits, stop_on: Option<&'static str>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "agent.sh", body);
    let runtime = CommandRuntime::new(
        format!("{} {{issue}} {{prompt_file}}", script.display()),
        String::new(),
    );
    let spec = spec(dir.path(), 1);
    let agent = runtime.start(&spec).await.unwrap();
    let logs = spec.logs;
    let (stop, stopped) = oneshot::channel();
    let stopper = async {
        if let Some(line) = stop_on {
            wait_for_async(&format!("the agent to print {line:?}"), async || {
                std::fs::read_to_string(&logs.stdout).is_ok_and(|s| s.lines().any(|l| l == line))
            })
            .await;
            let _ = stop.send(());
        }
    };
    let (report, ()) = tokio::join!(supervise(agent, limits, stopped), stopper);
    let report = report.unwrap();
    Run { report, logs, dir }
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn stdout_is_logged_and_parsed_and_stderr_kept_beside_it() {
    let before = jiff::Timestamp::now();
    let run = run_script(
        r#"echo '{"type":"system","subtype":"init","session_id":"s-9","model":"m","tools":[]}'
echo "issue $1" >&2
echo 'plain text'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":4,"total_cost_usd":0.5}'
"#,
        RELAXED,
        None,
    )
    .await;
    let after = jiff::Timestamp::now();
    assert_eq!(run.report.exit, ExitStatus::Code(0));
    assert_eq!(run.report.terminated, None);
    assert_eq!(run.report.totals.session_id.as_deref(), Some("s-9"));
    assert_eq!(run.report.totals.turns, 4);
    assert_eq!(run.report.totals.cost_usd, Some(0.5));
    let heartbeat = run.report.last_event_at.expect("a heartbeat");
    assert!(
        (before..=after).contains(&heartbeat),
        "the last line arrived at {heartbeat}, not during the run ({before} to {after})"
    );
    let stdout = read(&run.logs.stdout);
    assert_eq!(stdout.lines().count(), 3);
    assert!(stdout.contains("plain text\n"));
    assert_eq!(read(&run.logs.stderr), "issue 7\n");
}

#[tokio::test]
async fn a_crash_reports_its_exit_code() {
    let run = run_script("echo partial; exit 3\n", RELAXED, None).await;
    assert_eq!(run.report.exit, ExitStatus::Code(3));
    assert!(run.report.totals.result.is_none());
}

#[tokio::test]
async fn a_silent_agent_is_stalled_and_terminated() {
    let run = run_script(
        "sleep 30\n",
        Limits {
            stall: Duration::from_millis(300),
            ..RELAXED
        },
        None,
    )
    .await;
    assert_eq!(run.report.terminated, Some(Termination::Stall));
    assert_eq!(run.report.exit, ExitStatus::Signal(15));
}

#[tokio::test]
async fn a_chatty_agent_still_times_out() {
    let run = run_script(
        // It would end by itself (exit 0) if its output kept deferring the timeout.
        "i=0; while [ $i -lt 400 ]; do echo tick; sleep 0.05; i=$((i+1)); done\n",
        Limits {
            stall: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            ..RELAXED
        },
        None,
    )
    .await;
    assert_eq!(run.report.terminated, Some(Termination::Timeout));
    let stdout = read(&run.logs.stdout);
    assert!(stdout.lines().all(|l| l == "tick"), "{stdout}");
    assert!(stdout.lines().count() > 3, "{stdout}");
}

#[tokio::test]
async fn an_agent_ignoring_sigterm_is_killed_after_the_grace_period() {
    let run = run_script(
        "trap '' TERM\necho ready\nsleep 30 &\nwait\nsleep 30\n",
        Limits {
            grace: Duration::from_millis(200),
            ..RELAXED
        },
        Some("ready"),
    )
    .await;
    assert_eq!(run.report.terminated, Some(Termination::Requested));
    assert_eq!(run.report.exit, ExitStatus::Signal(9));
}

#[tokio::test]
async fn a_background_child_dies_with_the_group() {
    let run = run_script("sleep 300 &\necho $! > child.pid\nexit 0\n", RELAXED, None).await;
    assert_eq!(run.report.exit, ExitStatus::Code(0));
    let pid: u32 = read(&run.dir.path().join("child.pid"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        !process_alive(pid),
        "the background child {pid} outlived its agent"
    );
}

#[tokio::test]
async fn a_background_child_dies_when_the_agent_is_terminated() {
    let run = run_script(
        "sleep 300 &\necho $! > child.pid\necho started\nwait\n",
        RELAXED,
        Some("started"),
    )
    .await;
    assert_eq!(run.report.terminated, Some(Termination::Requested));
    let pid: u32 = read(&run.dir.path().join("child.pid"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        !process_alive(pid),
        "the background child {pid} survived terminate"
    );
}

#[tokio::test]
async fn an_output_flood_is_logged_as_printed_and_read_line_by_line() {
    let run = run_script(
        "i=0; while [ $i -lt 20 ]; do head -c 100000 /dev/zero | tr '\\0' a; echo; i=$((i+1)); done\n\
         head -c 6000000 /dev/zero | tr '\\0' b; echo\n\
         yes flood | head -n 200000\n",
        RELAXED,
        None,
    )
    .await;
    assert_eq!(run.report.exit, ExitStatus::Code(0));
    let stdout = read(&run.logs.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 20 + 1 + 200_000);
    assert_eq!(lines[0].len(), 100_000);
    assert_eq!(lines[20].len(), 6_000_000, "the agent writes its own log");
    assert_eq!(lines.last(), Some(&"flood"));
    assert_eq!(run.report.totals.events, 20 + 1 + 200_000);
}

#[tokio::test]
async fn the_environment_is_scrubbed() {
    let run = run_script("env > seen.env\n", RELAXED, None).await;
    assert_eq!(run.report.exit, ExitStatus::Code(0));
    let seen = read(&run.dir.path().join("seen.env"));
    let names: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    assert!(names.contains(&"GIT_AUTHOR_NAME"), "{names:?}");
    for name in names {
        let allowed = BASE_ALLOWLIST.contains(&name)
            || name.starts_with("GIT_")
            // Marks it as an agent, for telling strays from a person's shell.
            || name == clambake::core::agents::command::AGENT_MARKER
            || name == clambake::core::agents::containment::ATTEMPT_MARKER
            // The shell itself sets these.
            || ["PWD", "SHLVL", "_", "OLDPWD"].contains(&name);
        assert!(allowed, "the agent saw {name}");
    }
    assert!(!seen.contains("CARGO_"), "cargo's variables leaked: {seen}");
}

/// How many agents the leak test runs one after another: `SEQUENTIAL_AGENTS` (200 by default;
/// a thousand were run when the reaping was written, and can be again).
fn sequential_agents() -> u32 {
    std::env::var("SEQUENTIAL_AGENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// `(pid, state, parent, process group)` of every process, from /proc.
fn processes() -> Vec<(u32, char, u32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // The process may have gone between listing and reading.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name is in parentheses and may contain anything, so read after it.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        found.push((
            pid,
            fields[0].chars().next().unwrap(),
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
        ));
    }
    found
}

#[tokio::test]
async fn many_short_lived_agents_leave_no_process_or_zombie_behind() {
    let dir = tempfile::tempdir().unwrap();
    // Each agent leaves a background child behind, the hardest case for reaping.
    let script = write_script(
        dir.path(),
        "agent.sh",
        "sleep 60 &\necho '{\"type\":\"result\",\"subtype\":\"success\"}'\n",
    );
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    // The groups the agents led; fewer than the agents when a later one got an earlier one's pid.
    let mut groups = std::collections::HashSet::new();
    let started = std::time::Instant::now();
    let agents = sequential_agents();
    for attempt in 1..=agents {
        let agent = runtime.start(&spec(dir.path(), attempt)).await.unwrap();
        groups.insert(agent.pid.unwrap());
        let report = supervise(agent, RELAXED, oneshot::channel().1)
            .await
            .unwrap();
        assert_eq!(report.exit, ExitStatus::Code(0));
        assert_eq!(
            report.totals.result.map(|r| r.subtype),
            Some(ResultSubtype::Success)
        );
    }
    eprintln!("{agents} agents in sequence took {:?}", started.elapsed());
    // Zombies included: a process stays listed until it is reaped. Other processes on the
    // machine may have been given the agents' pids since, so a leftover is also one of ours:
    // working in the agents' directory, or (a zombie) still a child of this process.
    let here = dir.path().canonicalize().unwrap();
    let ours = |pid: u32, state: char, parent: u32| {
        if state == 'Z' {
            parent == std::process::id()
        } else {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == here)
        }
    };
    let leftovers: Vec<_> = processes()
        .into_iter()
        .filter(|&(pid, state, parent, group)| {
            (groups.contains(&pid) || groups.contains(&group)) && ours(pid, state, parent)
        })
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[tokio::test]
async fn terminate_sends_each_process_one_sigterm_then_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("sigterms");
    // A CLI that takes a second SIGTERM for "quit now": it counts each one, and stays.
    let counter = dir.path().join("counter.bash");
    std::fs::write(
        &counter,
        format!(
            "#!/usr/bin/bash\n\
             terms=0\n\
             trap 'terms=$((terms+1)); echo $terms > {count}' TERM\n\
             echo ready\n\
             while :; do sleep 0.1 & wait $!; done\n",
            count = count.display()
        ),
    )
    .unwrap();
    let script = write_script(
        dir.path(),
        "agent.sh",
        &format!("exec {}\n", counter.display()),
    );
    std::fs::set_permissions(&counter, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let spec = spec(dir.path(), 1);
    let agent = runtime.start(&spec).await.unwrap();
    let pid = agent.pid.unwrap();
    let containment = agent.containment.clone();
    let start_time = procfs::stat(pid).unwrap().start_time;
    let supervised = tokio::spawn(supervise(agent, RELAXED, oneshot::channel().1));
    wait_for_async("the counter to be ready", async || {
        std::fs::read_to_string(&spec.logs.stdout).is_ok_and(|s| s.contains("ready"))
    })
    .await;

    let grace = Duration::from_secs(2);
    let stopped = process::terminate(pid, start_time, containment.as_ref(), grace).await;

    let report = supervised.await.unwrap().unwrap();
    assert_eq!(stopped, Stopped::Killed, "it stays after SIGTERM");
    assert_eq!(report.exit, ExitStatus::Signal(9));
    assert_eq!(
        read(&count).trim(),
        "1",
        "one SIGTERM, however it was found"
    );
}

#[tokio::test]
async fn a_group_whose_leader_s_pid_names_another_process_now_is_left_alone() {
    use std::os::unix::process::CommandExt;
    // Someone else's process leading a group of its own, with a child in it: as if it had been
    // given the pid of an agent that ended.
    let mut other = std::process::Command::new("sh")
        .args(["-c", "sleep 300 & echo $! ; wait"])
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(other.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let child: u32 = line.trim().parse().unwrap();
    let pid = other.id();
    // The agent that had this pid started at another time.
    let agent_start = procfs::stat(pid).unwrap().start_time - 1;
    let gone_agent = AttemptProcesses::new(pid, Some(agent_start), None);

    gone_agent.kill_all();
    let strays = AgentControl::clean_up(&gone_agent).await;
    let stopped = process::terminate(pid, agent_start, None, Duration::from_millis(100)).await;

    assert!(strays.is_empty(), "{strays:?}");
    assert_eq!(stopped, Stopped::AlreadyGone);
    assert!(
        process_alive(pid) && process_alive(child),
        "another's group was signalled"
    );
    assert_eq!(other.try_wait().unwrap(), None);
    other.kill().unwrap();
    other.wait().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
}
