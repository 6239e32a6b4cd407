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

    /// Runs git on the bare repository as GitHub's merge bot, never signing (a user's
    /// `commit.gpgSign` would make a merge fail).
    async fn git(&self, args: &[&str]) -> io::Result<Output> {
        Command::new("git")
            .args(["-c", "commit.gpgSign=false", "--git-dir"])
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

    /// The paths of the files directly in `dir` at `revision`; none if `dir` is missing.
    pub async fn files_in(&self, revision: &str, dir: &str) -> io::Result<Vec<String>> {
        let tree = format!("{revision}:{dir}");
        let output = self.git(&["ls-tree", "--name-only", &tree]).await?;
        if !output.status.success() {
            return Ok(Vec::new());
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|name| format!("{dir}/{name}"))
            .collect())
    }

    /// The text of the file at `path` in `revision`, if there is one.
    pub async fn file_at(&self, revision: &str, path: &str) -> io::Result<Option<String>> {
        let object = format!("{revision}:{path}");
        let output = self.git(&["show", &object]).await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned()))
    }
}

/// One commit, as `git log` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub parents: Vec<String>,
    pub tree: String,
    pub author: (String, String, String),
    pub committer: (String, String, String),
    pub message: String,
}

/// The zero object id: as the old value of `update-ref`, "must not exist yet".
const NO_OBJECT: &str = "0000000000000000000000000000000000000000";

impl BareRepo {
    /// Every ref and the object it points at, sorted by name.
    pub async fn refs(&self) -> io::Result<Vec<(String, String)>> {
        let output = self
            .git(&["for-each-ref", "--format=%(refname) %(objectname)"])
            .await?;
        check(&output, "git for-each-ref")?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, sha)| (name.to_string(), sha.to_string()))
            .collect())
    }

    /// The commit `revision` names, if it names one.
    pub async fn commit(&self, revision: &str) -> io::Result<Option<String>> {
        let revision = format!("{revision}^{{commit}}");
        let output = self
            .git(&["rev-parse", "--verify", "--quiet", &revision])
            .await?;
        Ok(output.status.success().then(|| stdout_line(&output)))
    }

    /// Points `reference` at `new` if it still points at `old` (`None`: if it does not exist).
    pub async fn update_ref(
        &self,
        reference: &str,
        new: &str,
        old: Option<&str>,
    ) -> io::Result<bool> {
        let output = self
            .git(&["update-ref", reference, new, old.unwrap_or(NO_OBJECT)])
            .await?;
        Ok(output.status.success())
    }

    /// Deletes `reference` if it still points at `old`.
    pub async fn delete_ref(&self, reference: &str, old: &str) -> io::Result<bool> {
        let output = self.git(&["update-ref", "-d", reference, old]).await?;
        Ok(output.status.success())
    }

    /// Whether `ancestor` is reachable from `descendant`.
    pub async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> io::Result<bool> {
        let output = self
            .git(&["merge-base", "--is-ancestor", ancestor, descendant])
            .await?;
        Ok(output.status.success())
    }

    /// The best common ancestor of two commits, if they have one.
    pub async fn merge_base(&self, one: &str, other: &str) -> io::Result<Option<String>> {
        let output = self.git(&["merge-base", one, other]).await?;
        Ok(output.status.success().then(|| stdout_line(&output)))
    }

    /// The commits `git log` lists for these arguments, oldest first.
    pub async fn log(&self, args: &[&str]) -> io::Result<Vec<CommitInfo>> {
        let format = "--format=%H%x00%P%x00%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x1e";
        let mut all = vec!["log", "--reverse", format];
        all.extend(args);
        let output = self.git(&all).await?;
        check(&output, "git log")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let commits = text
            .split('\x1e')
            .map(|record| record.trim_start_matches('\n'));
        Ok(commits
            .filter(|record| !record.is_empty())
            .map(|record| {
                let fields: Vec<&str> = record.splitn(10, '\0').collect();
                let field = |n: usize| fields.get(n).copied().unwrap_or_default().to_string();
                CommitInfo {
                    sha: field(0),
                    parents: field(1).split_whitespace().map(str::to_string).collect(),
                    tree: field(2),
                    author: (field(3), field(4), field(5)),
                    committer: (field(6), field(7), field(8)),
                    message: field(9).trim_end().to_string(),
                }
            })
            .collect())
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
