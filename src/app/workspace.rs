//! The repository Clambake works on: where it is, its configuration, and its forge.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::{AppError, AppResult, compose};
use crate::core::branches::name::parse_branch_name;
use crate::core::config::{self, BundleChecks, CONFIG_FILE, Config, ForgeBackend, LoadedConfig};
use crate::ports::actions::Actions;
use crate::ports::checks::CommitChecks;
use crate::ports::credentials::{GithubToken, NoToken};
use crate::ports::git::{GitError, GitResult, MergeEngine, Refs, Remote, Repository, Worktrees};
use crate::ports::{Clock, Forge};

/// The directory, at the repository root, that holds Clambake's own state.
pub const STATE_DIR: &str = ".clambake";

/// A git repository that Clambake manages (or is about to).
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    repository: Repository,
    /// With the GitHub backend, its token (or why there is none), found once.
    github_token: Option<Result<GithubToken, NoToken>>,
    /// git cannot add or remove two worktrees of one repository at once.
    worktrees: Arc<tokio::sync::Mutex<()>>,
    /// The GitHub backend once opened, for the repository it was opened for: its forge and
    /// its Actions share one client, so one view of GitHub's rate limits per process.
    github: Arc<tokio::sync::Mutex<Option<(config::GithubConfig, compose::GithubBackend)>>>,
    /// The commit checks once opened: one per process, since dropping them stops the checks
    /// they run.
    commit_checks: Arc<ChecksOnce>,
}

/// [`Workspace::open_commit_checks`]'s answer, made once.
#[derive(Default)]
struct ChecksOnce(tokio::sync::OnceCell<Option<Arc<dyn CommitChecks>>>);

impl std::fmt::Debug for ChecksOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChecksOnce")
            .field("opened", &self.0.initialized())
            .finish()
    }
}

impl Workspace {
    /// Finds the repository containing `start`; from inside a linked worktree, its main one.
    /// Its remote is the repository itself, or `origin` when the configuration (if it loads)
    /// says the forge is GitHub.
    pub async fn discover(start: &Path) -> AppResult<Self> {
        let Some(root) = compose::discover(start).await? else {
            return Err(AppError::NotARepository {
                dir: start.to_path_buf(),
            });
        };
        let mut workspace = Self {
            repository: compose::repository(&root),
            root,
            github_token: None,
            worktrees: Arc::default(),
            github: Arc::default(),
            commit_checks: Arc::default(),
        };
        if let Ok(loaded) = workspace.load_config()
            && loaded.config.forge.backend == ForgeBackend::Github
        {
            let api_url = &loaded.config.github.api_url;
            let token = compose::github_token(api_url).await;
            workspace.repository =
                compose::origin_repository(&workspace.root, api_url, token.as_ref().ok());
            workspace.github_token = Some(token);
        }
        Ok(workspace)
    }

    /// Makes a new, empty repository at `dir`, on `branch`, and opens it.
    pub async fn create(dir: &Path, branch: &str) -> AppResult<Self> {
        compose::init(dir, branch).await?;
        Self::discover(dir).await
    }

