//! [`Worktrees`] on the `git` command line: `worktree`, `status`, and the commits Clambake makes
//! in a worktree.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{CLAMBAKE_EMAIL, CLAMBAKE_NAME, Git};
use crate::adapters::hosts::local::procfs;
use crate::ports::git::{Author, GitError, GitResult, Removal, Worktree, Worktrees};

#[async_trait]
impl Worktrees for Git {
    /// A worktree being added by another process has half-written metadata for a moment, and
    /// the listing fails on it; it is asked again a few times before the failure counts.
    async fn list(&self) -> GitResult<Vec<Worktree>> {
        let mut tries = 0;
        loop {
            match self.run(&["worktree", "list", "--porcelain"]).await {
                Ok(out) => return Ok(parse_worktrees(&out)),
                Err(GitError::Failed { ref stderr, .. })
                    if tries < 5 && stderr.contains("/worktrees/") =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn main(&self) -> GitResult<PathBuf> {
        self.main_worktree_root().await
    }

    async fn add(&self, path: &Path, branch: &str, start: Option<&str>) -> GitResult<()> {
        let path = path.display().to_string();
        match start {
            None => {
                self.run(&["worktree", "add", "--quiet", &path, branch])
                    .await
            }
            Some(start) => {
                self.run(&["worktree", "add", "--quiet", "-b", branch, &path, start])
                    .await
            }
        }
        .map(drop)
    }

    async fn remove(&self, path: &Path, removal: Removal) -> GitResult<()> {
        let path = path.display().to_string();
        let force: &[&str] = match removal {
            Removal::Clean => &[],
            Removal::Discard => &["--force"],
            Removal::Locked => &["--force", "--force"],
        };
        let mut args = vec!["worktree", "remove"];
        args.extend(force);
        args.push(&path);
        self.run(&args).await.map(drop)
    }

    async fn prune(&self) -> GitResult<()> {
        self.run(&["worktree", "prune"]).await.map(drop)
    }

    async fn is_worktree(&self, dir: &Path) -> bool {
        // Without its own `.git`, git would find the main repository above and answer for it.
        let top = Git::new(dir).run(&["rev-parse", "--show-toplevel"]).await;
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        top.is_ok_and(|top| canonical(Path::new(&top)).is_some_and(|t| Some(t) == canonical(dir)))
    }

    async fn branch(&self, dir: &Path) -> GitResult<Option<String>> {
        Git::new(dir).current_branch().await
    }

    async fn is_dirty(&self, dir: &Path) -> GitResult<bool> {
        let status = Git::new(dir).run(&["status", "--porcelain"]).await?;
        Ok(!status.is_empty())
    }

    async fn is_ignored(&self, path: &str) -> bool {
        self.output(&["check-ignore", "-q", path])
            .await
            .is_ok_and(|o| o.status.success())
    }

    async fn clear_stale_lock(&self, dir: &Path) -> GitResult<bool> {
        let git_dir = Git::new(dir)
            .run(&["rev-parse", "--absolute-git-dir"])
            .await?;
        let lock = Path::new(&git_dir).join("index.lock");
        if !lock.exists() || procfs::in_use(dir, &lock) {
            return Ok(false);
        }
        // One that cannot be removed is left for the git command it stops to report.
        match std::fs::remove_file(&lock) {
            Ok(()) => {
                tracing::warn!(lock = %lock.display(), "removed an index lock no live git holds");
                Ok(true)
            }
            Err(error) => {
                tracing::warn!(%error, lock = %lock.display(), "could not remove a stale index lock");
                Ok(false)
            }
        }
    }

    async fn commit_leftovers(&self, dir: &Path, message: &str) -> GitResult<bool> {
        let here = Git::new(dir);
        if here.run(&["status", "--porcelain"]).await?.is_empty() {
            return Ok(false);
        }
        here.run(&["add", "--all"]).await?;
        here.run(&[
            "-c",
            &format!("user.name={CLAMBAKE_NAME}"),
            "-c",
            &format!("user.email={CLAMBAKE_EMAIL}"),
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
        ])
        .await?;
        Ok(true)
    }

    async fn commit_files(
        &self,
        dir: &Path,
        paths: &[&str],
        message: &str,
        author: Author<'_>,
    ) -> GitResult<()> {
        let here = Git::new(dir);
        let mut add = vec!["add", "--"];
        add.extend(paths);
        here.run(&add).await?;
        here.run(&[
            "-c",
            &format!("user.name={}", author.name),
            "-c",
            &format!("user.email={}", author.email),
            "commit",
            "--quiet",
            "-m",
            message,
        ])
        .await?;
        Ok(())
    }
}

impl Git {
    /// Adds a worktree at `path` with `commit` checked out, on no branch: a throwaway checkout.
    pub async fn add_detached_worktree(&self, path: &Path, commit: &str) -> GitResult<()> {
        let path = path.display().to_string();
        self.run(&["worktree", "add", "--quiet", "--detach", &path, commit])
            .await
            .map(drop)
    }

    /// Removes the worktree at `path` whatever its state, blocking: for a destructor, where no
    /// future can be awaited. Failures are logged; `git worktree prune` settles what is left.
    pub fn remove_worktree_now(&self, path: &Path) {
        let removed = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["worktree", "remove", "--force", "--force"])
            .arg(path)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .output();
        match removed {
            Ok(output) if output.status.success() => {}
            Ok(output) => tracing::warn!(
                path = %path.display(),
                stderr = %String::from_utf8_lossy(&output.stderr).trim(),
                "could not remove a worktree"
            ),
            Err(error) => tracing::warn!(%error, path = %path.display(), "could not run git"),
        }
    }

    /// Commits every change of this worktree, tracked or not, as `author`, its hooks run as
    /// for any commit an agent makes. Returns whether there was anything.
    pub async fn commit_all(&self, message: &str, author: Author<'_>) -> GitResult<bool> {
        if self.run(&["status", "--porcelain"]).await?.is_empty() {
            return Ok(false);
        }
        self.run(&["add", "--all"]).await?;
        self.run(&[
            "-c",
            &format!("user.name={}", author.name),
            "-c",
            &format!("user.email={}", author.email),
            "commit",
            "-q",
            "-m",
            message,
        ])
        .await?;
        Ok(true)
    }

    /// Why this checkout's index and files could not follow its branch from commit `from` to
    /// `to` (files the move would overwrite), or `None` if they can.
    pub async fn follow_refused(&self, from: &str, to: &str) -> GitResult<Option<String>> {
        let dry_run = self
            .output(&["read-tree", "-m", "-u", "-n", from, to])
            .await?;
        Ok((!dry_run.status.success())
            .then(|| String::from_utf8_lossy(&dry_run.stderr).trim().to_owned()))
    }

    /// Brings this checkout's index and files from commit `from` to `to`, as a fast-forward
    /// would.
    pub async fn follow(&self, from: &str, to: &str) -> GitResult<()> {
        self.run(&["read-tree", "-m", "-u", from, to])
            .await
            .map(drop)
    }
}

fn parse_worktrees(porcelain: &str) -> Vec<Worktree> {
    porcelain
        .split("\n\n")
        .filter_map(|block| {
            let mut path = None;
            let mut head = None;
            let mut branch = None;
            for line in block.lines() {
                if let Some(p) = line.strip_prefix("worktree ") {
                    path = Some(PathBuf::from(p));
                } else if let Some(h) = line.strip_prefix("HEAD ") {
                    head = Some(h.to_owned());
                } else if let Some(b) = line.strip_prefix("branch ") {
                    branch = Some(b.strip_prefix("refs/heads/").unwrap_or(b).to_owned());
                }
            }
            Some(Worktree {
                path: path?,
                head,
                branch,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktree_listings_parse() {
        let porcelain = "worktree /r\nHEAD abc\nbranch refs/heads/main\n\n\
                         worktree /r/.clambake/worktrees/a\nHEAD def\ndetached\n";
        let trees = parse_worktrees(porcelain);
        assert_eq!(trees.len(), 2);
        assert_eq!(trees[0].branch.as_deref(), Some("main"));
        assert_eq!(trees[1].branch, None);
        assert_eq!(trees[1].head.as_deref(), Some("def"));
    }
}
