//! [`CommitChecks`] by the checks command on this machine: each commit checked out, detached,
//! in a temporary worktree under `.clambake/checks/`, checked in the background (at most
//! `parallel` at once), its verdict kept as a file there so that any process reads it back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use crate::adapters::git::Git;
use crate::core::agents::outcome::ExitStatus;
use crate::ports::checks::{
    CheckFailure, CheckRequest, CheckRun, CheckRunner, CheckVerdict, ChecksError, CommitCheckState,
    CommitChecks,
};
use crate::ports::git::{Removal, Worktrees};

/// The directory, in the state directory, that holds the checks' worktrees, logs and verdicts.
pub const CHECKS_DIR: &str = "checks";

/// What the checks command runs with.
#[derive(Debug, Clone)]
pub struct CommandSettings {
    /// `checks.command`, split into words.
    pub argv: Vec<String>,
    /// The whole environment of the checks.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// How many commits are checked at once (at least one).
    pub parallel: usize,
}

/// The checks command on commits of the repository at `git`.
pub struct CommandChecks {
    shared: Arc<Shared>,
}

struct Shared {
    git: Git,
    dir: PathBuf,
    runner: Arc<dyn CheckRunner>,
    settings: CommandSettings,
    slots: Semaphore,
    /// git cannot add or remove two worktrees of one repository at once: the workspace's lock.
    worktree_lock: Arc<tokio::sync::Mutex<()>>,
    /// The commits being checked by this process.
    running: Mutex<HashMap<String, AbortHandle>>,
    /// Commits whose checks could not even be set up (say, no such commit), told once.
    broken: Mutex<HashMap<String, String>>,
}

/// A commit's verdict as kept on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    name: String,
    passed: bool,
    summary: String,
    tail: String,
    log: PathBuf,
    took_seconds: f64,
}

impl CommandChecks {
    /// Checks commits of the repository at `git`, keeping everything in
    /// `state_dir/checks/`; `worktree_lock` is held while a worktree is added or removed.
    pub fn new(
        git: Git,
        state_dir: &Path,
        runner: Arc<dyn CheckRunner>,
        settings: CommandSettings,
        worktree_lock: Arc<tokio::sync::Mutex<()>>,
    ) -> Self {
        let slots = Semaphore::new(settings.parallel.max(1));
        Self {
            shared: Arc::new(Shared {
                git,
                dir: state_dir.join(CHECKS_DIR),
                runner,
                settings,
                slots,
                worktree_lock,
                running: Mutex::default(),
                broken: Mutex::default(),
            }),
        }
    }
}