    /// The git ports, together.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn refs(&self) -> &dyn Refs {
        self.repository.refs.as_ref()
    }

    pub fn worktrees(&self) -> &dyn Worktrees {
        self.repository.worktrees.as_ref()
    }

    pub fn merges(&self) -> &dyn MergeEngine {
        self.repository.merges.as_ref()
    }

    pub fn remote(&self) -> &dyn Remote {
        self.repository.remote.as_ref()
    }

    /// The remote's tip of `base`, which commits are counted against.
    pub async fn base_tip(&self, base: &str) -> GitResult<String> {
        self.remote()
            .tip(base)
            .await?
            .ok_or_else(|| GitError::NoRemoteBranch {
                branch: base.to_owned(),
            })
    }

    /// How many commits of `branch` the remote's `base` lacks.
    pub async fn commits_ahead(&self, base: &str, branch: &str) -> GitResult<u32> {
        let remote_base = self.remote().tracking_ref(base);
        self.refs().commits_ahead(branch, &remote_base).await
    }

    /// Fails unless the checked-out branch has a commit: every agent branch starts from one.
    pub async fn require_commits(&self) -> AppResult<()> {
        match self.refs().resolve("HEAD").await? {
            Some(_) => Ok(()),
            None => Err(AppError::NoCommits {
                root: self.root.clone(),
            }),
        }
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
        self.state_dir().join(compose::FORGE_DATABASE)
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

    /// The GitHub token for `config`'s API: the one found when the workspace was discovered,
    /// else looked for now.
    pub async fn github_token(&self, config: &Config) -> AppResult<GithubToken> {
        let token = match &self.github_token {
            Some(token) => token.clone(),
            None => compose::github_token(&config.github.api_url).await,
        };
        Ok(token?)
    }

    /// Opens the configured forge, redacting from everything written to it the secrets in
    /// this process's environment (see [`compose::secrets`]) and the forge's token. The local
    /// forge must have been created by `init`.
    pub async fn open_forge(&self, backend: ForgeBackend) -> AppResult<Arc<dyn Forge>> {
        let forge: Arc<dyn Forge> = match backend {
            ForgeBackend::Github => return Ok(self.open_github().await?.forge()),
            ForgeBackend::Local => {
                if !self.forge_database().exists() {
                    self.refuse_lost_forge().await?;
                    return Err(AppError::NoLocalForge {
                        dir: self.state_dir(),
                    });
                }
                Arc::new(self.open_local_forge(compose::clock()).await?)
            }
        };
        Ok(compose::redacting(forge, None))
    }

    /// The GitHub forge the configuration names, with the token found for it: opened once,
    /// and again only for another repository.
    pub async fn open_github(&self) -> AppResult<compose::GithubBackend> {
        let config = self.load_config()?.config;
        let mut opened = self.github.lock().await;
        if let Some((github, backend)) = opened.as_ref()
            && *github == config.github
        {
            return Ok(backend.clone());
        }
        let token = self.github_token(&config).await?;
        let backend = compose::github(&config.github, &token)?;
        *opened = Some((config.github, backend.clone()));
        Ok(backend)
    }

    /// The repository's GitHub Actions, through the same client as its GitHub forge.
    /// Refused unless forge.backend is "github"; whether `github_actions.enabled` lets a use
    /// case dispatch is that use case's to judge.
    pub async fn open_actions(&self) -> AppResult<Arc<dyn Actions>> {
        let backend = self.load_config()?.config.forge.backend;
        if backend != ForgeBackend::Github {
            return Err(AppError::ActionsNeedGithub {
                backend: backend.to_string(),
            });
        }
        Ok(self.open_github().await?.actions()?)
    }

    /// Where bundles are checked, as `checks.bundles` says: checks.command here ("command", or
    /// "auto" with a command set), the forge's CI ("forge"), or `None` ("off", or "auto"
    /// without a command). Opened once; every clone of the workspace shares it, and the
    /// checks it runs here stop when the last clone goes.
    pub async fn open_commit_checks(&self) -> AppResult<Option<Arc<dyn CommitChecks>>> {
        self.commit_checks
            .0
            .get_or_try_init(|| async {
                let config = self.load_config()?.config;
                let has_command = !config.checks.command.trim().is_empty();
                Ok(match config.checks.bundles {
                    BundleChecks::Off => None,
                    BundleChecks::Auto if !has_command => None,
                    BundleChecks::Auto | BundleChecks::Command => Some(compose::command_checks(
                        &self.root,
                        &self.state_dir(),
                        &config,
                        self.worktrees.clone(),
                    )?),
                    BundleChecks::Forge => {
                        let github = self.open_github().await?;
                        let base = github.forge().default_branch().await?;
                        let timeout = u64::from(config.checks.timeout_minutes) * 60;
                        Some(github.commit_checks(
                            self.repository.remote.clone(),
                            &base,
                            &self.state_dir(),
                            std::time::Duration::from_secs(timeout),
                        ))
                    }
                })
            })
            .await
            .cloned()
    }

    /// Refuses to go on without the forge database while agent branches exist: they are
    /// the work of a forge that was lost, not of one never made.
    pub async fn refuse_lost_forge(&self) -> AppResult<()> {
        let mut branches: Vec<String> = self
            .refs()
            .branch_tips()
            .await?
            .into_keys()
            .filter(|name| parse_branch_name(name).is_some())
            .collect();
        if branches.is_empty() {
            return Ok(());
        }
        const SHOWN: usize = 3;
        if branches.len() > SHOWN {
            let more = branches.len() - SHOWN;
            branches.truncate(SHOWN);
            branches.push(format!("and {more} more"));
        }
        Err(AppError::ForgeLost {
            path: self.forge_database(),
            branches,
        })
    }

    /// Opens (creating if needed) the local forge.
    pub async fn open_local_forge(&self, clock: Arc<dyn Clock>) -> AppResult<impl Forge + use<>> {
        compose::local_forge(&self.root, &self.forge_database(), clock).await
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
