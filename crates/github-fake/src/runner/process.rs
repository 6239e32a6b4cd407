//! Runs one step's command as GitHub's runner does: in a process group of its own, with its
//! stdout and stderr on one pipe (so they interleave as written), and stopped on a deadline
//! or a cancel with SIGINT, then SIGTERM, to the step's shell alone (as GitHub's runner sends
//! them: a command the script runs hears of a cancel only if the script `exec`s it), then
//! SIGKILL to the whole group, each after a grace.
//!
//! The step is a grandchild, started through coreutils' `timeout --foreground 0` (no time
//! limit: it stays in this process's group, waits, and exits with the step's status, silently)
//! and util-linux's `setsid`: a process embedding the fake may reap zombie children of other
//! groups as its own orphans (Clambake's agent host does), which would take the step's status.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Set once a run is cancelled; what runs sees it within a poll.
#[derive(Debug, Default)]
pub struct CancelFlag(AtomicBool);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself: its exit code, or 128 + the signal that ended it.
    Exited(i32),
    /// It was still running at the deadline, and was stopped.
    TimedOut,
    /// The run was cancelled while it ran, and it was stopped.
    Cancelled,
}

/// One command to run: the program, its arguments, where, and its whole environment.
pub struct Spawn<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a BTreeMap<String, String>,
}

/// How often a running command is checked for its end, its deadline and a cancel.
const POLL: Duration = Duration::from_millis(20);

/// Runs `spawn` until it ends, `deadline` passes or `cancel` (if any) is set; returns how it
/// ended and everything it wrote. Whatever is left of its process group is killed before
/// returning.
pub fn run(
    spawn: &Spawn,
    deadline: Option<Instant>,
    cancel: Option<&CancelFlag>,
    grace: Duration,
) -> std::io::Result<(Ending, String)> {
    let (mut reader, writer) = std::io::pipe()?;
    let pid_file = PidFile::new();
    let mut command = Command::new("timeout");
    command
        .args([
            "--foreground",
            "0",
            "setsid",
            "/bin/sh",
            "-c",
            STARTER,
            "sh",
        ])
        .arg(&pid_file.0)
        .arg(spawn.program)
        .args(spawn.args)
        .current_dir(spawn.cwd)
        .env_clear()
        .envs(spawn.env)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    let mut child = command.spawn()?;
    drop(command);
    let collector = thread::spawn(move || {
        let mut output = Vec::new();
        let _ = reader.read_to_end(&mut output);
        output
    });
    let ending = loop {
        if let Some(status) = child.try_wait()? {
            break Ending::Exited(exit_code(status));
        }
        if cancel.is_some_and(CancelFlag::is_cancelled) {
            stop(&mut child, &pid_file, grace);
            break Ending::Cancelled;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            stop(&mut child, &pid_file, grace);
            break Ending::TimedOut;
        }
        thread::sleep(POLL);
    };
    // What the script left running in the background goes with it, as GitHub's runner
    // cleans up orphan processes; it would otherwise hold the pipe open.
    if let Some(group) = pid_file.read() {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let output = collector.join().unwrap_or_default();
    Ok((ending, String::from_utf8_lossy(&output).into_owned()))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1)
}

/// The step's starter, the leader of its new session and group: writes its pid, then becomes
/// the step.
const STARTER: &str = r#"echo $$ > "$1"; shift; exec "$@""#;

/// Where the step's starter writes the step's pid, which is its group's id too.
struct PidFile(std::path::PathBuf);

impl PidFile {
    fn new() -> PidFile {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("fake-runner-{}-{n}.pid", std::process::id());
        PidFile(std::env::temp_dir().join(name))
    }

    fn read(&self) -> Option<Pid> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        text.trim().parse().ok().map(Pid::from_raw)
    }

    /// The step's pid, waited for up to `grace` (its starter may not have written it yet).
    fn wait(&self, child: &mut Child, grace: Duration) -> Option<Pid> {
        let until = Instant::now() + grace;
        loop {
            if let Some(pid) = self.read() {
                return Some(pid);
            }
            if Instant::now() >= until || !matches!(child.try_wait(), Ok(None)) {
                return self.read();
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Stops a step as GitHub's runner does: SIGINT, then SIGTERM, to the step's process (the
/// group's leader) only, each given `grace` to end the whole group, then SIGKILL to the group.
fn stop(child: &mut Child, pid_file: &PidFile, grace: Duration) {
    let Some(group) = pid_file.wait(child, grace) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let leader_gone = kill(group, signal).is_err();
        if (leader_gone && killpg(group, None) == Err(Errno::ESRCH))
            || group_ends_within(child, group, grace)
        {
            break;
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

/// Whether every process of the group has ended within `grace`.
fn group_ends_within(child: &mut Child, group: Pid, grace: Duration) -> bool {
    let until = Instant::now() + grace;
    loop {
        let leader_gone = !matches!(child.try_wait(), Ok(None));
        if leader_gone && killpg(group, None) == Err(Errno::ESRCH) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(POLL);
    }
}
