//! Agent CLIs as child processes: each in a process group of its own, with a scrubbed
//! environment and no shell, its output appended to its logs and followed line by line, and
//! everything it started signalled and reaped.

use std::collections::BTreeSet;
use std::io::SeekFrom;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, Once};
use std::time::Duration;

use async_trait::async_trait;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapters::procfs;
use crate::core::outcome::ExitStatus;
use crate::core::proc_stat::descendant_groups;
use crate::ports::agent::{AgentControl, AgentStartError, LogFiles, RunningAgent};

/// Longer lines are cut here when read (the log keeps them whole), so a flood without newlines
/// cannot exhaust memory. Claude Code's lines carry whole file reads, hence the room.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Lines buffered between a log's reader and the supervisor.
const OUTPUT_BUFFER: usize = 1024;

/// How often a quiet log is looked at again: soon after output, backing off while it is quiet.
/// The agent's end is signalled, not polled, so it costs no latency.
const POLL_MIN: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(100);

/// How often an adopted agent (not our child: no exit notification) is checked for.
const ADOPTED_POLL: Duration = Duration::from_millis(50);

/// How long `clean_up` waits for a killed group's members to be reaped.
const REAP_PATIENCE: Duration = Duration::from_secs(2);

/// Starts `argv` in `dir` with exactly `env`, in a new process group led by the child, its
/// stdout and stderr appended to `logs` directly: the agent never writes to a pipe that an
/// orchestrator crash would break. Its standard input is the file `stdin` (the prompt, which
/// no argument could hold whole), or nothing.
pub fn spawn(
    argv: &[String],
    env: &[(String, String)],
    dir: &Path,
    logs: &LogFiles,
    stdin: Option<&Path>,
) -> Result<RunningAgent, AgentStartError> {
    adopt_orphans();
    let spawn_error = |source| AgentStartError::Spawn {
        program: argv.first().cloned().unwrap_or_default(),
        dir: dir.to_path_buf(),
        source,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| spawn_error(std::io::ErrorKind::InvalidInput.into()))?;
    let (stdout, stdout_from) = open_log(&logs.stdout)?;
    let (stderr, _) = open_log(&logs.stderr)?;
    let input =
        match stdin {
            Some(path) => Stdio::from(std::fs::File::open(path).map_err(|source| {
                AgentStartError::Prompt {
                    path: path.to_path_buf(),
                    source,
                }
            })?),
            None => Stdio::null(),
        };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(input)
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let pid = child
        .id()
        .expect("a just-spawned child has not been reaped yet");
    let (ended, ended_watch) = watch::channel(false);
    let output = follow(logs.stdout.clone(), stdout_from, ended_watch);
    let (exited, exit) = oneshot::channel();
    tokio::spawn(async move {
        let status = child.wait().await.map(|status| match status.code() {
            Some(code) => ExitStatus::Code(code),
            None => ExitStatus::Signal(status.signal().unwrap_or_default()),
        });
        ended.send_replace(true);
        let _ = exited.send(status);
    });
    let group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
    Ok(RunningAgent {
        pid: Some(pid),
        output,
        exit,
        control: Box::new(ProcessGroup::new(group)),
    })
}

/// Takes over an agent that a previous orchestrator started: `pid` with this `start_time`
/// (from `/proc/<pid>/stat`). Its log is read again from the start; its end is noticed when
/// that process is gone (or a zombie, or the pid belongs to a newer process). Not being its
/// parent, Clambake cannot learn its exit status.
pub fn adopt(pid: u32, start_time: u64, logs: &LogFiles) -> RunningAgent {
    let (ended, ended_watch) = watch::channel(false);
    let output = follow(logs.stdout.clone(), 0, ended_watch);
    let (exited, exit) = oneshot::channel();
    tokio::spawn(async move {
        while is_running(pid, start_time) {
            tokio::time::sleep(ADOPTED_POLL).await;
        }
        ended.send_replace(true);
        let _ = exited.send(Ok(ExitStatus::Unknown));
    });
    let group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
    RunningAgent {
        pid: Some(pid),
        output,
        exit,
        control: Box::new(ProcessGroup::new(group)),
    }
}

/// How `terminate` stopped an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// It ended within the grace period after SIGTERM.
    Gracefully,
    /// It outlived the grace period and was sent SIGKILL.
    Killed,
    /// It was no longer running (or its pid now belongs to another process).
    AlreadyGone,
}

/// How long a SIGKILLed agent may take to disappear before `terminate` stops waiting.
const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// Stops the agent `pid` that started at `start_time`, whoever supervises it: SIGTERM to the
/// groups of its process tree, `grace` to end, then SIGKILL. Its supervisor (its parent)
/// reaps it and classifies the attempt.
pub async fn terminate(pid: u32, start_time: u64, grace: Duration) -> Stopped {
    if !is_running(pid, start_time) {
        return Stopped::AlreadyGone;
    }
    let group = ProcessGroup::new(Pid::from_raw(i32::try_from(pid).expect("pids fit in i32")));
    let gone_within = |patience: Duration| async move {
        let deadline = tokio::time::Instant::now() + patience;
        while is_running(pid, start_time) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(ADOPTED_POLL).await;
        }
        true
    };
    group.interrupt();
    if gone_within(grace).await {
        return Stopped::Gracefully;
    }
    group.kill();
    gone_within(KILL_PATIENCE).await;
    Stopped::Killed
}

