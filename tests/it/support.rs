//! Shared test fixtures: real git repositories in temporary directories, and the CLI binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::backend::Backend;
use crate::github_support::GithubOrigin;

/// A real git repository with one commit on `main`, deleted when dropped; on the GitHub
/// backend its `origin` is a [`GithubOrigin`].
pub struct TestRepo {
    dir: TempDir,
    github: Option<GithubOrigin>,
}

impl TestRepo {
    pub fn new() -> Self {
        Self::with_prefix("clambake-test-")
    }

    /// A repository in a temporary directory whose name starts with `prefix`.
    pub fn with_prefix(prefix: &str) -> Self {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let repo = Self { dir, github: None };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "# test\n");
        repo.commit_all("initial commit");
        repo
    }

    /// A repository for `backend`: on GitHub, with the fake as `origin`, `main` pushed there,
    /// and mutations not spaced a second apart (`github.mutation_interval_ms = 0`), so that a
    /// whole lifecycle fits in a test. Not initialised: see [`TestRepo::init`].
    pub fn on(backend: Backend) -> Self {
        match backend {
            Backend::Local => Self::new(),
            Backend::Github => Self::on_github_with(clambake_github_fake::Options::new),
        }
    }

    /// [`TestRepo::on`] the GitHub backend, with a fake set up by the options `options` makes
    /// of its bare repository's path, e.g. a token user of another association.
    pub fn on_github_with(
        options: impl FnOnce(std::path::PathBuf) -> clambake_github_fake::Options,
    ) -> Self {
        Self::new().with_github(options)
    }

    /// This repository moved onto the GitHub backend as [`TestRepo::on_github_with`] makes it.
    pub fn with_github(
        mut self,
        options: impl FnOnce(std::path::PathBuf) -> clambake_github_fake::Options,
    ) -> Self {
        let origin = GithubOrigin::start_blocking(options);
        self.git(&["remote", "add", "origin", &origin.fake.origin_url()]);
        self.git(&["push", "-q", "origin", "main"]);
        self.write("clambake.toml", "[github]\nmutation_interval_ms = 0\n");
        self.github = Some(origin);
        self
    }

    /// The forge as Clambake sees it, opened in this process (for tests that drive the app
    /// directly), telling the time by `clock`: the local forge `init` made, or a client of the
    /// GitHub fake. Call it inside the runtime that will use it.
    pub async fn open_forge(
        &self,
        clock: std::sync::Arc<dyn clambake::ports::Clock>,
    ) -> std::sync::Arc<dyn clambake::ports::Forge> {
        match &self.github {
            None => {
                let workspace = clambake::app::Workspace::discover(self.path())
                    .await
                    .unwrap();
                std::sync::Arc::new(workspace.open_local_forge(clock).await.unwrap())
            }
            Some(origin) => std::sync::Arc::new(origin.client(clock)),
        }
    }

    /// The GitHub fake behind `origin`, on the GitHub backend.
    pub fn github(&self) -> Option<&GithubOrigin> {
        self.github.as_ref()
    }

    /// `clambake init` with `args`, for this repository's backend.
    pub fn init(&self, args: &[&str]) -> CliOutput {
        let backend = self.github.as_ref().map(GithubOrigin::init_args);
        let mut all = vec!["init"];
        all.extend(backend.iter().flatten().map(String::as_str));
        all.extend_from_slice(args);
        self.clambake(&all)
    }

    /// Makes a branch made here visible to the forge, as an agent's published branch is: on
    /// GitHub it is pushed to `origin`; the local forge reads this repository's branches.
    pub fn publish(&self, branch: &str) {
        if self.github.is_some() {
            self.git(&["push", "-q", "--force", "origin", branch]);
        }
    }

    /// Brings `branch` as the forge holds it here, as a person does before working on it: on
    /// GitHub it is fetched from `origin`; the local forge's branches are here already.
    pub fn fetch(&self, branch: &str) {
        if self.github.is_some() {
            self.git(&["fetch", "-q", "origin", &format!("+{branch}:{branch}")]);
        }
    }

    /// Runs git where the forge keeps its branches: this repository on the local forge, the
    /// bare repository `origin` on GitHub. Returns trimmed stdout.
    pub fn forge_git(&self, args: &[&str]) -> String {
        match &self.github {
            None => self.git(args),
            Some(origin) => {
                let bare = origin.bare();
                let mut all = vec!["--git-dir", bare.to_str().unwrap()];
                all.extend_from_slice(args);
                self.git(&all)
            }
        }
    }

    /// The tip of `branch` as the forge sees it, `None` where it has no such branch.
    pub fn forge_tip(&self, branch: &str) -> Option<String> {
        let reference = format!("refs/heads/{branch}");
        let found = self.forge_git(&["for-each-ref", "--format=%(objectname)", &reference]);
        (!found.is_empty()).then_some(found)
    }

    /// The names of the forge's branches that start with `prefix`, sorted.
    pub fn forge_branches(&self, prefix: &str) -> Vec<String> {
        let listed = self.forge_git(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"]);
        listed
            .lines()
            .filter(|name| name.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git with a fixed identity; panics with stderr if it fails. Returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let output = git_command(self.path()).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn write(&self, file: &str, contents: &str) {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path().join(file)).unwrap()
    }

    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Creates `branch` from `from` with one commit writing `file`, without touching the checkout.
    pub fn branch_with_file(&self, branch: &str, from: &str, file: &str, contents: &str) -> String {
        let blob = self.git_stdin(&["hash-object", "-w", "--stdin"], contents);
        let index = self
            .path()
            .join(".git")
            .join(format!("index-{}", branch.replace('/', "-")));
        let index = index.to_str().unwrap();
        let env = [("GIT_INDEX_FILE", index)];
        self.git_env(&["read-tree", from], &env);
        self.git_env(
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},{file}"),
            ],
            &env,
        );
        let tree = self.git_env(&["write-tree"], &env);
        let parent = self.git(&["rev-parse", from]);
        let commit = self.git(&[
            "commit-tree",
            &tree,
            "-p",
            &parent,
            "-m",
            &format!("{branch}: write {file}"),
        ]);
        self.git(&["update-ref", &format!("refs/heads/{branch}"), &commit]);
        std::fs::remove_file(index).unwrap();
        self.publish(branch);
        commit
    }

    pub fn git_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut command = git_command(self.path());
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn git_stdin(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = git_command(self.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs the `clambake` binary in this repository.
    pub fn clambake(&self, args: &[&str]) -> CliOutput {
        self.clambake_env(args, &[])
    }

    /// [`TestRepo::clambake`] with `env` set as well, and on GitHub the fake's token. On a
    /// multi-threaded runtime it blocks in place, so that servers on the test's runtime (a
    /// scripted model) go on answering.
    pub fn clambake_env(&self, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
        let token = self.github.as_ref().map(GithubOrigin::token);
        let mut all: Vec<(&str, &str)> = token.iter().map(|t| ("GH_TOKEN", *t)).collect();
        all.extend_from_slice(env);
        let run = || clambake_in_env(self.path(), args, &all);
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }

    /// A `clambake` child process to start in this repository, with no `CLAMBAKE_*` variables
    /// from the outside and, on GitHub, the fake's token: for a test that must see it run.
    pub fn clambake_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
        command
            .current_dir(self.path())
            .args(args)
            .env("NO_COLOR", "1");
        for (key, _) in std::env::vars() {
            if key.starts_with("CLAMBAKE_") {
                command.env_remove(key);
            }
        }
        if let Some(origin) = &self.github {
            command.env("GH_TOKEN", origin.token());
        }
        command
    }

    /// The commit `branch` points at on `origin`, on the GitHub backend; `None` if `origin`
    /// has no such branch.
    pub fn origin_tip(&self, branch: &str) -> Option<String> {
        let listed = self.git(&["ls-remote", "origin", &format!("refs/heads/{branch}")]);
        listed.split_whitespace().next().map(str::to_owned)
    }

    /// The forge `workspace`'s configuration names, opened in this process as `clambake` opens
    /// it; on GitHub with the fake's token, which this process's environment does not hold.
    pub async fn open_configured_forge(
        &self,
        workspace: &clambake::app::Workspace,
    ) -> std::sync::Arc<dyn clambake::ports::Forge> {
        use clambake::ports::credentials::{GithubToken, TokenSource};
        let config = workspace.load_config().unwrap().config;
        match &self.github {
            None => workspace.open_forge(config.forge.backend).await.unwrap(),
            Some(github) => {
                let token = GithubToken::new(github.token().to_owned(), TokenSource::GhToken);
                clambake::app::compose::github(&config.github, &token)
                    .unwrap()
                    .forge()
            }
        }
    }

    /// On the GitHub backend, panics unless every request so far kept to GitHub's OpenAPI
    /// description; on the local forge there is nothing to check.
    #[track_caller]
    pub fn assert_no_violations(&self) {
        if let Some(github) = &self.github {
            assert_eq!(github.fake.violations(), Vec::<String>::new());
        }
    }

    /// Sets each configuration `(key, value)` with `clambake config set`, as a person would.
    pub fn configure<V: AsRef<str>>(&self, settings: &[(&str, V)]) {
        for (key, value) in settings {
            self.clambake(&["config", "set", key, value.as_ref()])
                .success();
        }
    }

    /// Creates an issue titled `title` with `label` through the CLI; returns its number.
    pub fn create_issue(&self, title: &str, label: &str) -> u64 {
        self.clambake(&[
            "issue", "create", "--title", title, "--label", label, "--json",
        ])
        .success()
        .json()["number"]
            .as_u64()
            .expect("issue create prints the new issue's number")
    }

    /// Work landed by `agent` on a new `route:review` issue titled `slug`: a branch of its own
    /// that writes `contents` to `file`. Returns the issue's number.
    pub fn landed_issue(&self, agent: &str, slug: &str, file: &str, contents: &str) -> u64 {
        let issue = self.create_issue(slug, "route:review");
        self.branch_with_file(&format!("{agent}/{issue}-{slug}"), "main", file, contents);
        issue
    }

    /// An issue's labels, as `clambake issue show` reports them, sorted: the local forge lists
    /// them by name, GitHub in the order they were added.
    pub fn labels_of(&self, issue: u64) -> Vec<String> {
        let shown = self
            .clambake(&["issue", "show", &issue.to_string(), "--json"])
            .success()
            .json();
        let mut labels: Vec<String> = shown["issue"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        labels.sort();
        labels
    }

    /// The bodies of an issue's comments, oldest first, as `clambake issue show` reports them.
    pub fn comments_on(&self, issue: u64) -> Vec<String> {
        let shown = self
            .clambake(&["issue", "show", &issue.to_string(), "--json"])
            .success()
            .json();
        shown["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The body of an issue's last comment; panics if it has none.
    #[track_caller]
    pub fn last_comment_on(&self, issue: u64) -> String {
        self.comments_on(issue)
            .pop()
            .unwrap_or_else(|| panic!("#{issue} has no comment"))
    }

    /// Every pull request, in any state, as `clambake pr list` reports them.
    pub fn pull_requests(&self) -> Vec<serde_json::Value> {
        self.clambake(&["pr", "list", "--state", "all", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

/// What a `clambake` run printed and how it exited.
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "clambake failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs the `clambake` binary in `dir`, with no `CLAMBAKE_*` variables from the outside.
pub fn clambake_in(dir: &Path, args: &[&str]) -> CliOutput {
    clambake_in_env(dir, args, &[])
}

/// Runs the `clambake` binary in `dir` as [`clambake_in`] does, with `env` set as well.
pub fn clambake_in_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
    command.current_dir(dir).args(args).env("NO_COLOR", "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("CLAMBAKE_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    CliOutput {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The pinned Claude Code binary that `./scripts/test` installs under `.tools/`, or the one
/// `CLAMBAKE_TEST_CLAUDE` names. Missing, it fails the test loudly: these tests never skip.
pub fn claude_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("CLAMBAKE_TEST_CLAUDE") {
        return path.into();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin/claude");
    assert!(
        path.exists(),
        "Claude Code is not installed at {}: run ./scripts/test (it installs the pinned version), \
         or point CLAMBAKE_TEST_CLAUDE at a claude binary",
        path.display()
    );
    path
}

/// Writes an executable `/bin/sh` script into `dir`.
pub fn write_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether a process with this pid exists at all, zombies included.
pub fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Every live process (zombies included) as (pid, process group, command line), from /proc.
pub fn processes() -> Vec<(u32, u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The command name is in parentheses and may contain spaces: fields follow the last ')'.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
            let group = fields.get(2)?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, group, cmdline.trim_end().to_owned()))
        })
        .collect()
}

/// The Codex CLI the tests run: `CLAMBAKE_TEST_CODEX`, or the pinned one `./scripts/test`
/// installs. Missing, the tests fail: they are never skipped.
pub fn codex_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("CLAMBAKE_TEST_CODEX") {
        return path.into();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin/codex");
    assert!(
        path.exists(),
        "Codex is not installed at {}: run ./scripts/test (it installs the pinned version), \
         or point CLAMBAKE_TEST_CODEX at a codex binary",
        path.display()
    );
    path
}

/// Whether the local agent `handle` names still runs (the same process, not a reused pid).
pub fn is_alive(handle: &clambake::ports::agent_host::AgentHandle) -> bool {
    use clambake::ports::agent_host::AgentHandle;
    let AgentHandle::Local { pid, start_time } = *handle else {
        panic!("not a process of this machine: {handle:?}");
    };
    clambake::adapters::hosts::local::process::is_running(pid, start_time)
}

/// How long a test waits for an event before it fails: generous, for a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);

/// What a wait's check says: a condition that holds (`bool`), a value that has appeared
/// (`Option`), or either the value or what was seen instead (`Result<_, String>`, whose last
/// `Err` a timeout reports).
pub trait Awaited {
    type Value;
    fn found(self) -> Result<Self::Value, Option<String>>;
}

impl Awaited for bool {
    type Value = ();
    fn found(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Awaited for Option<T> {
    type Value = T;
    fn found(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T> Awaited for Result<T, String> {
    type Value = T;
    fn found(self) -> Result<T, Option<String>> {
        self.map_err(Some)
    }
}

#[track_caller]
fn timed_out(what: &str, seen: Option<String>) -> ! {
    match seen {
        Some(seen) => panic!("timed out after {PATIENCE:?} waiting for {what}; last seen: {seen}"),
        None => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

/// Polls `check` until it holds, for up to [`PATIENCE`], and returns what it found; panics
/// naming `what` it waited for if it never does. Tests wait for events this way, never for a
/// fixed time.
#[track_caller]
pub fn wait_for<A: Awaited>(what: &str, mut check: impl FnMut() -> A) -> A::Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen = match check().found() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            timed_out(what, seen);
        }
        std::thread::sleep(POLL);
    }
}

/// [`wait_for`] in async tests: `check` may await, and the runtime's other tasks go on while
/// it waits.
pub async fn wait_for_async<A: Awaited>(what: &str, mut check: impl AsyncFnMut() -> A) -> A::Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen = match check().await.found() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            timed_out(what, seen);
        }
        tokio::time::sleep(POLL).await;
    }
}
