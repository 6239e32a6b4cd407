//! The `git` command line, run without a shell, with answers parsed into values.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use miette::Diagnostic;
use tokio::process::Command;

mod branch_deletion;

pub use branch_deletion::BranchDeletion;

/// The oldest git Clambake works with: trial merges need `merge-tree --write-tree` (2.38),
/// drift detection needs `for-each-ref --format=%(ahead-behind:...)` (2.41).
pub const MINIMUM_VERSION: (u32, u32) = (2, 41);

/// The identity on commits Clambake itself makes.
pub const CLAMBAKE_NAME: &str = "Clambake";
pub const CLAMBAKE_EMAIL: &str = "clambake@localhost";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum GitError {
    #[error("could not run git: {0}")]
    #[diagnostic(help("install git {}.{} or later and make sure it is on PATH", MINIMUM_VERSION.0, MINIMUM_VERSION.1))]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Failed {
        args: String,
        dir: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("unexpected output from `git {args}`: {output}")]
    Unparsable { args: String, output: String },
    #[error("refused to delete branch `{branch}`: {why}")]
    #[diagnostic(help(
        "Clambake deletes only its own branches (`agentNNN/...`, `clambake/...`), never the base"
    ))]
    DeletionRefused { branch: String, why: String },
}

pub type GitResult<T> = Result<T, GitError>;

/// A trial merge's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialMerge {
    /// The merged tree's id.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

/// One merge of a batch: `theirs` into `ours`, against `base` if given (else their merge base).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeSpec<'a> {
    pub base: Option<&'a str>,
    pub ours: &'a str,
    pub theirs: &'a str,
}

/// One entry of `git worktree list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    pub head: Option<String>,
    /// The checked-out branch's short name, `None` when detached.
    pub branch: Option<String>,
}

