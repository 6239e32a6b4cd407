//! The bare repository that is the `origin` remote: refs are read fresh from it on every
//! request, since `git push` changes them behind the fake's back, and merges are written into it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

/// A bare git repository.
#[derive(Debug, Clone)]
pub struct BareRepo {
    path: PathBuf,
}

/// The outcome of merging two commits without a work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeTree {
    Clean { tree: String },
    Conflicted,
}

impl BareRepo {
    /// Opens the bare repository at `path`, creating it with `main` as its default branch
    /// when missing.
    pub async fn open_or_init(path: &Path) -> io::Result<BareRepo> {
        let path = std::path::absolute(path)?;
        if !path.join("HEAD").exists() {
            std::fs::create_dir_all(&path)?;
            let output = Command::new("git")
                .args(["init", "--quiet", "--bare", "-b", "main"])
                .arg(&path)
                .output()
                .await?;
            check(&output, "git init --bare")?;
        }
        Ok(BareRepo { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn git(&self, args: &[&str]) -> io::Result<Output> {
        Command::new("git")
            .arg("--git-dir")
            .arg(&self.path)
            .args(args)
            .env("GIT_AUTHOR_NAME", "GitHub")
            .env("GIT_AUTHOR_EMAIL", "noreply@github.com")
            .env("GIT_COMMITTER_NAME", "GitHub")
            .env("GIT_COMMITTER_EMAIL", "noreply@github.com")
            .output()
            .await
    }

    /// The branch `HEAD` names: the repository's default branch.
    pub async fn default_branch(&self) -> io::Result<String> {
        let output = self.git(&["symbolic-ref", "--short", "HEAD"]).await?;
        check(&output, "git symbolic-ref")?;
        Ok(stdout_line(&output))
    }

    /// The commit a branch points at, if the branch exists.
    pub async fn branch_sha(&self, branch: &str) -> io::Result<Option<String>> {
        let reference = format!("refs/heads/{branch}^{{commit}}");
        let output = self
            .git(&["rev-parse", "--verify", "--quiet", &reference])
            .await?;
        Ok(output.status.success().then(|| stdout_line(&output)))
    }

    /// The number of commits reachable from `head` but not from `base`.
    pub async fn commits_between(&self, base: &str, head: &str) -> io::Result<u64> {
        let range = format!("{base}..{head}");
        let output = self.git(&["rev-list", "--count", &range]).await?;
        check(&output, "git rev-list")?;
        stdout_line(&output).parse().map_err(io::Error::other)
    }

    /// Lines added, lines deleted and files changed from the merge base of `base` and `head`
    /// to `head`, as GitHub counts a pull request's diff.
    pub async fn diff_stat(&self, base: &str, head: &str) -> io::Result<(u64, u64, u64)> {
        let range = format!("{base}...{head}");
        let output = self.git(&["diff", "--numstat", &range]).await?;
        check(&output, "git diff")?;
        let mut totals = (0, 0, 0);
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut fields = line.split('\t');
            totals.0 += fields
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            totals.1 += fields
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            totals.2 += 1;
        }
        Ok(totals)
    }

    /// Merges `head` into `base` in memory, as GitHub does to decide `mergeable`.
    pub async fn merge_tree(&self, base: &str, head: &str) -> io::Result<MergeTree> {
        let output = self
            .git(&["merge-tree", "--write-tree", base, head])
            .await?;
        match output.status.code() {
            Some(0) => Ok(MergeTree::Clean {
                tree: stdout_line(&output),
            }),
            Some(1) => Ok(MergeTree::Conflicted),
            _ => Err(failure(&output, "git merge-tree")),
        }
    }

    /// Writes a commit of `tree` with these parents and message.
    pub async fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> io::Result<String> {
        let mut args = vec!["commit-tree", tree, "-m", message];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        let output = self.git(&args).await?;
        check(&output, "git commit-tree")?;
        Ok(stdout_line(&output))
    }

    /// Moves `branch` from `old` to `new`, failing if it no longer points at `old`.
    pub async fn compare_and_swap(&self, branch: &str, new: &str, old: &str) -> io::Result<bool> {
        let reference = format!("refs/heads/{branch}");
        let output = self.git(&["update-ref", &reference, new, old]).await?;
        Ok(output.status.success())
    }
}

fn stdout_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn check(output: &Output, what: &str) -> io::Result<()> {
    if output.status.success() {
        Ok(())
    } else {
        Err(failure(output, what))
    }
}

fn failure(output: &Output, what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}
