//! The application layer's errors, in one place: each names what is wrong and what to do.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::core::config::{CONFIG_FILE, ConfigError};
use crate::core::lifecycle::machine::TransitionError;
use crate::core::queue::slots::SlotRefusal;
use crate::ports::agent::AgentStartError;
use crate::ports::agent_registry::RegistryError;
use crate::ports::credentials::NoToken;
use crate::ports::forge::ForgeError;
use crate::ports::git::GitError;
use crate::ports::journal::JournalError;

/// Errors of the application layer: each names what is wrong and what to do.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AppError {
    #[error("{} is not inside a git repository", dir.display())]
    #[diagnostic(help("run clambake inside your project's repository, or pass `-C <path>`"))]
    NotARepository { dir: PathBuf },
    #[error("the repository at {} has no commits yet", root.display())]
    #[diagnostic(help(
        "make a first commit (for example `git commit --allow-empty -m \"Initial commit\"`): agents branch from it and trains merge onto it"
    ))]
    NoCommits { root: PathBuf },
    #[error("this repository has no {CONFIG_FILE} yet ({})", root.display())]
    #[diagnostic(help("run `clambake init` first"))]
    NotInitialized { root: PathBuf },
    #[error("the local forge has not been set up in {}", dir.display())]
    #[diagnostic(help("run `clambake init`: it creates the forge and keeps your {CONFIG_FILE}"))]
    NoLocalForge { dir: PathBuf },
    #[error(
        "{} is missing, but agent branches exist ({}): the forge that tracked them is gone",
        path.display(),
        branches.join(", ")
    )]
    #[diagnostic(help(
        "restore .clambake/forge.db from a backup. A new, empty forge would number issues from #1 \
         again beside these branches; to start one anyway, first move the agent branches out of \
         Clambake's namespace (`git branch -m agent001/1-x kept/agent001/1-x`), then `clambake init`"
    ))]
    ForgeLost {
        path: PathBuf,
        branches: Vec<String>,
    },
    #[error("{agent}'s last attempt, on #{issue}, ended but no run has acted on its verdict yet")]
    #[diagnostic(help(
        "`clambake run` judges it first (from its log) and lands, retries or fails the issue"
    ))]
    UnjudgedAttempt { agent: String, issue: u64 },
    #[error("issue #{issue} is claimed by {holder}, so {agent} cannot work on it")]
    #[diagnostic(help(
        "wait for {holder} to finish, or free it first: `clambake agent force-reset --agent {holder}`"
    ))]
    ClaimedElsewhere {
        issue: u64,
        agent: String,
        holder: String,
    },
    #[error("{agent} still holds issue #{held}, so it cannot take issue #{issue}")]
    #[diagnostic(help(
        "land its work first (`clambake land --agent {agent}`), or free the slot: `clambake agent force-reset --agent {agent}`"
    ))]
    SlotHoldsAnother {
        agent: String,
        held: u64,
        issue: u64,
    },
    #[error("issue #{issue} is closed")]
    #[diagnostic(help("reopen it first if it needs more work"))]
    ClosedIssue { issue: u64 },
    #[error("the {runtime} runtime was asked for, but agents.real_processes is false")]
    #[diagnostic(help(
        "only the simulated agent runs while real agents are rolled back: `clambake rollback --feature real-agents --enable` turns them on again, or leave out --runtime"
    ))]
    RealAgentsRolledBack { runtime: String },
    #[error("the {runtime} agent cannot be started: {problem}")]
    #[diagnostic(help("{advice}"))]
    AgentUnavailable {
        runtime: String,
        problem: String,
        advice: String,
    },
    #[error("the model API refused the {runtime} agent's key: {problem}")]
    #[diagnostic(help(
        "every attempt would fail alike, so nothing more was claimed and the issue is back on route:ready; set a valid key, check it with `clambake doctor`, then run again"
    ))]
    ModelKeyRefused { runtime: String, problem: String },
    #[error("this would {change}, for every later run")]
    #[diagnostic(help("add --confirm to go ahead"))]
    Unconfirmed { change: String },
    #[error("{} is not empty", dir.display())]
    #[diagnostic(help(
        "the demo makes a new repository: name a new directory, or remove this one"
    ))]
    DemoDirectoryInUse { dir: PathBuf },
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another bundler is running in this repository (it holds {})", lock.display())]
    #[diagnostic(help("wait for it to finish; the lock is released when that process exits"))]
    BundlerBusy { lock: PathBuf },
    #[error(
        "the bundle branch `{branch}` already exists, points elsewhere, and has a pull request"
    )]
    #[diagnostic(help(
        "run `clambake bundle --status` to see the open bundles; delete the branch only if no \
         pull request needs it"
    ))]
    BundleBranchTaken { branch: String },
    #[error("#{pull_request} is not an open bundle pull request with a trusted record")]
    #[diagnostic(help("run `clambake bundle --status` to see the open bundles"))]
    NotAnOpenBundle { pull_request: u64 },
    #[error(
        "rebuilding `{branch}` without some members, #{issue} conflicts in {}",
        paths.join(", ")
    )]
    #[diagnostic(help(
        "its branch depends on a member taken out; close the bundle and let the next train \
         plan it afresh"
    ))]
    RebuildConflict {
        branch: String,
        issue: u64,
        paths: Vec<String>,
    },
    #[error("refused to land #{issue}: {why}")]
    #[diagnostic(help(
        "the issue is now route:failed, with a comment saying so; move the work onto the base \
         branch (rebase or cherry-pick it), then label the issue route:ready to try again"
    ))]
    LandingRefused { issue: u64, why: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    NoToken(#[from] NoToken),
    #[error(transparent)]
    #[diagnostic(transparent)]
    ChecksConfig(#[from] crate::core::checks::ChecksConfigError),
    #[error("origin's URL `{url}` names no repository on a GitHub host")]
    #[diagnostic(help(
        "name it: `clambake init --backend github --owner OWNER --repo REPO` (and --api-url for \
         GitHub Enterprise Server), or point origin at it: `git remote set-url origin \
         https://github.com/OWNER/REPO.git`"
    ))]
    NotAGithubRemote { url: String },
    #[error("this repository has no `origin` remote, which the GitHub backend pushes branches to")]
    #[diagnostic(help(
        "add it: `git remote add origin https://github.com/OWNER/REPO.git` (or the ssh form)"
    ))]
    NoOrigin,
    #[error("{login} may not push to {repository}: the token has {has}")]
    #[diagnostic(help(
        "Clambake pushes branches and writes labels, comments and pull requests: it needs the \
         push (write) permission on {repository}. Ask an admin to give {login} write access, or \
         use a token with the `repo` scope (a fine-grained one with read and write access to \
         contents, issues and pull requests)"
    ))]
    CannotPush {
        login: String,
        repository: String,
        has: String,
    },
    #[error("{path} was not written by Clambake: it is left as it is")]
    #[diagnostic(help(
        "move it away, or name another file in github_actions.bundling_workflow or \
         github_actions.agent_workflow (`clambake config set`), then install again"
    ))]
    NotClambakesWorkflow { path: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Forge(#[from] ForgeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checks(#[from] crate::ports::checks::ChecksError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Attempt(Box<AttemptError>),
    #[error(
        "GitHub Actions needs forge.backend = \"github\"; this repository's forge is \"{backend}\""
    )]
    #[diagnostic(help(
        "set the repository up on GitHub first: `clambake init --backend github --owner OWNER --repo REPO`"
    ))]
    ActionsNeedGithub { backend: String },
    #[error("GitHub Actions is switched off here (github_actions.enabled = false)")]
    #[diagnostic(help("switch it on: `clambake rollback --feature actions --enable --confirm`"))]
    ActionsDisabled,
    #[error("workflow run {id} runs {path}, which is none of Clambake's workflows ({workflows})")]
    #[diagnostic(help("Clambake cancels only its own runs: cancel others on GitHub"))]
    NotClambakeRun {
        id: u64,
        path: String,
        workflows: String,
    },
    #[error("workflow run {id} has not completed yet (it is {status}): its logs come once it has")]
    #[diagnostic(help(
        "`clambake actions status` shows where it stands; ask again when it has completed"
    ))]
    RunNotCompleted { id: u64, status: String },
    #[error("cannot serve the metrics and the dashboard on {address}: {problem}")]
    #[diagnostic(help(
        "serve.address is an IP address and port; anywhere but loopback (127.0.0.1, ::1) needs a token in CLAMBAKE_SERVE_TOKEN"
    ))]
    Serve { address: String, problem: String },
    #[error("cannot send notifications to {target}: {problem}")]
    #[diagnostic(help(
        "notify.webhook_url is an http:// or https:// URL; empty turns notifications off"
    ))]
    Notify { target: String, problem: String },
    #[error("`{id}` cannot name an orchestrator")]
    #[diagnostic(help(
        "set orchestrator.id to letters, digits, '.', '_' and '-' (64 at most), or leave it empty for one made from the host name"
    ))]
    InvalidOrchestratorId { id: String },
    /// `fix` says how to give one of them another id, as its id was set.
    #[error(
        "another orchestrator runs under this one's id `{id}`: its sign of life on the remote carries another process's nonce, so this one stops claiming; {fix}"
    )]
    DuplicateOrchestratorId { id: String, fix: String },
    #[error("refused the attempt at #{issue} dispatched here: {why}")]
    #[diagnostic(help(
        "the orchestrator that dispatched it has moved on; nothing was pushed, and it judges the issue itself"
    ))]
    StaleDispatch { issue: u64, why: String },
    #[error("`{branch}` is not an agent branch of issue #{issue}")]
    #[diagnostic(help(
        "an attempt works on its slot's branch for the issue: agentNNN/{issue}-..."
    ))]
    NotAnAgentBranch { branch: String, issue: u64 },
    #[error("`{agent}` is not an agent id")]
    #[diagnostic(help("agent ids are agentNNN, one per slot: agent001, agent002, ..."))]
    NotAnAgent { agent: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Processes(#[from] crate::ports::processes::ProcessError),
}

impl From<AttemptError> for AppError {
    fn from(error: AttemptError) -> Self {
        Self::Attempt(Box::new(error))
    }
}

impl From<ConfigError> for AppError {
    fn from(error: ConfigError) -> Self {
        Self::Config(Box::new(error))
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Errors of one agent attempt, from its worktree to its registration.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AttemptError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Start(#[from] AgentStartError),
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Slot(#[from] SlotRefusal),
    #[error("{agent} has nothing to land: {found} issue(s) are claimed by it or have its worktree")]
    #[diagnostic(help(
        "land needs exactly one: check the issue's `{agent}` label and .clambake/worktrees/"
    ))]
    NothingToLand { agent: String, found: usize },
    #[error("{branch} has no commits ahead of {base}: there is no work on issue #{issue} to land")]
    #[diagnostic(help("spawn the agent again: `clambake spawn --agent {agent} --issue {issue}`"))]
    NoCommits {
        agent: String,
        issue: u64,
        branch: String,
        base: String,
    },
    #[error("{agent} is not running")]
    #[diagnostic(help("`clambake agent list` shows the running agents"))]
    NotRunning { agent: String },
    #[error("issue #{issue} has no logged attempt")]
    #[diagnostic(help(
        "no agent has worked on it here, or its logs were pruned (`[logs] keep_days`); `clambake status` lists the queue"
    ))]
    NoAttempts { issue: u64 },
    #[error("issue #{issue} has no attempt {attempt}; its attempts: {known}")]
    #[diagnostic(help("leave out --attempt for the latest"))]
    NoSuchAttempt {
        issue: u64,
        attempt: u32,
        known: String,
    },
    /// The checks could not be set up for the finished work (its configuration, its files).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checks(Box<AppError>),
    /// The journal refused the slot's step as the agent started.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(Box<AppError>),
    #[error("{} already exists but has `{found}` checked out, not `{branch}`", worktree.display())]
    #[diagnostic(help("remove it with `git worktree remove {}` and try again", worktree.display()))]
    WorktreeOnOtherBranch {
        worktree: PathBuf,
        branch: String,
        found: String,
    },
}

