//! [`MergeEngine`] on the `git` command line: `merge-tree --write-tree` merges in memory,
//! `commit-tree` writes the commits that record them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{CLAMBAKE_EMAIL, CLAMBAKE_NAME, Git, join_args};
use crate::ports::git::{GitError, GitResult, MergeEngine, MergeSpec, TrialMerge};

#[async_trait]
impl MergeEngine for Git {
    async fn trial_merge(&self, ours: &str, theirs: &str) -> GitResult<TrialMerge> {
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

    async fn trial_merge_onto(
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

    async fn merge_bases(&self, base: &str, heads: &[&str]) -> GitResult<Vec<Option<String>>> {
        let exclude = format!("^{base}");
        let mut args = vec!["log", "--boundary", "--format=%m %H %P", &exclude];
        args.extend(heads);
        let walk = self.run(&args).await?;
        Ok(single_boundaries(&walk, heads))
    }

    async fn merge_base(&self, a: &str, b: &str) -> GitResult<Option<String>> {
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

    async fn trial_merges(&self, merges: &[MergeSpec<'_>]) -> GitResult<Vec<TrialMerge>> {
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

    async fn write_commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: Timestamp,
    ) -> GitResult<String> {
        self.commit_as_clambake(tree, parents, message, Some(at))
            .await
    }

    async fn empty_tree(&self) -> GitResult<String> {
        // With nothing on its standard input, `mktree` writes the tree of no entries.
        self.run(&["mktree"]).await
    }
}

impl Git {
    /// Writes a commit object with Clambake as author and committer, dated now.
    pub async fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> GitResult<String> {
        self.commit_as_clambake(tree, parents, message, None).await
    }

    async fn commit_as_clambake(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: Option<Timestamp>,
    ) -> GitResult<String> {
        let mut args: Vec<&str> = vec!["commit-tree", tree];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        args.extend(["-m", message]);
        let mut command = self.command(&args);
        command
            .env("GIT_AUTHOR_NAME", CLAMBAKE_NAME)
            .env("GIT_AUTHOR_EMAIL", CLAMBAKE_EMAIL)
            .env("GIT_COMMITTER_NAME", CLAMBAKE_NAME)
            .env("GIT_COMMITTER_EMAIL", CLAMBAKE_EMAIL);
        if let Some(at) = at {
            let date = format!("@{} +0000", at.as_second());
            command
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date);
        }
        let output = command.output().await.map_err(GitError::Spawn)?;
        self.check(&args, output)
    }
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
    let mut boundary: BTreeSet<&str> = BTreeSet::new();
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
            let mut met: BTreeSet<&str> = BTreeSet::new();
            let mut seen: BTreeSet<&str> = BTreeSet::new();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
