//! Runs one step's command as GitHub's runner does: in a process group of its own, with its
//! stdout and stderr on one pipe (so they interleave as written), and stopped on a deadline
//! or a cancel with SIGINT, then SIGTERM, to the step's shell alone (as GitHub's runner sends
//! them: a command the script runs hears of a cancel only if the script `exec`s it), then
//! SIGKILL to the whole group, each after a grace.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
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
    let mut command = Command::new(spawn.program);
    command
        .args(spawn.args)
        .current_dir(spawn.cwd)
        .env_clear()
        .envs(spawn.env)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let mut child = command.spawn()?;
    drop(command);
    let collector = thread::spawn(move || {
        let mut output = Vec::new();
        let _ = reader.read_to_end(&mut output);
        output
    });
    let group = Pid::from_raw(child.id() as i32);
    let ending = loop {
        if let Some(status) = child.try_wait()? {
            break Ending::Exited(exit_code(status));
        }
        if cancel.is_some_and(CancelFlag::is_cancelled) {
            stop(&mut child, group, grace);
            break Ending::Cancelled;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            stop(&mut child, group, grace);
            break Ending::TimedOut;
        }
        thread::sleep(POLL);
    };
    // What the script left running in the background goes with it, as GitHub's runner
    // cleans up orphan processes; it would otherwise hold the pipe open.
    let _ = killpg(group, Signal::SIGKILL);
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

/// Stops a step as GitHub's runner does: SIGINT, then SIGTERM, to the step's process (the
/// group's leader) only, each given `grace` to end the whole group, then SIGKILL to the group.
fn stop(child: &mut Child, group: Pid, grace: Duration) {
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
