//! The composition root: the one module of the app that names adapters. It builds, from a
//! repository's root and its configuration, the ports the rest of the app works through, so
//! that adding a forge backend, an agent runtime or a host changes this file and no use case.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::adapters::agents::locate::Unstartable;
use crate::adapters::checks::LocalCheckRunner;
use crate::adapters::checks::commits::{CommandChecks, CommandSettings};
use crate::adapters::credentials;
use crate::adapters::forge::conditional::ConditionalForge;
use crate::adapters::forge::github::{
    ChecksSettings, GithubActions, GithubForge, GithubSettings, Token,
};
use crate::adapters::forge::local::{DATABASE_FILE, LocalForge};
use crate::adapters::forge::redacting::RedactingForge;
use crate::adapters::forge::redacting_actions::RedactingActions;
use crate::adapters::git::{self, Git, HttpAuth, ORIGIN};
use crate::adapters::hosts::actions::runtime::ActionsRuntime;
use crate::adapters::hosts::actions::{ActionsHost, FollowSettings};
use crate::adapters::hosts::local::registry::REGISTRY_FILE;
use crate::adapters::journal::{JOURNAL_FILE, SqliteJournal};
use crate::adapters::notify::{Delivery, WebhookNotifier};
use crate::adapters::redacting_log::{self, RedactingMakeWriter};
use crate::adapters::{agents, sqlite_file};
use crate::app::{AppError, AppResult, AttemptError};
use crate::core::config::webhook::WebhookUrl;
use crate::core::config::{
    AgentRuntimeKind, AgentsConfig, Config, GithubConfig, NotifyConfig, TransitionLogging, git_host,
};
use crate::core::text::redact::Redactor;
use crate::ports::actions::Actions;
use crate::ports::agent::{AgentRuntime, AgentStartError};
use crate::ports::agent_host::AgentHost;
use crate::ports::checks::{CheckRunner, CommitChecks};
use crate::ports::credentials::{GithubToken, NoToken, RepositoryAccess};
use crate::ports::database::FileState;
use crate::ports::forge::ForgeResult;
use crate::ports::git::{GitResult, Remote, Repository};
use crate::ports::journal::{JournalResult, Store};
use crate::ports::notifier::Notifier;
use crate::ports::{Clock, Forge, SystemClock};

/// The local forge's database, in the state directory.
pub const FORGE_DATABASE: &str = DATABASE_FILE;
/// The journal's database, in the state directory.
pub const JOURNAL_DATABASE: &str = JOURNAL_FILE;
/// The agent host's registry, in the state directory.
pub const REGISTRY_DATABASE: &str = REGISTRY_FILE;

/// What an attempt's process tree uses of this machine, read from `/proc`.
pub fn process_usage() -> Arc<dyn crate::ports::process_usage::ProcessUsage> {
    Arc::new(crate::adapters::hosts::local::tree_usage::ProcfsUsage)
}

/// The notifier `[notify]` asks for, `None` when `webhook_url` is empty. The URL's parts
/// that may be a credential are redacted from every log line from now on.
pub fn notifier(config: &NotifyConfig) -> AppResult<Option<Arc<dyn Notifier>>> {
    let problem = |problem: String| AppError::Notify {
        target: crate::core::config::webhook::shown(&config.webhook_url),
        problem,
    };
    let Some(url) = WebhookUrl::parse(&config.webhook_url).map_err(|e| problem(e.to_string()))?
    else {
        return Ok(None);
    };
    for secret in url.secrets() {
        redacting_log::learn(&secret);
    }
    let notifier = WebhookNotifier::new(url, Delivery::default()).map_err(problem)?;
    Ok(Some(Arc::new(notifier)))
}

/// The clock: the system's.
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The root of the repository containing `start`; from inside a linked worktree, its main one.
pub async fn discover(start: &Path) -> GitResult<Option<PathBuf>> {
    Git::discover(start).await
}