/// A repository (or one of its worktrees), addressed by directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
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
    pub async fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> GitResult<Output> {
        tracing::debug!(dir = %self.dir.display(), args = %join_args(args), "git");
        self.command(args).output().await.map_err(GitError::Spawn)
    }

    /// Runs git, fails on a non-zero exit, and returns stdout without the trailing newline.
    pub async fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> GitResult<String> {
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
    pub async fn version(&self) -> GitResult<(u32, u32)> {
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

    /// The commit a revision names, or `None` if it names none.
    pub async fn resolve(&self, revision: &str) -> GitResult<Option<String>> {
        let spec = format!("{revision}^{{commit}}");
        let output = self
            .output(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .await?;
        if output.status.success() {
            Ok(Some(
                String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            ))
        } else {
            Ok(None)
        }
    }

    /// The tip of a local branch, or `None` if there is no such branch.
    pub async fn branch_tip(&self, branch: &str) -> GitResult<Option<String>> {
        self.resolve(&format!("refs/heads/{branch}")).await
    }

    /// Every local branch and its tip.
    pub async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>> {
        let out = self
            .run(&[
                "for-each-ref",
                "--format=%(objectname) %(refname:short)",
                "refs/heads/",
            ])
            .await?;
        Ok(out
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(sha, name)| (name.to_owned(), sha.to_owned()))
            .collect())
    }

    /// The tips of the local branches that are reachable from `commit` (merged into it), in one
    /// process.
    pub async fn branch_tips_merged_into(&self, commit: &str) -> GitResult<BTreeSet<String>> {
        let merged = format!("--merged={commit}");
        let out = self
            .run(&[
                "for-each-ref",
                "--format=%(objectname)",
                &merged,
                "refs/heads/",
            ])
            .await?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    /// The committer time, in seconds since the epoch, of each of `commits`, in one process.
    pub async fn committer_times(&self, commits: &[&str]) -> GitResult<BTreeMap<String, i64>> {
        if commits.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut args = vec![
            "log",
            "--no-walk=unsorted",
            "--format=%H %ct",
            "--end-of-options",
        ];
        args.extend(commits);
        let out = self.run(&args).await?;
        out.lines()
            .map(|line| {
                line.split_once(' ')
                    .and_then(|(sha, seconds)| Some((sha.to_owned(), seconds.parse().ok()?)))
                    .ok_or_else(|| GitError::Unparsable {
                        args: args.join(" "),
                        output: line.to_owned(),
                    })
            })
            .collect()
    }

    /// The branch HEAD points at, `None` when detached.
    pub async fn current_branch(&self) -> GitResult<Option<String>> {
        let output = self
            .output(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// Whether `name` is acceptable as a branch name.
    pub async fn is_valid_branch_name(&self, name: &str) -> GitResult<bool> {
        let output = self.output(&["check-ref-format", "--branch", name]).await?;
        Ok(output.status.success())
    }

    /// When `revision`'s commit was made, in seconds since the epoch.
    pub async fn commit_time(&self, revision: &str) -> GitResult<i64> {
        let text = self
            .run(&["log", "-1", "--format=%ct", "--end-of-options", revision])
            .await?;
        text.parse().map_err(|_| GitError::Unparsable {
            args: format!("log -1 --format=%ct {revision}"),
            output: text,
        })
    }

    /// Whether `ancestor` is reachable from `descendant`.
    pub async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> GitResult<bool> {
        let output = self
            .output(&["merge-base", "--is-ancestor", ancestor, descendant])
            .await?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failure(
                &["merge-base", "--is-ancestor", ancestor, descendant],
                &output,
            )),
        }
    }

    /// Merges two commits in memory, touching no working tree or index.
    pub async fn trial_merge(&self, ours: &str, theirs: &str) -> GitResult<TrialMerge> {
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ];
        let output = self.output(&args).await?;
        parse_merge(&output).ok_or_else(|| self.failure(&args, &output))
    }

    /// Merges `theirs` into `ours` in memory against an explicit merge base. `ours` and
    /// `theirs` may be trees, so a chain of merges needs no commit per step.
    pub async fn trial_merge_onto(
        &self,
        base: &str,
        ours: &str,
        theirs: &str,
    ) -> GitResult<TrialMerge> {
        let merge_base = format!("--merge-base={base}");
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            &merge_base,
            ours,
            theirs,
        ];
        let output = self.output(&args).await?;
        parse_merge(&output).ok_or_else(|| self.failure(&args, &output))
    }

    /// The merge base of `base` and each of `heads`, found for all of them by one history walk:
    /// a head whose commits meet `base`'s history at exactly one commit has that commit as its
    /// merge base; `None` for a head that meets it at several (or is already in it).
    pub async fn merge_bases(&self, base: &str, heads: &[&str]) -> GitResult<Vec<Option<String>>> {
        let exclude = format!("^{base}");
        let mut args = vec!["log", "--boundary", "--format=%m %H %P", &exclude];
        args.extend(heads);
        let walk = self.run(&args).await?;
        Ok(single_boundaries(&walk, heads))
    }

    /// The best common ancestor of two commits, `None` when they share no history.
    pub async fn merge_base(&self, a: &str, b: &str) -> GitResult<Option<String>> {
        let args = ["merge-base", a, b];
        let output = self.output(&args).await?;
        match output.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            )),
            Some(1) if output.stderr.is_empty() => Ok(None),
            _ => Err(self.failure(&args, &output)),
        }
    }

    /// Runs many trial merges in one `git merge-tree --stdin` process, answers in input order.
    /// Each merge is independent: use it when every one is known in advance.
    pub async fn trial_merges(&self, merges: &[MergeSpec<'_>]) -> GitResult<Vec<TrialMerge>> {
        use tokio::io::AsyncWriteExt;
        let args = [
            "merge-tree",
            "--stdin",
            "--write-tree",
            "--name-only",
            "--no-messages",
        ];
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let input: String = merges
            .iter()
            .map(|merge| match merge.base {
                Some(base) => format!("{base} -- {} {}\n", merge.ours, merge.theirs),
                None => format!("{} {}\n", merge.ours, merge.theirs),
            })
            .collect();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = async move {
            stdin.write_all(input.as_bytes()).await?;
            stdin.shutdown().await
        };
        let (written, output) = tokio::join!(writer, child.wait_with_output());
        let output = output.map_err(GitError::Spawn)?;
        if !output.status.success() {
            return Err(self.failure(&args, &output));
        }
        written.map_err(GitError::Spawn)?;
        let text = String::from_utf8_lossy(&output.stdout);
        parse_batched_merges(&text, merges.len()).ok_or_else(|| GitError::Unparsable {
            args: join_args(&args),
            output: text.into_owned(),
        })
    }

    /// Writes a commit object with Clambake as author and committer, dated `at`, so the same
    /// merge written twice is the same commit.
    pub async fn commit_tree_at(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: jiff::Timestamp,
    ) -> GitResult<String> {
        let mut args: Vec<&str> = vec!["commit-tree", tree];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        args.extend(["-m", message]);
        let date = format!("@{} +0000", at.as_second());
        let output = self
            .command(&args)
            .env("GIT_AUTHOR_NAME", CLAMBAKE_NAME)
            .env("GIT_AUTHOR_EMAIL", CLAMBAKE_EMAIL)
            .env("GIT_COMMITTER_NAME", CLAMBAKE_NAME)
            .env("GIT_COMMITTER_EMAIL", CLAMBAKE_EMAIL)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .await
            .map_err(GitError::Spawn)?;
        self.check(&args, output)
    }

    /// Writes a commit object with Clambake as author and committer.
    pub async fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> GitResult<String> {
        let mut args: Vec<&str> = vec!["commit-tree", tree];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        args.extend(["-m", message]);
        let output = self
            .command(&args)
            .env("GIT_AUTHOR_NAME", CLAMBAKE_NAME)
            .env("GIT_AUTHOR_EMAIL", CLAMBAKE_EMAIL)
            .env("GIT_COMMITTER_NAME", CLAMBAKE_NAME)
            .env("GIT_COMMITTER_EMAIL", CLAMBAKE_EMAIL)
            .output()
            .await
            .map_err(GitError::Spawn)?;
        self.check(&args, output)
    }

    /// Moves `reference` from `old` to `new` only if it still points at `old` (compare and swap).
    /// `old: None` requires that the reference does not exist yet. Returns false if it moved.
    pub async fn compare_and_swap_ref(
        &self,
        reference: &str,
        new: &str,
        old: Option<&str>,
        reason: &str,
    ) -> GitResult<bool> {
        const ABSENT: &str = "0000000000000000000000000000000000000000";
        let args = [
            "update-ref",
            "-m",
            reason,
            reference,
            new,
            old.unwrap_or(ABSENT),
        ];
        let output = self.output(&args).await?;
        if output.status.success() {
            return Ok(true);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("but expected")
            || stderr.contains("reference already exists")
            || stderr.contains("cannot lock ref")
        {
            Ok(false)
        } else {
            Err(self.failure(&args, &output))
        }
    }

    /// The worktrees of this repository, the main one first.
    /// A worktree being added by another process has half-written metadata for a moment, and
    /// the listing fails on it; it is asked again a few times before the failure counts.
    pub async fn worktrees(&self) -> GitResult<Vec<Worktree>> {
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
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let version = text.trim().strip_prefix("git version ")?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Reads one `merge-tree --write-tree --name-only` answer; `None` if git failed outright.
fn parse_merge(output: &Output) -> Option<TrialMerge> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    match output.status.code() {
        Some(0) => Some(TrialMerge::Clean(
            lines.next().unwrap_or_default().to_owned(),
        )),
        Some(1) => Some(TrialMerge::Conflict(
            lines
                .skip(1)
                .take_while(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        _ => None,
    }
}

/// Reads `log --boundary --format="%m %H %P"`: for each head, the boundary commits its own
/// commits lead to; the merge base when there is exactly one.
fn single_boundaries(walk: &str, heads: &[&str]) -> Vec<Option<String>> {
    let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut boundary: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for line in walk.lines() {
        let mut fields = line.split(' ');
        let (Some(mark), Some(commit)) = (fields.next(), fields.next()) else {
            continue;
        };
        if mark == "-" {
            boundary.insert(commit);
        } else {
            parents.insert(commit, fields.collect());
        }
    }
    heads
        .iter()
        .map(|head| {
            let mut met: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
            let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
            let mut stack = vec![*head];
            while let Some(commit) = stack.pop() {
                if !seen.insert(commit) {
                    continue;
                }
                if boundary.contains(commit) {
                    met.insert(commit);
                } else if let Some(up) = parents.get(commit) {
                    stack.extend(up.iter().copied());
                }
            }
            let mut met = met.into_iter();
            match (met.next(), met.next()) {
                (Some(only), None) => Some(only.to_owned()),
                _ => None,
            }
        })
        .collect()
}

/// Reads `merge-tree --stdin -z --name-only` output: per merge, `status NUL tree NUL`, then
/// (when conflicted) the paths, each `NUL`-ended, then an empty field.
fn parse_batched_merges(output: &str, expected: usize) -> Option<Vec<TrialMerge>> {
    let mut fields = output.split('\0');
    let mut merges = Vec::with_capacity(expected);
    for _ in 0..expected {
        let clean = match fields.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let tree = fields.next()?.to_owned();
        let mut paths: Vec<String> = Vec::new();
        for path in fields.by_ref() {
            if path.is_empty() {
                break;
            }
            if !paths.iter().any(|p| p == path) {
                paths.push(path.to_owned());
            }
        }
        merges.push(if clean {
            TrialMerge::Clean(tree)
        } else {
            TrialMerge::Conflict(paths)
        });
    }
    Some(merges)
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
    fn versions_parse() {
        assert_eq!(parse_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(
            parse_version("git version 2.39.3 (Apple Git-146)"),
            Some((2, 39))
        );
        assert_eq!(parse_version("git version 2.45.windows.1"), Some((2, 45)));
        assert_eq!(parse_version("hg 6.0"), None);
    }

    #[test]
    fn batched_merge_output_parses() {
        let output = ["0", "t1", "f", "g", "", "1", "t2", ""].join("\0");
        assert_eq!(
            parse_batched_merges(&output, 2),
            Some(vec![
                TrialMerge::Conflict(vec!["f".to_owned(), "g".to_owned()]),
                TrialMerge::Clean("t2".to_owned()),
            ])
        );
        assert_eq!(parse_batched_merges(&output, 3), None);
        assert_eq!(parse_batched_merges("x\0t\0\0", 1), None);
    }

    #[test]
    fn merge_bases_come_from_the_boundary_each_head_reaches() {
        let walk = "> h1 a1\n> a1 b1\n> h2 b2\n> h3 m3\n> m3 b1 b2\n- b1 x\n- b2 y";
        assert_eq!(
            single_boundaries(walk, &["h1", "h2", "h3"]),
            vec![Some("b1".to_owned()), Some("b2".to_owned()), None]
        );
        assert_eq!(single_boundaries("", &["in-base"]), vec![None]);
    }

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
