//! Agent CLIs as child processes: each in a process group of its own, with a scrubbed
//! environment and no shell, its output read line by line, its whole group signalled and
//! reaped.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::core::outcome::ExitStatus;
use crate::ports::agent::{AgentControl, AgentStartError, OutputLine, RunningAgent};

/// Longer lines are cut here (the rest of the line is dropped), so a flood without newlines
/// cannot exhaust memory. Claude Code's lines carry whole file reads, hence the room.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Lines buffered between the readers and the supervisor; a faster agent waits on its pipe.
const OUTPUT_BUFFER: usize = 1024;

/// How long `clean_up` waits for a killed group's members to be reaped.
const REAP_PATIENCE: Duration = Duration::from_secs(2);

/// Starts `argv` in `dir` with exactly `env`, in a new process group led by the child.
pub fn spawn(
    argv: &[String],
    env: &[(String, String)],
    dir: &Path,
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
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let pid = child
        .id()
        .expect("a just-spawned child has not been reaped yet");
    let (lines, output) = mpsc::channel(OUTPUT_BUFFER);
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(pump(stdout, OutputLine::Stdout, lines.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(pump(stderr, OutputLine::Stderr, lines));
    }
    let (exited, exit) = oneshot::channel();
    tokio::spawn(async move {
        let status = child.wait().await.map(|status| match status.code() {
            Some(code) => ExitStatus::Code(code),
            None => ExitStatus::Signal(status.signal().unwrap_or_default()),
        });
        let _ = exited.send(status);
    });
    let group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
    Ok(RunningAgent {
        pid: Some(pid),
        output,
        exit,
        control: Box::new(ProcessGroup { group }),
    })
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

/// Reads `stream` line by line into `lines`, cutting overlong lines, decoding lossily.
async fn pump<R: AsyncRead + Unpin>(
    stream: R,
    wrap: fn(String) -> OutputLine,
    lines: mpsc::Sender<OutputLine>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line = Vec::new();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let newline = chunk.iter().position(|&b| b == b'\n');
        let content = &chunk[..newline.unwrap_or(chunk.len())];
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&content[..content.len().min(room)]);
        let consumed = newline.map_or(chunk.len(), |at| at + 1);
        reader.consume(consumed);
        if newline.is_some() {
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            if lines.send(wrap(text)).await.is_err() {
                return;
            }
        }
    }
    if !line.is_empty() {
        let _ = lines
            .send(wrap(String::from_utf8_lossy(&line).into_owned()))
            .await;
    }
}

/// An agent's process group, addressed by its leader's pid.
struct ProcessGroup {
    group: Pid,
}

impl ProcessGroup {
    fn signal(&self, signal: Signal) {
        match killpg(self.group, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(%error, group = %self.group, ?signal, "could not signal"),
        }
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
        loop {
            match waitid(
                Id::PGid(self.group),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
            ) {
                Ok(WaitStatus::StillAlive) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(error) => {
                    tracing::warn!(%error, group = %self.group, "could not reap");
                    return;
                }
            }
        }
    }
}