/// Makes a new, empty repository at `dir`, on `branch`.
pub async fn init(dir: &Path, branch: &str) -> GitResult<()> {
    Git::init(dir, branch).await
}

/// The git ports of the repository at `root`.
pub fn repository(root: &Path) -> Repository {
    git::open(root)
}

/// The git ports of the repository at `root`, publishing to its `origin` remote, where the
/// API at `api_url` sees the branches; `token` reaches git (for an https remote) through its
/// environment.
pub fn origin_repository(root: &Path, api_url: &str, token: Option<&GithubToken>) -> Repository {
    let auth = token.map(|token| HttpAuth::github_token(&git_host(api_url), token.secret()));
    git::open_with_origin(root, auth)
}

/// The URL of the repository's `origin` remote, `None` without one.
pub async fn origin_url(root: &Path) -> GitResult<Option<String>> {
    Git::new(root).remote_url(ORIGIN).await
}

/// The token for the GitHub API at `api_url`: `GH_TOKEN`, `GITHUB_TOKEN`, then `gh auth token`.
/// Once found, it is redacted from every log line, wherever it came from.
pub async fn github_token(api_url: &str) -> Result<GithubToken, NoToken> {
    let path = std::env::var_os("PATH");
    let token = credentials::github_token(
        &agents::process_environment(),
        path.as_deref(),
        &git_host(api_url),
    )
    .await?;
    redacting_log::learn(token.secret());
    redacting_log::learn(&HttpAuth::github_credentials(token.secret()));
    Ok(token)
}

/// The GitHub forge of the repository `config` names, reached with `token`.
pub fn github(config: &GithubConfig, token: &GithubToken) -> ForgeResult<GithubBackend> {
    let forge = GithubForge::new(GithubSettings {
        api_url: config.api_url.clone(),
        owner: config.owner.clone(),
        repo: config.repo.clone(),
        token: Token::new(token.secret()),
        clock: clock(),
        mutation_interval: Duration::from_millis(config.mutation_interval_ms.into()),
    })?;
    Ok(GithubBackend {
        forge: Arc::new(forge),
        token: token.clone(),
        actions: Arc::default(),
    })
}

/// The GitHub forge, as setup and `doctor` see it: the port, and what the token may do.
#[derive(Clone)]
pub struct GithubBackend {
    forge: Arc<GithubForge>,
    token: GithubToken,
    /// Made once: it remembers dispatches whose answers were lost, for their next try.
    actions: Arc<std::sync::OnceLock<Arc<GithubActions>>>,
}

impl std::fmt::Debug for GithubBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubBackend").finish_non_exhaustive()
    }
}

impl GithubBackend {
    /// The forge, redacting every known secret and the token from what it writes.
    pub fn forge(&self) -> Arc<dyn Forge> {
        redacting(self.forge.clone(), Some(&self.token))
    }

    /// The repository's GitHub Actions, through the forge's client (its rate limits and
    /// spacing shared), redacting every known secret from dispatch inputs and job logs.
    pub fn actions(&self) -> ForgeResult<Arc<dyn Actions>> {
        let actions = match self.actions.get() {
            Some(actions) => actions.clone(),
            None => {
                let made = Arc::new(self.forge.actions()?);
                self.actions.get_or_init(|| made).clone()
            }
        };
        Ok(Arc::new(RedactingActions::new(
            actions,
            secrets_and(Some(&self.token)),
        )))
    }

    /// A commit's checks by the repository's CI: each commit pushed to `remote` as a branch
    /// under `clambake/checks/`, its check runs and statuses read through the forge's client;
    /// what was asked kept in `state_dir`. CI silent for `timeout` after a push fails it.
    pub fn commit_checks(
        &self,
        remote: Arc<dyn Remote>,
        base: &str,
        state_dir: &Path,
        timeout: Duration,
    ) -> Arc<dyn CommitChecks> {
        Arc::new(self.forge.commit_checks(ChecksSettings {
            remote,
            base: base.to_owned(),
            state_dir: state_dir.to_path_buf(),
            timeout,
        }))
    }

