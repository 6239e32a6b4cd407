//! Agent CLIs as child processes: each in a process group (and, where Linux allows, a cgroup)
//! of its own, with a scrubbed environment, under a waiter that records its exit status (its
//! argv is never shell text), its output appended to its logs and followed line by line, and
//! everything it started signalled and reaped.

use std::io::{SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use super::attempt_processes::AttemptProcesses;
use super::cgroup::AttemptCgroup;
use super::procfs;
use super::waiter;
use crate::core::agents::containment::{ATTEMPT_MARKER, attempt_cgroup_name, attempt_marker};
use crate::core::agents::outcome::ExitStatus;
use crate::ports::agent::{AgentStartError, Containment, LogFiles, RunningAgent};
use crate::ports::agent_host::Stopped;

/// Longer lines are cut here when read (the log keeps them whole), so a flood without newlines
/// cannot exhaust memory. Claude Code's lines carry whole file reads, hence the room.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Lines buffered between a log's reader and the supervisor.
const OUTPUT_BUFFER: usize = 1024;

/// How often a quiet log is looked at again: soon after output, backing off while it is quiet.
/// The agent's end is signalled, not polled, so it costs no latency.
const POLL_MIN: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(100);

/// How often a start refused with ETXTBSY is tried again.
const EXECUTABLE_BUSY_RETRIES: u32 = 100;

/// How often an adopted agent (not our child: no exit notification) is checked for.
const ADOPTED_POLL: Duration = Duration::from_millis(50);

/// How an attempt's processes are found beyond its process groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessTracking {
    /// A cgroup of its own where this machine allows one, else the environment marker.
    #[default]
    CgroupWhereAvailable,
    /// The environment marker only (what machines without a usable cgroup2 get).
    MarkerOnly,
}

/// Starts `argv` in `dir` with exactly `env` (plus the attempt's marker), in a new process
/// group led by the child and, with `tracking` allowing it, in a cgroup of its own, its stdout
/// and stderr appended to `logs` directly: the agent never writes to a pipe that an
/// orchestrator crash would break. Its standard input is the file `stdin` (the prompt, which
/// no argument could hold whole), or nothing.
pub fn spawn(
    argv: &[String],
    env: &[(String, String)],
    dir: &Path,
    logs: &LogFiles,
    tracking: ProcessTracking,
    stdin: Option<&Path>,
) -> Result<RunningAgent, AgentStartError> {
    super::orphans::adopt_orphans();
    let marker = new_marker(logs);
    let cgroup = match tracking {
        ProcessTracking::CgroupWhereAvailable => {
            AttemptCgroup::create(&attempt_cgroup_name(&marker))
        }
        ProcessTracking::MarkerOnly => None,
    };
    let mut env = env.to_vec();
    env.push((ATTEMPT_MARKER.to_owned(), marker.clone()));
    let (child, cgroup) = match cgroup {
        Some(cgroup) => match start(argv, &env, dir, logs, stdin, Some(&cgroup)) {
            Ok(child) => (child, Some(cgroup)),
            Err(error) => {
                // Joining can be refused (the cgroup above is not ours to move processes
                // out of): start without it rather than not at all.
                tracing::warn!(%error, cgroup = %cgroup.path().display(), "starting the agent outside its cgroup");
                let _ = cgroup.remove();
                (start(argv, &env, dir, logs, stdin, None)?, None)
            }
        },
        None => (start(argv, &env, dir, logs, stdin, None)?, None),
    };
    let Started {
        mut child,
        stdout_from,
    } = child;
    let pid = child
        .id()
        .expect("a just-spawned child has not been reaped yet");
    // Read before its waiter can reap it: until then the pid is the child's.
    let start_time = procfs::stat(pid).map(|stat| stat.start_time);
    let (ended, ended_watch) = watch::channel(false);
    let output = follow(logs.stdout.clone(), stdout_from, ended_watch);
    let (exited, exit) = oneshot::channel();
    tokio::spawn(async move {
        // The waiter passes the agent's status on as a shell does.
        let status = child.wait().await.map(|status| match status.code() {
            Some(code) => ExitStatus::from_shell_status(code),
            None => ExitStatus::Signal(status.signal().unwrap_or_default()),
        });
        super::orphans::waiter_reaped(pid);
        ended.send_replace(true);
        let _ = exited.send(status);
    });
    let containment = Containment {
        cgroup: cgroup.map(|c| c.path().to_path_buf()),
        marker,
    };
    Ok(RunningAgent {
        pid: Some(pid),
        run: None,
        output,
        exit,
        control: Box::new(AttemptProcesses::new(pid, start_time, Some(&containment))),
        containment: Some(containment),
    })
}

/// A child just started, and where its new output begins in its stdout log.
struct Started {
    child: tokio::process::Child,
    stdout_from: u64,
}