/// Gives up on the checks running: their tasks are dropped, which kills their processes and
/// removes their worktrees; a later process finds them `NotStarted` and asks again.
impl Drop for CommandChecks {
    fn drop(&mut self) {
        for (_, task) in self.shared.running().drain() {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A commit id, lower case: it names files, so nothing else is taken.
fn commit_id(commit: &str) -> Result<String, ChecksError> {
    let valid = (4..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit());
    if valid {
        Ok(commit.to_ascii_lowercase())
    } else {
        Err(ChecksError::Io(format!("`{commit}` is not a commit id")))
    }
}

impl Shared {
    fn running(&self) -> MutexGuard<'_, HashMap<String, AbortHandle>> {
        lock(&self.running)
    }

    fn verdict_path(&self, commit: &str) -> PathBuf {
        self.dir.join(format!("{commit}.json"))
    }

    fn log_path(&self, commit: &str) -> PathBuf {
        self.dir.join(format!("{commit}.log"))
    }

    fn worktree_path(&self, commit: &str) -> PathBuf {
        self.dir.join("worktrees").join(commit)
    }

    fn recorded(&self, commit: &str) -> Result<Option<Recorded>, ChecksError> {
        let path = self.verdict_path(commit);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|error| {
                ChecksError::Io(format!("{} cannot be read: {error}", path.display()))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(ChecksError::Io(format!("{}: {error}", path.display()))),
        }
    }

    fn record(&self, commit: &str, recorded: &Recorded) -> Result<(), String> {
        let path = self.verdict_path(commit);
        let text = serde_json::to_string_pretty(recorded).map_err(|e| e.to_string())?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| e.to_string())?;
        file.persist(&path).map_err(|e| e.error.to_string())?;
        Ok(())
    }

    /// Checks `commit` once a slot is free, keeps the verdict, and forgets it is running.
    async fn check(self: Arc<Self>, commit: String, name: String) {
        let outcome = match self.slots.acquire().await {
            Ok(_slot) => self.run_in_worktree(&commit).await,
            Err(_) => Err("the checks were shut down".to_owned()),
        };
        let kept = outcome.and_then(|run| {
            let recorded = Recorded {
                name,
                passed: run.passed(),
                summary: self.summary(&commit, &run.verdict),
                tail: run.tail,
                log: self.log_path(&commit),
                took_seconds: run.took.as_secs_f64(),
            };
            self.record(&commit, &recorded)
        });
        if let Err(why) = kept {
            tracing::warn!(%commit, %why, "the checks of a commit could not be run");
            lock(&self.broken).insert(commit.clone(), why);
        }
        self.running().remove(&commit);
    }

    async fn run_in_worktree(&self, commit: &str) -> Result<CheckRun, String> {
        let worktree = self.worktree_path(commit);
        {
            let _held = self.worktree_lock.lock().await;
            if worktree.exists() {
                // A process that was killed left it.
                self.git.remove_worktree_now(&worktree);
                let _ = std::fs::remove_dir_all(&worktree);
                self.git.prune().await.map_err(|e| e.to_string())?;
            }
            self.git
                .add_detached_worktree(&worktree, commit)
                .await
                .map_err(|e| e.to_string())?;
        }
        let guard = WorktreeGuard {
            git: self.git.clone(),
            path: Some(worktree.clone()),
        };
        let log = self.log_path(commit);
        let _ = std::fs::remove_file(&log);
        let run = self
            .runner
            .run(&CheckRequest {
                dir: &worktree,
                argv: &self.settings.argv,
                env: &self.settings.env,
                timeout: self.settings.timeout,
                log: &log,
            })
            .await;
        guard.remove(&self.worktree_lock).await;
        Ok(run)
    }

    /// One line: what failed, and how.
    fn summary(&self, commit: &str, verdict: &CheckVerdict) -> String {
        let short = &commit[..commit.len().min(12)];
        let command = self.settings.argv.join(" ");
        match verdict {
            CheckVerdict::Passed => format!("`{command}` passed on {short}"),
            CheckVerdict::Failed { exit } => {
                let how = match exit {
                    ExitStatus::Code(code) => format!("exit status {code}"),
                    ExitStatus::Signal(signal) => format!("killed by signal {signal}"),
                    ExitStatus::Unknown => "an unknown exit status".to_owned(),
                };
                format!("`{command}` failed on {short} with {how}")
            }
            CheckVerdict::TimedOut => format!(
                "`{command}` ran past {} minutes on {short} and was stopped",
                self.settings.timeout.as_secs() / 60
            ),
            CheckVerdict::Unstartable { message } => {
                format!("`{command}` could not start on {short}: {message}")
            }
        }
    }
}

/// Removes the checks' worktree, in passing when its task is dropped before it ends.
struct WorktreeGuard {
    git: Git,
    path: Option<PathBuf>,
}

impl WorktreeGuard {
    async fn remove(mut self, lock: &tokio::sync::Mutex<()>) {
        let Some(path) = self.path.take() else {
            return;
        };
        let _held = lock.lock().await;
        if let Err(error) = self.git.remove(&path, Removal::Locked).await {
            tracing::warn!(%error, path = %path.display(), "could not remove a checks worktree");
        }
    }
}

impl Drop for WorktreeGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            self.git.remove_worktree_now(&path);
        }
    }
}

#[async_trait]
impl CommitChecks for CommandChecks {
    async fn request(&self, commit: &str, name: &str) -> Result<(), ChecksError> {
        let commit = commit_id(commit)?;
        let shared = &self.shared;
        std::fs::create_dir_all(&shared.dir)
            .map_err(|error| ChecksError::Io(format!("{}: {error}", shared.dir.display())))?;
        let mut running = shared.running();
        if running.contains_key(&commit) || shared.recorded(&commit)?.is_some() {
            return Ok(());
        }
        lock(&shared.broken).remove(&commit);
        let task = tokio::spawn(shared.clone().check(commit.clone(), name.to_owned()));
        running.insert(commit, task.abort_handle());
        Ok(())
    }

