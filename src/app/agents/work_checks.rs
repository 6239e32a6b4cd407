//! The project's checks (`[checks] command`) on an attempt's finished work, in its worktree,
//! before it may land: their verdict, kept beside the attempt's logs for the next attempt's
//! prompt, and the worktree put back as the agent's work left it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::agents::attempt::AttemptError;
use crate::app::workspace::Workspace;
use crate::app::{AppError, compose};
use crate::core::agents::outcome::{Classification, ExitStatus, Outcome};
use crate::core::agents::prompt::ChecksFailure;
use crate::core::checks;
use crate::ports::agent::LogFiles;
use crate::ports::checks::{CheckRequest, CheckVerdict};

/// The checks' run on an attempt's work, as its verdict, comments and the next prompt use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedWork {
    /// The command as configured.
    pub command: String,
    pub passed: bool,
    /// How they ended, as a sentence ends: `passed`, `exited with 101`, `ran past 30 minutes`.
    pub verdict: String,
    /// The end of their output, secrets redacted.
    pub tail: String,
    /// Their whole output.
    pub log: PathBuf,
}

impl CheckedWork {
    /// What the next attempt's prompt says, when they failed.
    pub fn failure(&self) -> Option<ChecksFailure> {
        (!self.passed).then(|| ChecksFailure {
            command: self.command.clone(),
            verdict: self.verdict.clone(),
            tail: self.tail.clone(),
        })
    }

    /// A success whose checks failed becomes `checks_failed`.
    pub fn judge(&self, classification: &mut Classification) {
        if !self.passed {
            classification.outcome = Outcome::ChecksFailed;
            classification.reason = format!("the checks (`{}`) {}", self.command, self.verdict);
        }
    }
}

/// Where an attempt logged at `logs` keeps its checks' output and verdict.
fn checks_files(logs: &LogFiles) -> (PathBuf, PathBuf) {
    (
        logs.stdout.with_extension("checks.log"),
        logs.stdout.with_extension("checks.json"),
    )
}

/// Present while the checks run on the attempt's worktree: what is uncommitted there then is
/// theirs, not the agent's.
fn running_marker(logs: &LogFiles) -> PathBuf {
    logs.stdout.with_extension("checks-running")
}

/// Throws away what checks interrupted by a crash left in `worktree`, before leftovers are
/// committed again: otherwise re-judging the attempt would commit the checks' files as the
/// agent's work.
pub async fn discard_interrupted_checks(
    workspace: &Workspace,
    worktree: &Path,
    logs: &LogFiles,
) -> Result<(), AttemptError> {
    let marker = running_marker(logs);
    if marker.exists() && worktree.is_dir() {
        tracing::warn!(worktree = %worktree.display(), "discarding what interrupted checks left");
        workspace.worktrees().discard_changes(worktree).await?;
    }
    let _ = tokio::fs::remove_file(&marker).await;
    Ok(())
}

/// Runs the checks on the work in `worktree` (its changes already committed), when a command
/// is configured; whatever they change there is thrown away after, so it can never be taken
/// for the agent's work. `None` without a command.
pub async fn check_work(
    workspace: &Workspace,
    worktree: &Path,
    logs: &LogFiles,
) -> Result<Option<CheckedWork>, AttemptError> {
    let checks_error = |error: AppError| AttemptError::Checks(Box::new(error));
    let config = match workspace.load_config() {
        Ok(loaded) => loaded.config,
        // No configuration, no checks (a repository attempts run in without `init`).
        Err(AppError::NotInitialized { .. }) => return Ok(None),
        Err(error) => return Err(checks_error(error)),
    };
    let argv = checks::argv(&config.checks).map_err(|e| checks_error(e.into()))?;
    if argv.is_empty() {
        return Ok(None);
    }
    let env = compose::checks_environment(&config).map_err(checks_error)?;
    let (log, verdict_file) = checks_files(logs);
    // A rerun of the same attempt (after a restart) starts a fresh log.
    let _ = tokio::fs::remove_file(&log).await;
    let marker = running_marker(logs);
    tokio::fs::write(&marker, b"")
        .await
        .map_err(|source| AttemptError::Io {
            action: "write",
            path: marker.clone(),
            source,
        })?;
    let timeout = Duration::from_secs(u64::from(config.checks.timeout_minutes) * 60);
    let run = compose::check_runner()
        .run(&CheckRequest {
            dir: worktree,
            argv: &argv,
            env: &env,
            timeout,
            log: &log,
        })
        .await;
    workspace.worktrees().discard_changes(worktree).await?;
    // What is left uncommitted from now on is no longer the checks'.
    let _ = tokio::fs::remove_file(&marker).await;
    // Secrets go before any line is cut short.
    let output = tokio::fs::read(&log).await.unwrap_or_default();
    let output = compose::secrets()
        .redact(&String::from_utf8_lossy(&output))
        .into_owned();
    let tail = match &run.verdict {
        CheckVerdict::Unstartable { message } => compose::secrets().redact(message).into_owned(),
        _ => checks::output_tail(&output),
    };
    let checked = CheckedWork {
        command: config.checks.command.clone(),
        passed: run.passed(),
        verdict: verdict_sentence(&run.verdict, config.checks.timeout_minutes),
        tail,
        log,
    };
    let json = serde_json::to_vec_pretty(&checked).expect("a checks verdict serialises");
    tokio::fs::write(&verdict_file, json)
        .await
        .map_err(|source| AttemptError::Io {
            action: "write",
            path: verdict_file.clone(),
            source,
        })?;
    tracing::info!(passed = checked.passed, verdict = %checked.verdict, "checks ran on the work");
    Ok(Some(checked))
}

/// The failure the checks reported on an earlier attempt, whose stdout log is `log`, if they
/// failed there.
pub fn earlier_failure(log: &Path) -> Option<ChecksFailure> {
    let (_, verdict_file) = checks_files(&LogFiles {
        stdout: log.to_path_buf(),
        stderr: PathBuf::new(),
    });
    let text = std::fs::read(verdict_file).ok()?;
    serde_json::from_slice::<CheckedWork>(&text).ok()?.failure()
}

fn verdict_sentence(verdict: &CheckVerdict, timeout_minutes: u32) -> String {
    match verdict {
        CheckVerdict::Passed => "passed".to_owned(),
        CheckVerdict::Failed {
            exit: ExitStatus::Code(code),
        } => format!("exited with {code}"),
        CheckVerdict::Failed {
            exit: ExitStatus::Signal(signal),
        } => format!("were killed by signal {signal}"),
        CheckVerdict::Failed { .. } => "failed".to_owned(),
        CheckVerdict::TimedOut => format!("ran past {timeout_minutes} minutes and were stopped"),
        CheckVerdict::Unstartable { .. } => "could not start".to_owned(),
    }
}
