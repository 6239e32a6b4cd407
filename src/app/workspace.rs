//! The repository Clambake works on: where it is, its configuration, and its forge.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::Diagnostic;

use crate::adapters::forge::local::{DATABASE_FILE, LocalForge};
use crate::adapters::git::{Git, GitError};
use crate::core::config::{self, CONFIG_FILE, ConfigError, ForgeBackend, LoadedConfig};
use crate::core::lifecycle::TransitionError;
use crate::ports::forge::ForgeError;
use crate::ports::journal::JournalError;
use crate::ports::{Clock, Forge, SystemClock};

/// The directory, at the repository root, that holds Clambake's own state.
pub const STATE_DIR: &str = ".clambake";

/// Errors of the application layer: each names what is wrong and what to do.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AppError {
    #[error("{} is not inside a git repository", dir.display())]
    #[diagnostic(help("run clambake inside your project's repository, or pass `-C <path>`"))]
    NotARepository { dir: PathBuf },
    #[error("this repository has no {CONFIG_FILE} yet ({})", root.display())]
    #[diagnostic(help("run `clambake init` first"))]
    NotInitialized { root: PathBuf },
    #[error("the local forge has not been set up in {}", dir.display())]
    #[diagnostic(help("run `clambake init`: it creates the forge and keeps your {CONFIG_FILE}"))]
    NoLocalForge { dir: PathBuf },
    #[error("the GitHub backend is not available in this version of clambake")]
    #[diagnostic(help(
        "use the embedded forge: `clambake init --backend local`, or `clambake config set forge.backend local`"
    ))]
    GithubNotAvailable,
    #[error("{agent}'s last attempt, on #{issue}, ended but no run has acted on its verdict yet")]
    #[diagnostic(help(
        "`clambake run` judges it first (from its log) and lands, retries or fails the issue"
    ))]
    UnjudgedAttempt { agent: String, issue: u64 },
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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Forge(#[from] ForgeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Attempt(Box<crate::app::attempt::AttemptError>),
    #[error("`{agent}` is not an agent id")]
    #[diagnostic(help("agent ids are agentNNN, one per slot: agent001, agent002, ..."))]
    NotAnAgent { agent: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::app::run_lock::LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Processes(#[from] crate::ports::processes::ProcessError),
}

impl From<crate::app::attempt::AttemptError> for AppError {
    fn from(error: crate::app::attempt::AttemptError) -> Self {
        Self::Attempt(Box::new(error))
    }
}

impl From<ConfigError> for AppError {
    fn from(error: ConfigError) -> Self {
        Self::Config(Box::new(error))
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A git repository that Clambake manages (or is about to).
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub git: Git,
    /// git cannot add or remove two worktrees of one repository at once.
    worktrees: Arc<tokio::sync::Mutex<()>>,
}

impl Workspace {
    /// Finds the repository containing `start`; from inside a linked worktree, its main one.
    pub async fn discover(start: &Path) -> AppResult<Self> {
        let probe = Git::new(start);
        let inside = probe
            .output(&["rev-parse", "--is-inside-work-tree"])
            .await?;
        if !inside.status.success() {
            return Err(AppError::NotARepository {
                dir: start.to_path_buf(),
            });
        }
        let root = probe.main_worktree_root().await?;
        Ok(Self {
            git: Git::new(&root),
            root,
            worktrees: Arc::default(),
        })
    }

    /// Held while adding or removing a worktree.
    pub async fn lock_worktrees(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.worktrees.lock().await
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    pub fn forge_database(&self) -> PathBuf {
        self.state_dir().join(DATABASE_FILE)
    }

    /// The configuration file's text, or `None` before `init`.
    pub fn read_config_text(&self) -> AppResult<Option<String>> {
        let path = self.config_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AppError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// The configuration: the file, then `CLAMBAKE_*` variables from the environment.
    pub fn load_config(&self) -> AppResult<LoadedConfig> {
        let text = self
            .read_config_text()?
            .ok_or_else(|| AppError::NotInitialized {
                root: self.root.clone(),
            })?;
        Ok(config::load(
            &self.config_path().display().to_string(),
            &text,
            std::env::vars(),
        )?)
    }

    /// Writes the configuration file through a temporary file, so a crash leaves the old one.
    pub fn write_config_text(&self, text: &str) -> AppResult<()> {
        write_atomically(&self.config_path(), text)
    }

    /// Opens the configured forge. The local forge must have been created by `init`.
    pub async fn open_forge(&self, backend: ForgeBackend) -> AppResult<Arc<dyn Forge>> {
        match backend {
            ForgeBackend::Github => Err(AppError::GithubNotAvailable),
            ForgeBackend::Local => {
                if !self.forge_database().exists() {
                    return Err(AppError::NoLocalForge {
                        dir: self.state_dir(),
                    });
                }
                Ok(Arc::new(
                    self.open_local_forge(Arc::new(SystemClock)).await?,
                ))
            }
        }
    }

    /// Opens (creating if needed) the local forge.
    pub async fn open_local_forge(&self, clock: Arc<dyn Clock>) -> AppResult<LocalForge> {
        let default_branch = self.default_branch().await?;
        let actor = self.actor().await;
        Ok(LocalForge::open(
            &self.forge_database(),
            self.git.clone(),
            clock,
            &actor,
            &default_branch,
        )?)
    }

    /// The branch pull requests target unless told otherwise: the remote's default branch if
    /// there is a remote, else the branch checked out now (recorded once, at `init`).
    async fn default_branch(&self) -> AppResult<String> {
        let remote_head = self
            .git
            .output(&[
                "symbolic-ref",
                "--quiet",
                "--short",
                "refs/remotes/origin/HEAD",
            ])
            .await?;
        if remote_head.status.success() {
            let name = String::from_utf8_lossy(&remote_head.stdout)
                .trim()
                .to_owned();
            if let Some(branch) = name.strip_prefix("origin/") {
                return Ok(branch.to_owned());
            }
        }
        Ok(self
            .git
            .current_branch()
            .await?
            .unwrap_or_else(|| "main".to_owned()))
    }

    /// The person at the keyboard, for comment authorship: git's user.name, else $USER.
    async fn actor(&self) -> String {
        if let Ok(name) = self.git.run(&["config", "user.name"]).await
            && !name.trim().is_empty()
        {
            return name.trim().to_owned();
        }
        std::env::var("USER").unwrap_or_else(|_| "clambake".to_owned())
    }
}

/// Replaces `path`'s contents in one rename, so readers never see half a file.
pub fn write_atomically(path: &Path, text: &str) -> AppResult<()> {
    let io = |action, source| AppError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io("write", e))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| io("write", e))?;
    file.persist(path).map_err(|e| io("replace", e.error))?;
    Ok(())
}
