//! The agent runtime port: start one attempt of an agent CLI (or the built-in simulated agent)
//! and hand back its output lines, its exit, and a way to stop it.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use miette::Diagnostic;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::core::agents::command::AgentCommandError;
use crate::core::agents::outcome::ExitStatus;
use crate::core::config::Usd;

/// A process an attempt left running after its agent ended, which the host then stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stray {
    pub pid: u32,
    /// Its command line, as far as it could be read.
    pub command: String,
}

/// Everything an attempt is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// The slot, `agent001`.
    pub agent: String,
    pub issue: u64,
    /// 1 for the first attempt at this issue.
    pub attempt: u32,
    pub title: String,
    pub branch: String,
    /// The attempt's own git worktree: the agent's working directory.
    pub worktree: PathBuf,
    pub prompt: String,
    /// The prompt, also written to a file outside the worktree: CLIs read it from there (as
    /// their standard input, or named by `{prompt_file}`), never as one argument.
    pub prompt_file: PathBuf,
    /// The CLI session an earlier attempt left unfinished (at its turn limit, or stalled), to
    /// continue instead of starting over, for runtimes that can.
    pub resume_session: Option<String>,
    /// Where the agent's output goes. Agent processes write there themselves, not through a
    /// pipe to Clambake, so they outlive an orchestrator crash and can be re-adopted.
    pub logs: LogFiles,
    /// For a runtime that runs elsewhere (`AgentRuntime::runs_elsewhere`): the claim the
    /// attempt works under, the commit of the issue's claim reference, which the other side
    /// checks still stands before it works and pushes. `None` on this machine.
    pub claim: Option<String>,
    /// The attempt's budget, for a CLI that enforces one itself (Claude Code's
    /// `--max-budget-usd`); Clambake enforces it too, from the cost the agent reports.
    pub max_budget_usd: Option<Usd>,
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

    /// Beside the logs: present once someone asked for the attempt to be stopped
    /// (`clambake terminate`, from whichever process), so that its end counts as killed.
    pub fn stop_request(&self) -> PathBuf {
        self.stdout.with_extension("stop-requested")
    }
}

/// How to stop a running agent and clean up after it.
#[async_trait]
pub trait AgentControl: Send + Sync {
    /// Asks the whole agent to stop (SIGTERM to its process group).
    fn interrupt(&self);
    /// Stops the whole agent at once (SIGKILL to its process group).
    fn kill(&self);
    /// After the main process has exited: kills and reaps whatever it left behind, and says
    /// what that was.
    async fn clean_up(&self) -> Vec<Stray>;
}

/// A started attempt.
pub struct RunningAgent {
    /// The main process (and process group) id; `None` for the in-process simulated agent and
    /// for an attempt on a GitHub Actions runner.
    pub pid: Option<u32>,
    /// The workflow run an attempt dispatched to GitHub Actions is; `None` on this machine.
    /// Its host follows the run itself: `output` and `exit` are closed from the start (its
    /// lines arrive with the run's artifact, once it has ended).
    pub run: Option<u64>,
    /// The stdout lines of the agent as they reach its log; closed once the agent has exited
    /// and its log has been read to the end.
    pub output: mpsc::Receiver<String>,
    /// Resolves once the main process has exited and been reaped.
    pub exit: oneshot::Receiver<std::io::Result<ExitStatus>>,
    pub control: Box<dyn AgentControl>,
    /// How every process of the attempt is found; `None` for the in-process simulated agent.
    pub containment: Option<Containment>,
}

/// Where every process of one attempt can be found, whatever it did to its process group or
/// session: recorded with the agent so that `terminate` and a restarted run find them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containment {
    /// The attempt's own cgroup (v2), which holds every process it started, if one was made.
    pub cgroup: Option<PathBuf>,
    /// The attempt's value of `CLAMBAKE_ATTEMPT`, inherited by every descendant that keeps its
    /// environment: how they are found where there is no cgroup.
    pub marker: String,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AgentStartError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Command(#[from] AgentCommandError),
    #[error("could not start `{program}` in {}: {source}", dir.display())]
    #[diagnostic(help(
        "check that the agent CLI is installed and on PATH, or set agents.claude_code_path / agents.codex_path / agents.command"
    ))]
    Spawn {
        program: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the agent's prompt {}: {source}", path.display())]
    Prompt {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the agent's log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not dispatch the agent workflow `{workflow}` on GitHub Actions: {source}")]
    #[diagnostic(help(
        "`clambake actions install` writes the workflow, and it must be on the default branch; `clambake doctor` checks the token's permissions"
    ))]
    Dispatch {
        workflow: String,
        #[source]
        source: crate::ports::forge::ForgeError,
    },
}

impl AgentStartError {
    /// Whether the program itself could not be started (not found, not executable): the
    /// configuration is at fault, and every attempt would fail alike.
    pub fn program_unstartable(&self) -> bool {
        use crate::ports::forge::ForgeError;
        match self {
            Self::Spawn { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            // No such workflow, or a token that may not run it: every dispatch would fail.
            Self::Dispatch { source, .. } => matches!(
                source,
                ForgeError::NoWorkflow { .. } | ForgeError::Unauthorized(_)
            ),
            _ => false,
        }
    }
}

/// An agent CLI that Clambake can run.
#[async_trait]
pub trait AgentRuntime: Send + Sync {
    /// The runtime's config word: `claude`, `codex`, `command`, `simulated`.
    fn name(&self) -> &'static str;
    /// Whether the runtime ends with a verdict: a stream-json `result` event, or Codex's turn end.
    fn reports_result(&self) -> bool;
    /// Whether the runtime can continue an earlier attempt's session (`AgentSpec::resume_session`).
    fn resumes_sessions(&self) -> bool {
        false
    }
    /// Whether its attempts run on another machine (a GitHub Actions runner), from the branch
    /// as the remote has it: the branch is published before they start, and what they pushed
    /// is fetched back once they end.
    fn runs_elsewhere(&self) -> bool {
        false
    }
    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError>;
}