impl AttemptError {
    /// Whether the attempt failed because its agent CLI cannot be started at all.
    pub fn agent_unstartable(&self) -> bool {
        matches!(self, Self::Start(start) if start.program_unstartable())
    }
}

/// The run lock is held by another process, or cannot be used.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum LockError {
    #[error("another Clambake process is already running agents in this repository: {holder}")]
    #[diagnostic(help("stop it first (Ctrl-C, or `kill <pid>`), or let it finish"))]
    Held { holder: String },
    #[error("could not use the lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What kind of failure ended a command, and so its exit status: a script can tell "set this
/// repository up first" from "try again later" from "fix the configuration" without reading
/// the message. The codes are stable; the README lists them.
///
/// | code | kind |
/// | ---- | ---- |
/// | 0    | success |
/// | 1    | [`Inconsistent`](Self::Inconsistent) |
/// | 2    | [`Usage`](Self::Usage) (clap's own code for a bad command line) |
/// | 3    | [`NotInitialized`](Self::NotInitialized) |
/// | 4    | [`Busy`](Self::Busy) |
/// | 5    | [`Config`](Self::Config) |
/// | 6    | [`Forge`](Self::Forge) |
/// | 7    | [`AgentFailed`](Self::AgentFailed) |
/// | 8    | [`Refused`](Self::Refused) |
/// | 9    | [`System`](Self::System) |
/// | 101  | [`Internal`](Self::Internal) (Rust's own code for a panic) |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The journal and the world disagree (`agent validate` found drift, `doctor` a failing
    /// check, the state machine refused a step).
    Inconsistent,
    /// The command line asks for something that cannot be: an argument clap cannot check.
    Usage,
    /// The repository is not ready: not a git repository, no commit, no `clambake init`.
    NotInitialized,
    /// Another process holds what this one needs: the run lock, the bundler, agent slots.
    Busy,
    /// The configuration is invalid or turns the asked-for feature off.
    Config,
    /// The forge refused the request or could not be read.
    Forge,
    /// An agent could not be started or cannot succeed (its model key is refused).
    AgentFailed,
    /// The request conflicts with the state of the queue: the issue is closed or claimed
    /// elsewhere, or there is nothing to land.
    Refused,
    /// Git, the file system, the journal or the process table failed.
    System,
    /// A bug: Clambake itself failed.
    Internal,
}