    /// Who the token is and what it may do in the repository.
    pub async fn access(&self) -> ForgeResult<RepositoryAccess> {
        let access = self.forge.access().await?;
        Ok(RepositoryAccess {
            login: access.login,
            admin: access.permissions.admin,
            maintain: access.permissions.maintain,
            push: access.permissions.push,
            triage: access.permissions.triage,
            pull: access.permissions.pull,
            default_branch: access.default_branch,
        })
    }
}

/// The checks on an agent's finished work, run on this machine.
pub fn check_runner() -> Arc<dyn CheckRunner> {
    Arc::new(LocalCheckRunner::default())
}

/// The environment the checks run with, from this process's as `config` says.
pub fn checks_environment(config: &Config) -> AppResult<Vec<(String, String)>> {
    Ok(crate::core::checks::environment(
        agents::process_environment(),
        &config.agents.env_passthrough,
        &config.checks,
    )?)
}

/// A commit's checks by `checks.command` on this machine, run as `config` says: each commit in
/// a worktree under `state_dir`, added and removed under `worktree_lock`.
pub fn command_checks(
    root: &Path,
    state_dir: &Path,
    config: &Config,
    worktree_lock: Arc<tokio::sync::Mutex<()>>,
) -> AppResult<Arc<dyn CommitChecks>> {
    let settings = CommandSettings {
        argv: crate::core::checks::argv(&config.checks)?,
        env: checks_environment(config)?,
        timeout: Duration::from_secs(u64::from(config.checks.timeout_minutes) * 60),
        parallel: usize::try_from(config.checks.parallel).unwrap_or(usize::MAX),
    };
    Ok(Arc::new(CommandChecks::new(
        Git::new(root),
        state_dir,
        Arc::new(LocalCheckRunner::default()),
        settings,
        worktree_lock,
    )))
}

/// The installed git's `(major, minor)` version.
pub async fn git_version() -> GitResult<(u32, u32)> {
    Git::version().await
}

/// Opens (creating if needed) the local forge of the repository at `root`, kept in `database`.
pub async fn local_forge(
    root: &Path,
    database: &Path,
    clock: Arc<dyn Clock>,
) -> AppResult<impl Forge + use<>> {
    let git = Git::new(root);
    let default_branch = default_branch(&git).await?;
    let actor = actor(&git).await;
    Ok(LocalForge::open(
        database,
        git,
        clock,
        &actor,
        &default_branch,
    )?)
}

/// The branch pull requests target unless told otherwise: the remote's default branch if
/// there is a remote, else the branch checked out now (recorded once, at `init`).
async fn default_branch(git: &Git) -> AppResult<String> {
    if let Some(branch) = git.origin_default_branch().await? {
        return Ok(branch);
    }
    Ok(git
        .current_branch()
        .await?
        .unwrap_or_else(|| "main".to_owned()))
}

/// The person at the keyboard, for comment authorship: git's user.name, else $USER.
async fn actor(git: &Git) -> String {
    match git.user_name().await {
        Some(name) => name,
        None => std::env::var("USER").unwrap_or_else(|_| "clambake".to_owned()),
    }
}

/// `forge`, with the secrets in this process's environment, and `token`, redacted from
/// everything written to it.
pub fn redacting(forge: Arc<dyn Forge>, token: Option<&GithubToken>) -> Arc<dyn Forge> {
    Arc::new(RedactingForge::new(forge, secrets_and(token)))
}

/// `forge` as the run loop polls it: its listings are conditional reads.
pub fn conditional(forge: Arc<dyn Forge>) -> Arc<dyn Forge> {
    Arc::new(ConditionalForge::new(forge))
}

