//! The `git` command line, run without a shell, with answers parsed into values: the only place
//! Clambake builds one. [`Git`] implements the git ports for a repository (or one of its
//! worktrees), addressed by directory; [`LocalRemote`] is the remote of the local forge,
//! [`OriginRemote`] the git remote `origin` of a forge elsewhere.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use tokio::process::Command;

use crate::ports::git::{GitError, GitResult, Repository};

mod branch_deletion;
mod gix_merge;
pub use gix_merge::GixMerges;
mod merge;
mod origin;
mod refs;
mod remote;
mod worktrees;

pub use origin::{HttpAuth, ORIGIN, OriginRemote};
pub use remote::LocalRemote;

/// The identity on commits Clambake itself makes.
pub const CLAMBAKE_NAME: &str = "Clambake";
pub const CLAMBAKE_EMAIL: &str = "clambake@localhost";

/// A repository (or one of its worktrees), addressed by directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

/// The git ports of the repository whose main worktree is `root`, its remote being itself.
pub fn open(root: &Path) -> Repository {
    open_with_remote(root, Arc::new(LocalRemote::new(Git::new(root))))
}

/// The git ports of the repository whose main worktree is `root`, publishing to `origin`.
pub fn open_with_origin(root: &Path, auth: Option<HttpAuth>) -> Repository {
    open_with_remote(root, Arc::new(OriginRemote::new(Git::new(root), auth)))
}

fn open_with_remote(root: &Path, remote: Arc<dyn crate::ports::git::Remote>) -> Repository {
    let git = Arc::new(Git::new(root));
    let merges: Arc<dyn crate::ports::git::MergeEngine> = match GixMerges::open(Git::new(root)) {
        Ok(merges) => Arc::new(merges),
        Err(error) => {
            // Not a repository gix reads (yet): every merge is git's.
            tracing::debug!(%error, "trial merges on the git command line");
            git.clone()
        }
    };
    Repository {
        refs: git.clone(),
        worktrees: git.clone(),
        merges,
        remote,
    }
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            // `status` would otherwise refresh the index under index.lock, and an agent
            // committing in the same worktree at that moment would fail.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
            // A git command is short and leaves a lock behind if killed mid-write: when its
            // caller is dropped (or killed), it is left to finish.
            .stdin(std::process::Stdio::null());
        command
    }

    /// Runs git and returns its whole output, whatever the exit status.
    async fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> GitResult<Output> {
        tracing::debug!(dir = %self.dir.display(), args = %join_args(args), "git");
        self.command(args).output().await.map_err(GitError::Spawn)
    }

    /// Runs git, fails on a non-zero exit, and returns stdout without the trailing newline.
    async fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> GitResult<String> {
        let output = self.output(args).await?;
        self.check(args, output)
    }

    fn check<S: AsRef<OsStr>>(&self, args: &[S], output: Output) -> GitResult<String> {
        if output.status.success() {
            let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            while stdout.ends_with('\n') {
                stdout.pop();
            }
            Ok(stdout)
        } else {
            Err(self.failure(args, &output))
        }
    }

    fn failure<S: AsRef<OsStr>>(&self, args: &[S], output: &Output) -> GitError {
        GitError::Failed {
            args: join_args(args),
            dir: self.dir.display().to_string(),
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }
    }

    /// The installed git's `(major, minor)` version.
    pub async fn version() -> GitResult<(u32, u32)> {
        let output = Command::new("git")
            .arg("--version")
            .output()
            .await
            .map_err(GitError::Spawn)?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        parse_version(&text).ok_or(GitError::Unparsable {
            args: "--version".to_owned(),
            output: text,
        })
    }

    /// Makes a new, empty repository at `dir`, on `branch`.
    pub async fn init(dir: &Path, branch: &str) -> GitResult<()> {
        let initial = format!("--initial-branch={branch}");
        Self::new(dir)
            .run(&["init", "--quiet", &initial])
            .await
            .map(drop)
    }

    /// The top of the main working tree of the repository `start` is in (even from inside a
    /// linked worktree), `None` when `start` is in no working tree.
    pub async fn discover(start: &Path) -> GitResult<Option<PathBuf>> {
        let probe = Self::new(start);
        let inside = probe
            .output(&["rev-parse", "--is-inside-work-tree"])
            .await?;
        if !inside.status.success() {
            return Ok(None);
        }
        probe.main_worktree_root().await.map(Some)
    }

    /// The top of the main working tree, even when `dir` is inside a linked worktree.
    pub async fn main_worktree_root(&self) -> GitResult<PathBuf> {
        let common = self
            .run(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .await?;
        let common = PathBuf::from(common);
        match common.file_name() {
            Some(name) if name == ".git" => Ok(common.parent().unwrap_or(&common).to_path_buf()),
            _ => Err(GitError::Unparsable {
                args: "rev-parse --git-common-dir".to_owned(),
                output: format!(
                    "{} (a bare repository has no working tree)",
                    common.display()
                ),
            }),
        }
    }

    /// The branch HEAD points at, `None` when detached.
    pub async fn current_branch(&self) -> GitResult<Option<String>> {
        self.symbolic_ref("HEAD").await
    }

    /// The short name of the reference the symbolic reference `name` points at.
    async fn symbolic_ref(&self, name: &str) -> GitResult<Option<String>> {
        let output = self
            .output(&["symbolic-ref", "--quiet", "--short", name])
            .await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// The default branch of `origin` as this repository last heard it, if it has one.
    pub async fn origin_default_branch(&self) -> GitResult<Option<String>> {
        let head = self.symbolic_ref("refs/remotes/origin/HEAD").await?;
        Ok(head.and_then(|name| name.strip_prefix("origin/").map(str::to_owned)))
    }

    /// The URL of the remote `name`, `None` if there is no such remote.
    pub async fn remote_url(&self, name: &str) -> GitResult<Option<String>> {
        let output = self.output(&["remote", "get-url", "--", name]).await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// git's `user.name` here, if set.
    pub async fn user_name(&self) -> Option<String> {
        let name = self.run(&["config", "user.name"]).await.ok()?;
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// Whether the working tree at `dir` has changes to tracked files.
    pub async fn has_tracked_changes(&self) -> GitResult<bool> {
        let out = self
            .run(&["status", "--porcelain", "--untracked-files=no"])
            .await?;
        Ok(!out.is_empty())
    }
}

fn join_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `git version 2.47.3` (and vendor suffixes like `2.39.3 (Apple Git-146)`).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let version = text.trim().strip_prefix("git version ")?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(
            parse_version("git version 2.39.3 (Apple Git-146)"),
            Some((2, 39))
        );
        assert_eq!(parse_version("git version 2.45.windows.1"), Some((2, 45)));
        assert_eq!(parse_version("hg 6.0"), None);
    }
}