impl ErrorKind {
    /// The process's exit status for this kind.
    pub fn code(self) -> u8 {
        match self {
            Self::Inconsistent => 1,
            Self::Usage => 2,
            Self::NotInitialized => 3,
            Self::Busy => 4,
            Self::Config => 5,
            Self::Forge => 6,
            Self::AgentFailed => 7,
            Self::Refused => 8,
            Self::System => 9,
            Self::Internal => 101,
        }
    }
}

impl AppError {
    /// The kind of failure, for the exit status: the one place that sorts the variants.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotARepository { .. }
            | Self::NoCommits { .. }
            | Self::NotInitialized { .. }
            | Self::NoLocalForge { .. } => ErrorKind::NotInitialized,
            Self::ForgeLost { .. } | Self::Forge(_) | Self::CannotPush { .. } => ErrorKind::Forge,
            Self::NoToken(_)
            | Self::NotAGithubRemote { .. }
            | Self::NoOrigin
            | Self::RealAgentsRolledBack { .. }
            | Self::AgentUnavailable { .. }
            | Self::InvalidOrchestratorId { .. }
            | Self::DuplicateOrchestratorId { .. }
            | Self::ActionsNeedGithub { .. }
            | Self::ActionsDisabled
            | Self::ChecksConfig(_)
            | Self::Config(_) => ErrorKind::Config,
            Self::ModelKeyRefused { .. } => ErrorKind::AgentFailed,
            Self::UnjudgedAttempt { .. }
            | Self::ClaimedElsewhere { .. }
            | Self::SlotHoldsAnother { .. }
            | Self::ClosedIssue { .. }
            | Self::DemoDirectoryInUse { .. }
            | Self::BundleBranchTaken { .. }
            | Self::NotAnOpenBundle { .. }
            | Self::RebuildConflict { .. }
            | Self::LandingRefused { .. }
            | Self::StaleDispatch { .. }
            | Self::NotClambakeRun { .. }
            | Self::RunNotCompleted { .. }
            | Self::Serve { .. }
            | Self::Notify { .. }
            | Self::NotClambakesWorkflow { .. } => ErrorKind::Refused,
            Self::Unconfirmed { .. } | Self::NotAnAgent { .. } | Self::NotAnAgentBranch { .. } => {
                ErrorKind::Usage
            }
            Self::BundlerBusy { .. } | Self::Lock(LockError::Held { .. }) => ErrorKind::Busy,
            Self::Io { .. }
            | Self::Git(_)
            | Self::Checks(_)
            | Self::Journal(_)
            | Self::Lock(LockError::Io { .. })
            | Self::Processes(_) => ErrorKind::System,
            Self::Transition(_) => ErrorKind::Inconsistent,
            Self::Attempt(attempt) => attempt.kind(),
        }
    }
}

impl AttemptError {
    /// The kind of failure, for the exit status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Start(_) => ErrorKind::AgentFailed,
            Self::Slot(_) => ErrorKind::Busy,
            Self::NothingToLand { .. }
            | Self::NoCommits { .. }
            | Self::NotRunning { .. }
            | Self::NoAttempts { .. }
            | Self::NoSuchAttempt { .. }
            | Self::WorktreeOnOtherBranch { .. } => ErrorKind::Refused,
            Self::Git(_) | Self::Io { .. } | Self::Registry(_) => ErrorKind::System,
            Self::Journal(error) | Self::Checks(error) => error.kind(),
        }
    }
}