/// The secrets Clambake knows: every variable in its environment whose name says it holds one
/// (agents inherit only from this environment, so their keys are among them), and the GitHub
/// token once [`github_token`] found it.
pub fn secrets() -> Redactor {
    secrets_and(None)
}

/// [`secrets`] and `token`, which may be in no variable (`gh auth token` gave it).
pub fn secrets_and(token: Option<&GithubToken>) -> Redactor {
    let mut variables = agents::process_environment();
    variables.extend(redacting_log::learnt());
    if let Some(token) = token {
        // Named as a secret is, so the redactor takes it.
        variables.push(("GITHUB_FORGE_TOKEN".to_owned(), token.secret().to_owned()));
        let credentials = HttpAuth::github_credentials(token.secret());
        variables.push(("GITHUB_GIT_CREDENTIALS".to_owned(), credentials));
    }
    Redactor::from_variables(variables)
}

/// Opens (creating if needed) the journal at `path`, recording transitions as `logging` asks.
pub fn journal(path: &Path, logging: TransitionLogging) -> JournalResult<impl Store + use<>> {
    Ok(SqliteJournal::open(path)?.with_logging(logging))
}

/// The shortest time between two polls of a run on GitHub Actions.
const RUN_POLL_FLOOR: Duration = Duration::from_secs(2);

/// The host of the agents registered in `state_dir`: processes of this machine, and runs on
/// GitHub Actions, followed as `config` says (polled at the forge's poll interval, two seconds
/// at the least), reached through `connect` the first time one must be asked about.
pub fn agent_host<C, F>(
    state_dir: &Path,
    config: &Config,
    connect: C,
) -> Result<Box<dyn AgentHost>, AttemptError>
where
    C: Fn() -> F + Send + Sync + 'static,
    F: Future<Output = Result<Arc<dyn Actions>, String>> + Send + 'static,
{
    let settings = FollowSettings {
        poll: Duration::from_secs(config.forge.poll_interval_seconds.into()).max(RUN_POLL_FLOOR),
        workflow_timeout: Duration::from_secs(
            u64::from(config.github_actions.workflow_timeout_minutes) * 60,
        ),
    };
    let connect = Box::new(move || Box::pin(connect()) as _);
    Ok(Box::new(ActionsHost::open(
        &state_dir.join(REGISTRY_DATABASE),
        connect,
        settings,
    )?))
}

/// The runtime of the slots on GitHub Actions: each attempt a dispatch of
/// `github_actions.agent_workflow` on `git_ref` (the default branch), whose runner runs the
/// runtime `local` names.
pub fn remote_runtime(
    actions: Arc<dyn Actions>,
    config: &Config,
    git_ref: &str,
    local: &dyn AgentRuntime,
) -> Arc<dyn AgentRuntime> {
    Arc::new(ActionsRuntime {
        actions,
        workflow: config.github_actions.agent_workflow.clone(),
        git_ref: git_ref.to_owned(),
        name: local.name(),
        reports_result: local.reports_result(),
    })
}

/// The agent runtime `kind` (the simulated one unless `agents.real_processes`).
pub fn runtime(
    kind: AgentRuntimeKind,
    config: &AgentsConfig,
) -> Result<Box<dyn AgentRuntime>, AgentStartError> {
    agents::runtime_for(kind, config)
}

/// Where `program` is, found as starting it would find it in `path` (a PATH value).
pub fn locate(program: &str, path: Option<&OsStr>) -> Result<PathBuf, Unstartable> {
    agents::locate::locate(program, path)
}

/// Whether the database file at `path` is there, and if so whether it is a database.
pub fn inspect_database(path: &Path) -> std::io::Result<FileState> {
    sqlite_file::inspect(path)
}

/// Log lines to `inner`, every secret in this process's environment redacted, and the GitHub
/// token from when it is found.
pub fn log_writer<M>(inner: M) -> BoxMakeWriter
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    BoxMakeWriter::new(RedactingMakeWriter::new(inner, secrets()))
}