    async fn state(&self, commit: &str) -> Result<CommitCheckState, ChecksError> {
        let commit = commit_id(commit)?;
        let shared = &self.shared;
        if shared.running().contains_key(&commit) {
            return Ok(CommitCheckState::Pending);
        }
        if let Some(why) = lock(&shared.broken).remove(&commit) {
            return Err(ChecksError::Io(format!(
                "the checks of {commit} could not run: {why}"
            )));
        }
        Ok(match shared.recorded(&commit)? {
            None => CommitCheckState::NotStarted,
            Some(recorded) if recorded.passed => CommitCheckState::Passed,
            Some(recorded) => CommitCheckState::Failed(CheckFailure {
                summary: recorded.summary,
                details: Some(recorded.log.display().to_string()),
                tail: recorded.tail,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::checks::LocalCheckRunner;
    use crate::adapters::hosts::local::process::ProcessTracking;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// A repository, and a commit of it whose file `verdict` holds each of `verdicts`.
    fn repository(verdicts: &[&str]) -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "--quiet", "-b", "main"]);
        let commits = verdicts
            .iter()
            .map(|verdict| {
                std::fs::write(dir.path().join("verdict"), verdict).unwrap();
                git(dir.path(), &["add", "verdict"]);
                git(dir.path(), &["commit", "--quiet", "-m", verdict]);
                git(dir.path(), &["rev-parse", "HEAD"])
            })
            .collect();
        (dir, commits)
    }

    /// The checks: `script` run by sh in the commit's worktree, with `MARKS` naming `marks`.
    fn checks(root: &Path, marks: &Path, script: &str, parallel: usize) -> CommandChecks {
        let settings = CommandSettings {
            argv: ["sh", "-c", script].map(str::to_owned).into(),
            env: vec![
                ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
                ("MARKS".to_owned(), marks.display().to_string()),
            ],
            timeout: Duration::from_secs(600),
            parallel,
        };
        CommandChecks::new(
            Git::new(root),
            &root.join(".clambake"),
            Arc::new(LocalCheckRunner::new(ProcessTracking::MarkerOnly)),
            settings,
            Arc::default(),
        )
    }

    async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
        for _ in 0..1200 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    async fn settled(checks: &CommandChecks, commit: &str) -> CommitCheckState {
        let mut state = CommitCheckState::Pending;
        wait_for("the checks to end", async || {
            state = checks.state(commit).await.unwrap();
            !matches!(state, CommitCheckState::Pending)
        })
        .await;
        state
    }

    fn worktrees_left(root: &Path) -> Vec<String> {
        let dir = root.join(".clambake/checks/worktrees");
        let on_disk = std::fs::read_dir(&dir)
            .map(|entries| entries.count())
            .unwrap_or(0);
        let listed = git(root, &["worktree", "list", "--porcelain"]);
        let mut left: Vec<String> = listed
            .lines()
            .filter(|line| line.starts_with("worktree ") && line.contains(".clambake"))
            .map(str::to_owned)
            .collect();
        left.extend((0..on_disk).map(|_| "a directory".to_owned()));
        left
    }

    fn pid_alive(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }

    #[tokio::test]
    async fn a_passing_and_a_failing_commit_are_told_apart_and_kept_for_every_process() {
        let (repo, commits) = repository(&["pass", "fail"]);
        let marks = tempfile::tempdir().unwrap();
        let script = "echo run >> \"$MARKS/runs-$(git rev-parse HEAD)\"; \
                      echo checking; test \"$(cat verdict)\" = pass";
        let checks = checks(repo.path(), marks.path(), script, 2);
        let (pass, fail) = (&commits[0], &commits[1]);
        assert_eq!(
            checks.state(pass).await.unwrap(),
            CommitCheckState::NotStarted
        );
        checks.request(pass, "bundle one").await.unwrap();
        checks.request(fail, "bundle two").await.unwrap();
        checks.request(pass, "bundle one").await.unwrap();
        assert_eq!(settled(&checks, pass).await, CommitCheckState::Passed);
        let CommitCheckState::Failed(failure) = settled(&checks, fail).await else {
            panic!("the failing commit fails");
        };
        assert!(
            failure.summary.contains("exit status 1"),
            "{}",
            failure.summary
        );
        assert!(failure.tail.contains("checking"), "{}", failure.tail);
        let log = failure.details.unwrap();
        assert!(std::fs::read_to_string(&log).unwrap().contains("checking"));

        checks.request(pass, "again").await.unwrap();
        checks.request(fail, "again").await.unwrap();
        let runs = std::fs::read_to_string(marks.path().join(format!("runs-{pass}"))).unwrap();
        assert_eq!(runs.lines().count(), 1, "asking again does nothing");
        assert_eq!(worktrees_left(repo.path()), Vec::<String>::new());

        let another = self::checks(repo.path(), marks.path(), script, 2);
        assert_eq!(another.state(pass).await.unwrap(), CommitCheckState::Passed);
        assert!(matches!(
            another.state(fail).await.unwrap(),
            CommitCheckState::Failed(_)
        ));
        assert!(checks.state("not a commit").await.is_err());
    }

    #[tokio::test]
    async fn no_more_than_parallel_commits_are_checked_at_once() {
        let (repo, commits) = repository(&["pass", "pass again", "pass once more"]);
        let marks = tempfile::tempdir().unwrap();
        // Each check counts those running as it starts, then waits to be let go.
        let script = "touch \"$MARKS/running-$$\"; ls \"$MARKS\" | grep -c running >> \"$MARKS/seen\"; \
                      while [ ! -e \"$MARKS/release\" ]; do sleep 0.05; done; rm \"$MARKS/running-$$\"";
        let checks = checks(repo.path(), marks.path(), script, 2);
        for commit in &commits {
            checks.request(commit, "step").await.unwrap();
        }
        let seen = marks.path().join("seen");
        wait_for("two checks to start", async || {
            std::fs::read_to_string(&seen).is_ok_and(|s| s.lines().count() >= 2)
        })
        .await;
        for commit in &commits {
            assert_eq!(
                checks.state(commit).await.unwrap(),
                CommitCheckState::Pending
            );
        }
        std::fs::write(marks.path().join("release"), "").unwrap();
        for commit in &commits {
            assert_eq!(settled(&checks, commit).await, CommitCheckState::Passed);
        }
        let seen = std::fs::read_to_string(&seen).unwrap();
        let counts: Vec<u32> = seen.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(counts.len(), 3, "{seen}");
        assert!(
            counts.iter().all(|&n| n <= 2),
            "at most two at once: {seen}"
        );
    }

    #[tokio::test]
    async fn checks_given_up_on_leave_no_process_nor_worktree_and_are_asked_for_again() {
        let (repo, commits) = repository(&["pass"]);
        let marks = tempfile::tempdir().unwrap();
        let script = "echo $$ > \"$MARKS/pid\"; exec sleep 300";
        let checks = checks(repo.path(), marks.path(), script, 1);
        checks.request(&commits[0], "bundle").await.unwrap();
        let pid_file = marks.path().join("pid");
        let mut pid = String::new();
        wait_for("the check to start", async || {
            pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
            !pid.trim().is_empty()
        })
        .await;
        let pid = pid.trim().to_owned();
        assert_eq!(
            checks.state(&commits[0]).await.unwrap(),
            CommitCheckState::Pending
        );
        assert_eq!(
            worktrees_left(repo.path()).len(),
            2,
            "its worktree, listed and there"
        );
        drop(checks);
        wait_for("the check's process to end", async || !pid_alive(&pid)).await;
        wait_for("its worktree to go", async || {
            worktrees_left(repo.path()).is_empty()
        })
        .await;
        let restarted = self::checks(repo.path(), marks.path(), "true", 1);
        assert_eq!(
            restarted.state(&commits[0]).await.unwrap(),
            CommitCheckState::NotStarted
        );
        restarted.request(&commits[0], "bundle").await.unwrap();
        assert_eq!(
            settled(&restarted, &commits[0]).await,
            CommitCheckState::Passed
        );
    }
}
