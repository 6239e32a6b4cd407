//! [`Refs`] on the `git` command line: `rev-parse`, `for-each-ref`, `update-ref`, `log`.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use jiff::Timestamp;

use super::Git;
use crate::ports::git::{BranchDeletion, GitError, GitResult, Refs, SurveyedRef};

/// What `update-ref` says when the reference was not where it was expected.
const CAS_LOST: [&str; 3] = [
    "but expected",
    "reference already exists",
    "cannot lock ref",
];

#[async_trait]
impl Refs for Git {
    async fn resolve(&self, revision: &str) -> GitResult<Option<String>> {
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

    async fn branch_tip(&self, branch: &str) -> GitResult<Option<String>> {
        self.resolve(&format!("refs/heads/{branch}")).await
    }

    async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>> {
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

    async fn branch_tips_merged_into(&self, commit: &str) -> GitResult<BTreeSet<String>> {
        let merged = format!("--merged={commit}");
        let out = self
            .run(&[
                "for-each-ref",
                "--format=%(objectname)",
                &merged,
                "refs/heads/",
                "refs/remotes/",
            ])
            .await?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    async fn committer_times(&self, commits: &[&str]) -> GitResult<BTreeMap<String, i64>> {
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

    async fn commit_time(&self, revision: &str) -> GitResult<i64> {
        let text = self
            .run(&["log", "-1", "--format=%ct", "--end-of-options", revision])
            .await?;
        text.parse().map_err(|_| GitError::Unparsable {
            args: format!("log -1 --format=%ct {revision}"),
            output: text,
        })
    }

    async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> GitResult<bool> {
        let args = ["merge-base", "--is-ancestor", ancestor, descendant];
        let output = self.output(&args).await?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failure(&args, &output)),
        }
    }

    async fn commits_ahead(&self, branch: &str, of: &str) -> GitResult<u32> {
        let range = format!("{of}..refs/heads/{branch}");
        let count = self.run(&["rev-list", "--count", &range]).await?;
        count.parse().map_err(|_| GitError::Unparsable {
            args: format!("rev-list --count {range}"),
            output: count,
        })
    }

    async fn survey(&self, against: &str, prefixes: &[&str]) -> GitResult<Vec<SurveyedRef>> {
        let format = format!(
            "--format=%(refname) %(objectname) %(ahead-behind:{against}) %(committerdate:unix)"
        );
        let mut args = vec!["for-each-ref", format.as_str()];
        args.extend(prefixes);
        let out = self.run(&args).await?;
        out.lines()
            .map(|line| {
                parse_surveyed(line).ok_or_else(|| GitError::Unparsable {
                    args: args.join(" "),
                    output: line.to_owned(),
                })
            })
            .collect()
    }

    async fn compare_and_swap_ref(
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
        if CAS_LOST.iter().any(|lost| stderr.contains(lost)) {
            Ok(false)
        } else {
            Err(self.failure(&args, &output))
        }
    }

    async fn create_branch(&self, branch: &str, start: &str) -> GitResult<()> {
        self.run(&["branch", "--no-track", branch, start])
            .await
            .map(drop)
    }

    async fn archive(&self, branch: &str, tip: &str) -> GitResult<Option<String>> {
        self.keep_archived(branch, tip).await
    }

    async fn delete_branch(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion> {
        self.delete_guarded(branch, expected_tip, base).await
    }
}

impl Git {
    /// Every reference under `prefix` with its tip.
    pub async fn ref_tips(&self, prefix: &str) -> GitResult<BTreeMap<String, String>> {
        let out = self
            .run(&["for-each-ref", "--format=%(refname) %(objectname)", prefix])
            .await?;
        Ok(out
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, sha)| (name.to_owned(), sha.to_owned()))
            .collect())
    }

    /// The whole message of `commit`.
    pub async fn message(&self, commit: &str) -> GitResult<String> {
        self.run(&["log", "-1", "--format=%B", "--end-of-options", commit])
            .await
    }
}

/// Reads one `%(refname) %(objectname) %(ahead-behind:...) %(committerdate:unix)` line.
fn parse_surveyed(line: &str) -> Option<SurveyedRef> {
    let mut fields = line.split(' ');
    let name = fields.next()?.to_owned();
    let tip = fields.next()?.to_owned();
    let commits_ahead = fields.next()?.parse().ok()?;
    let _behind = fields.next()?;
    let seconds: i64 = fields.next()?.parse().ok()?;
    Some(SurveyedRef {
        name,
        tip,
        commits_ahead,
        committed_at: Timestamp::from_second(seconds).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_each_ref_lines_parse() {
        let line = "refs/heads/agent001/12-fix abc 3 0 1763700000";
        let parsed = parse_surveyed(line).unwrap();
        assert_eq!(parsed.name, "refs/heads/agent001/12-fix");
        assert_eq!(parsed.commits_ahead, 3);
        assert_eq!(parsed.committed_at.as_second(), 1_763_700_000);
        assert!(parse_surveyed("refs/heads/x abc").is_none());
    }
}
