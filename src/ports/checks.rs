//! The checks port: the project's checks (`[checks] command`) run on a tree checked out here,
//! and a commit's checks wherever they run (here, or the forge's CI), read back by commit.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use miette::Diagnostic;
use serde::Serialize;

use crate::core::agents::outcome::ExitStatus;
use crate::ports::forge::ForgeError;
use crate::ports::git::GitError;

/// One run of the checks command.
#[derive(Debug, Clone, Copy)]
pub struct CheckRequest<'a> {
    /// The worktree they run in, as their working directory.
    pub dir: &'a Path,
    /// The command, already split into words; never run by a shell.
    pub argv: &'a [String],
    /// Exactly the environment they get: `core::checks::environment` makes it (an agent's
    /// scrubbed one, with no model keys, plus checks.env).
    pub env: &'a [(String, String)],
    /// Past this the checks fail and their processes are killed, the whole tree of them.
    pub timeout: Duration,
    /// Where their output (stdout and stderr, interleaved as written) is kept, whole.
    pub log: &'a Path,
}

/// How a run of the checks ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum CheckVerdict {
    Passed,
    /// They exited unsuccessfully.
    Failed {
        exit: ExitStatus,
    },
    /// They ran past the timeout and were killed.
    TimedOut,
    /// The command could not be started (not found, not executable).
    Unstartable {
        message: String,
    },
}

/// A finished run of the checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRun {
    pub verdict: CheckVerdict,
    /// The last lines of their output, for a comment or a prompt; not yet redacted.
    pub tail: String,
    #[serde(with = "duration_seconds")]
    pub took: Duration,
}

impl CheckRun {
    pub fn passed(&self) -> bool {
        self.verdict == CheckVerdict::Passed
    }
}

/// Runs the checks command on a tree checked out here.
#[async_trait]
pub trait CheckRunner: Send + Sync {
    /// Runs the checks to their end (or their timeout); every failure is a verdict, not an
    /// error, so that it can be told to the agent.
    async fn run(&self, request: &CheckRequest<'_>) -> CheckRun;
}

/// Where a commit stands with its checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CommitCheckState {
    /// Nobody asked for them, or what was asked is gone (a restart): ask.
    NotStarted,
    /// Asked for, and not all done.
    Pending,
    Passed,
    Failed(CheckFailure),
}

/// Why a commit's checks failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFailure {
    /// One line: which check failed and how.
    pub summary: String,
    /// Where a person reads the whole log: the check run's page, or the log file here.
    pub details: Option<String>,
    /// The last lines of the failing output, when the source has them; not yet redacted.
    pub tail: String,
}

/// Something went wrong asking for or reading checks (not a failing check: that is a state).
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ChecksError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Forge(#[from] ForgeError),
    #[error("checks: {0}")]
    Io(String),
}

/// A commit's checks, asked for and read back by commit, wherever they run: the checks command
/// here (in a temporary worktree) or the forge's CI on a branch pushed for them.
#[async_trait]
pub trait CommitChecks: Send + Sync {
    /// Asks for `commit`'s checks; `name` says what it is (a bundle, a bisection step) where
    /// the forge shows it. Asking again for a commit already asked for does nothing.
    async fn request(&self, commit: &str, name: &str) -> Result<(), ChecksError>;
    /// Where `commit`'s checks stand now.
    async fn state(&self, commit: &str) -> Result<CommitCheckState, ChecksError>;
}

mod duration_seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(took: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(took.as_secs_f64())
    }
}