/// Starts the child, which joins `cgroup` (if given) before it executes `argv`: between
/// fork and exec it writes `0` to the cgroup's `cgroup.procs`, so that nothing the agent
/// runs, however early it forks, starts outside it.
fn start(
    argv: &[String],
    env: &[(String, String)],
    dir: &Path,
    logs: &LogFiles,
    stdin: Option<&Path>,
    cgroup: Option<&AttemptCgroup>,
) -> Result<Started, AgentStartError> {
    let spawn_error = |source| AgentStartError::Spawn {
        program: argv.first().cloned().unwrap_or_default(),
        dir: dir.to_path_buf(),
        source,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| spawn_error(std::io::ErrorKind::InvalidInput.into()))?;
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let program = waiter::resolve(program, dir, path_var).map_err(spawn_error)?;
    let status_file = waiter::status_file(logs);
    let (stdout, stdout_from) = open_log(&logs.stdout)?;
    let (stderr, _) = open_log(&logs.stderr)?;
    // A status left by an earlier start of the same attempt must not be read as this one's.
    match std::fs::remove_file(&status_file) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(AgentStartError::Log {
                path: status_file,
                source: error,
            });
        }
        _ => {}
    }
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
    let waited = waiter::wrapped(&program, args, &status_file);
    let (shell, shell_args) = waited
        .split_first()
        .expect("the waiter's argv is not empty");
    let mut command = tokio::process::Command::new(shell);
    command
        .args(shell_args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(input)
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    if let Some(cgroup) = cgroup {
        // Opened here, close-on-exec: the child only writes to it.
        let procs = cgroup.procs_for_joining().map_err(spawn_error)?;
        // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls
        // are allowed: it makes one write(2) to an open descriptor, allocating nothing.
        unsafe {
            command.pre_exec(move || (&procs).write_all(b"0"));
        }
    }
    let mut busy_retries = 0;
    // Registered before the reaper of orphans can see it exit: it is tokio's to reap.
    let mut waiters = super::orphans::starting_waiter();
    let child = loop {
        match command.spawn() {
            // A program just written by another thread of this process can be busy for a
            // moment: a child forked meanwhile holds the writer's descriptor until it execs.
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && busy_retries < EXECUTABLE_BUSY_RETRIES =>
            {
                busy_retries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            result => break result.map_err(spawn_error)?,
        }
    };
    waiters.extend(child.id());
    Ok(Started { child, stdout_from })
}

/// A marker value for a new attempt logged at `logs`, unique to this start.
fn new_marker(logs: &LogFiles) -> String {
    let stem = logs
        .stdout
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    attempt_marker(&stem, std::process::id(), nanos)
}

/// Takes over an agent that a previous orchestrator started: `pid` with this `start_time`
/// (from `/proc/<pid>/stat`), its processes found by `containment` as recorded. Its log is
/// read again from the start; its end is noticed when that process is gone (or a zombie, or
/// the pid belongs to a newer process). Not being its parent, Clambake learns its exit status
/// from its waiter, if that recorded one.
pub fn adopt(
    pid: u32,
    start_time: u64,
    logs: &LogFiles,
    containment: Option<Containment>,
) -> RunningAgent {
    let (ended, ended_watch) = watch::channel(false);
    let output = follow(logs.stdout.clone(), 0, ended_watch);
    let (exited, exit) = oneshot::channel();
    let recorded = logs.clone();
    tokio::spawn(async move {
        while is_running(pid, start_time) {
            tokio::time::sleep(ADOPTED_POLL).await;
        }
        ended.send_replace(true);
        let status = waiter::recorded_exit(&recorded).unwrap_or(ExitStatus::Unknown);
        let _ = exited.send(Ok(status));
    });
    RunningAgent {
        pid: Some(pid),
        run: None,
        output,
        exit,
        control: Box::new(AttemptProcesses::new(
            pid,
            Some(start_time),
            containment.as_ref(),
        )),
        containment,
    }
}

/// How long SIGKILLed processes may take to disappear before `terminate` stops waiting.
const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// Stops the agent `pid` that started at `start_time`, whoever supervises it, and every
/// process of its attempt (found by `containment`): SIGTERM to all of them, `grace` for them
/// to end, then SIGKILL to whatever is left. Its supervisor (its parent) reaps it and
/// classifies the attempt.
pub async fn terminate(
    pid: u32,
    start_time: u64,
    containment: Option<&Containment>,
    grace: Duration,
) -> Stopped {
    let processes = AttemptProcesses::new(pid, Some(start_time), containment);
    if !is_running(pid, start_time) {
        // What it left running is stopped all the same (its group is not: with its leader
        // gone, that number may name someone else's group by now).
        processes.kill_escaped();
        return Stopped::AlreadyGone;
    }
    let all_gone_within = |patience: Duration| {
        let processes = &processes;
        async move {
            let deadline = tokio::time::Instant::now() + patience;
            while is_running(pid, start_time) || processes.any_alive() {
                if tokio::time::Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(ADOPTED_POLL).await;
            }
            true
        }
    };
    processes.signal(Signal::SIGTERM);
    all_gone_within(grace).await;
    let stopped = if is_running(pid, start_time) {
        Stopped::Killed
    } else {
        Stopped::Gracefully
    };
    processes.kill_all();
    all_gone_within(KILL_PATIENCE).await;
    stopped
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
