//! Watching one running attempt: every output line to its log, stdout parsed into events, the
//! heartbeat kept, stalls and timeouts enforced, and the whole agent stopped and reaped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use tokio::fs::File;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use crate::core::agent_events::{AttemptTotals, parse_line};
use crate::core::outcome::{ExitStatus, Termination};
use crate::ports::agent::{OutputLine, RunningAgent};

/// When Clambake gives up on an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest silence on stdout before the agent counts as stalled.
    pub stall: Duration,
    /// The longest an attempt may run.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Where an attempt's raw output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// Every stdout line, as printed: `.clambake/logs/<agent>-<issue>-<attempt>.jsonl`.
    pub stdout: PathBuf,
    /// Every stderr line, beside it: `...-<attempt>.stderr.log`.
    pub stderr: PathBuf,
}

impl LogFiles {
    pub fn in_dir(dir: &Path, agent: &str, issue: u64, attempt: u32) -> Self {
        let stem = format!("{agent}-{issue}-{attempt}");
        Self {
            stdout: dir.join(format!("{stem}.jsonl")),
            stderr: dir.join(format!("{stem}.stderr.log")),
        }
    }
}

/// What the supervisor saw of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub exit: ExitStatus,
    pub terminated: Option<Termination>,
    pub totals: AttemptTotals,
    /// The heartbeat: when the last stdout line arrived.
    pub last_event_at: Option<Timestamp>,
    /// When the main process's exit was seen (before leftovers were cleaned up).
    pub exited_at: Instant,
}

/// Supervises `agent` until it has exited, its leftovers are reaped and its output is drained.
/// Sending on (or dropping) `stop` does nothing; sending `()` terminates it on request.
pub async fn supervise(
    agent: RunningAgent,
    limits: Limits,
    logs: &LogFiles,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<AttemptReport> {
    let RunningAgent {
        output: mut lines,
        exit: mut exited,
        control,
        ..
    } = agent;
    if let Some(dir) = logs.stdout.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut stdout_log = BufWriter::new(open_append(&logs.stdout).await?);
    let mut stderr_log = BufWriter::new(open_append(&logs.stderr).await?);
    let started = Instant::now();
    let mut last_line = started;
    let mut totals = AttemptTotals::default();
    let mut last_event_at = None;
    let mut terminated = None;
    let mut kill_at: Option<Instant> = None;
    let mut stop = Some(stop);
    let mut output_open = true;
    let (exit, exited_at) = loop {
        let give_up_at = (last_line + limits.stall).min(started + limits.timeout);
        tokio::select! {
            line = lines.recv(), if output_open => match line {
                Some(OutputLine::Stdout(line)) => {
                    last_line = Instant::now();
                    last_event_at = Some(Timestamp::now());
                    write_line(&mut stdout_log, &line).await?;
                    totals.record(&parse_line(&line));
                    if lines.is_empty() {
                        stdout_log.flush().await?;
                    }
                }
                Some(OutputLine::Stderr(line)) => {
                    write_line(&mut stderr_log, &line).await?;
                    if lines.is_empty() {
                        stderr_log.flush().await?;
                    }
                }
                None => output_open = false,
            },
            status = &mut exited => {
                let exited_at = Instant::now();
                let status = status.map_err(|_| {
                    std::io::Error::other("the agent's exit was lost: its watcher ended early")
                })??;
                break (status, exited_at);
            },
            _ = sleep_until(give_up_at), if terminated.is_none() => {
                terminated = Some(if last_line + limits.stall <= started + limits.timeout {
                    Termination::Stall
                } else {
                    Termination::Timeout
                });
                control.interrupt();
                kill_at = Some(Instant::now() + limits.grace);
            },
            _ = sleep_until(kill_at.unwrap_or(started)), if kill_at.is_some() => {
                control.kill();
                kill_at = None;
            },
            request = async { stop.as_mut().expect("guarded").await }, if stop.is_some() => {
                stop = None;
                if request.is_ok() && terminated.is_none() {
                    terminated = Some(Termination::Requested);
                    control.interrupt();
                    kill_at = Some(Instant::now() + limits.grace);
                }
            },
        }
    };
    control.clean_up().await;
    // The group is dead, so the pipes close: drain what is left. An escaped process (one that
    // left the group with setsid) could hold a pipe open, so the wait is bounded.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while output_open {
        match tokio::time::timeout_at(drain_until, lines.recv()).await {
            Ok(Some(OutputLine::Stdout(line))) => {
                last_event_at = Some(Timestamp::now());
                write_line(&mut stdout_log, &line).await?;
                totals.record(&parse_line(&line));
            }
            Ok(Some(OutputLine::Stderr(line))) => write_line(&mut stderr_log, &line).await?,
            Ok(None) | Err(_) => output_open = false,
        }
    }
    stdout_log.flush().await?;
    stderr_log.flush().await?;
    Ok(AttemptReport {
        exit,
        terminated,
        totals,
        last_event_at,
        exited_at,
    })
}

async fn open_append(path: &Path) -> std::io::Result<File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

async fn write_line(log: &mut BufWriter<File>, line: &str) -> std::io::Result<()> {
    log.write_all(line.as_bytes()).await?;
    log.write_all(b"\n").await
}