/// Whether the process `pid` that started at `start_time` is still running (not a zombie).
pub fn is_running(pid: u32, start_time: u64) -> bool {
    procfs::stat(pid).is_some_and(|stat| stat.start_time == start_time && stat.state != 'Z')
}

/// Opens a log for the agent to append to, and says where its new output will start.
fn open_log(path: &Path) -> Result<(std::fs::File, u64), AgentStartError> {
    let log_error = |source| AgentStartError::Log {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(log_error)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(log_error)?;
    let from = file.metadata().map_err(log_error)?.len();
    Ok((file, from))
}

/// Makes this process the reaper of its agents' orphans. Without it, a background child that
/// outlives its agent is re-parented to PID 1, which (in containers) often never reaps it.
fn adopt_orphans() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(%error, "could not become the subreaper of agent processes");
        }
    });
}

/// Follows the log at `path` from byte `from`, line by line, until `ended` is set and the log
/// has been read to its end. Overlong lines are cut; bytes are decoded lossily.
fn follow(path: PathBuf, from: u64, ended: watch::Receiver<bool>) -> mpsc::Receiver<String> {
    let (lines, output) = mpsc::channel(OUTPUT_BUFFER);
    tokio::spawn(async move {
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        if file.seek(SeekFrom::Start(from)).await.is_err() {
            return;
        }
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut line = Vec::new();
        let mut pause = POLL_MIN;
        // Set once the end of the log has been seen after the agent ended: then it is final.
        let mut last_pass = false;
        loop {
            let chunk = match reader.fill_buf().await {
                Err(_) => break,
                Ok([]) if last_pass => break,
                Ok([]) => {
                    let mut ended = ended.clone();
                    if *ended.borrow() || ended.has_changed().is_err() {
                        last_pass = true;
                        continue;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = ended.changed() => {}
                    }
                    pause = (pause * 2).min(POLL_MAX);
                    continue;
                }
                Ok(chunk) => chunk,
            };
            pause = POLL_MIN;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let content = &chunk[..newline.unwrap_or(chunk.len())];
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&content[..content.len().min(room)]);
            let consumed = newline.map_or(chunk.len(), |at| at + 1);
            reader.consume(consumed);
            if newline.is_some() {
                let text = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                if lines.send(text).await.is_err() {
                    return;
                }
            }
        }
        if !line.is_empty() {
            let _ = lines
                .send(String::from_utf8_lossy(&line).into_owned())
                .await;
        }
    });
    output
}

/// An agent's process group, addressed by its leader's pid, plus the groups its descendants
/// made of their own (Claude Code runs each Bash tool call in a new group).
struct ProcessGroup {
    group: Pid,
    /// Every group seen in the agent's process tree so far: once the leader is gone its
    /// descendants are re-parented to us and can no longer be told apart from others'.
    groups: Mutex<BTreeSet<Pid>>,
}

impl ProcessGroup {
    fn new(group: Pid) -> Self {
        Self {
            group,
            groups: Mutex::new(BTreeSet::from([group])),
        }
    }

    /// Adds the groups of the agent's current process tree, then signals every group known.
    fn signal(&self, signal: Signal) {
        let leader = u32::try_from(self.group.as_raw()).expect("pids are positive");
        let mut groups = self
            .groups
            .lock()
            .expect("never poisoned: no panics inside");
        groups.extend(
            descendant_groups(&procfs::process_table(), leader)
                .into_iter()
                .filter_map(|g| i32::try_from(g).ok())
                .map(Pid::from_raw),
        );
        for &group in groups.iter() {
            match killpg(group, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(error) => tracing::warn!(%error, %group, ?signal, "could not signal"),
            }
        }
    }

    fn known_groups(&self) -> Vec<Pid> {
        let groups = self
            .groups
            .lock()
            .expect("never poisoned: no panics inside");
        groups.iter().copied().collect()
    }
}

#[async_trait]
impl AgentControl for ProcessGroup {
    fn interrupt(&self) {
        self.signal(Signal::SIGTERM);
    }

    fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    async fn clean_up(&self) {
        self.signal(Signal::SIGKILL);
        let deadline = tokio::time::Instant::now() + REAP_PATIENCE;
        for group in self.known_groups() {
            reap_group(group, deadline).await;
        }
    }
}

/// Reaps every member of a killed `group` (they are our children or, as orphans, become ours).
async fn reap_group(group: Pid, deadline: tokio::time::Instant) {
    loop {
        match waitid(Id::PGid(group), WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG) {
            // Nothing to reap yet, but a member may still be dying, or a dead member's
            // orphans may not have been re-parented to us yet: the group is gone only when
            // it can no longer be signalled.
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD)
                if tokio::time::Instant::now() < deadline =>
            {
                if killpg(group, None) == Err(Errno::ESRCH) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(error) => {
                tracing::warn!(%error, %group, "could not reap");
                return;
            }
        }
    }
}
