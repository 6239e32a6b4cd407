//! The remote of a forge elsewhere: the git remote `origin`, which branches travel to with
//! `git push --force-with-lease` and come back from with `git fetch`. A token for an https
//! remote reaches git through its environment (`GIT_CONFIG_COUNT`, an `http.<url>.extraHeader`),
//! never its command line.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::process::Output;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::branch_deletion::{refusal, settle_before_deletion};
use super::{Git, join_args};
use crate::ports::git::{BranchDeletion, Fetched, GitError, GitResult, Refs, Remote};

/// The remote Clambake publishes to and fetches from.
pub const ORIGIN: &str = "origin";

/// Where [`Remote::fetch_refs`] keeps the remote's references outside `refs/heads/`, by their
/// name on the remote without `refs/`: a namespace of its own, so that fetching (and pruning)
/// never touches this repository's own references.
const FETCHED: &str = "refs/clambake/fetched/";

/// An `Authorization` header for git's requests to one https host, kept out of `Debug`.
#[derive(Clone)]
pub struct HttpAuth {
    /// `https://HOST/`: the header goes to that host's https URLs only.
    url: String,
    header: String,
}

impl HttpAuth {
    /// A token as GitHub takes it over https: basic auth as `x-access-token`.
    pub fn github_token(host: &str, token: &str) -> Self {
        let credentials = Self::github_credentials(token);
        Self {
            url: format!("https://{host}/"),
            header: format!("AUTHORIZATION: basic {credentials}"),
        }
    }

    /// The credentials [`HttpAuth::github_token`] gives git for `token`: a form of the token
    /// that is as secret as the token, for the redactor to learn.
    pub fn github_credentials(token: &str) -> String {
        STANDARD.encode(format!("x-access-token:{token}"))
    }

    /// The variables that add the header to git's configuration, after any that the
    /// environment already gives with `GIT_CONFIG_COUNT`.
    fn environment(&self) -> Vec<(String, String)> {
        let given = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|count| count.trim().parse::<u32>().ok())
            .unwrap_or(0);
        vec![
            ("GIT_CONFIG_COUNT".to_owned(), (given + 1).to_string()),
            (
                format!("GIT_CONFIG_KEY_{given}"),
                format!("http.{}.extraheader", self.url),
            ),
            (format!("GIT_CONFIG_VALUE_{given}"), self.header.clone()),
        ]
    }
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuth")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `origin`, seen from the repository `git` works in.
#[derive(Debug, Clone)]
pub struct OriginRemote {
    git: Git,
    auth: Option<HttpAuth>,
}

/// How a push went.
#[derive(Debug, PartialEq, Eq)]
enum Pushed {
    /// Updated, created or deleted, or already there as the lease said.
    Done,
    /// The lease named where the branch no longer is (or, empty, it exists).
    StaleLease,
    /// Refused for another reason: git's summary says why.
    Refused(String),
}

/// How git's `push --porcelain` reported one reference.
#[derive(Debug, PartialEq, Eq)]
enum Reported {
    /// Updated, created or deleted.
    Done,
    /// Already there: git checks no lease then.
    UpToDate,
    StaleLease,
    Refused(String),
}

impl OriginRemote {
    pub fn new(git: Git, auth: Option<HttpAuth>) -> Self {
        Self { git, auth }
    }

    /// Runs git with the remote's credentials in its environment.
    async fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> GitResult<Output> {
        tracing::debug!(dir = %self.git.dir().display(), args = %join_args(args), "git");
        let mut command = self.git.command(args);
        if let Some(auth) = &self.auth {
            command.envs(auth.environment());
        }
        command.output().await.map_err(GitError::Spawn)
    }

    /// Pushes `source` (a commit, or nothing to delete) to the full `reference` while the
    /// remote's reference is at `lease` (`None`: absent).
    async fn push(&self, reference: &str, source: &str, lease: Option<&str>) -> GitResult<Pushed> {
        let lease_given = lease;
        let lease = format!("--force-with-lease={reference}:{}", lease.unwrap_or(""));
        let refspec = format!("{source}:{reference}");
        let args = ["push", "--porcelain", &lease, ORIGIN, &refspec];
        let output = self.output(&args).await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match parse_push(&stdout, reference) {
            // The lease held only if it named where the reference already was.
            Some(Reported::UpToDate) if output.status.success() => {
                Ok(if lease_given == Some(source) {
                    Pushed::Done
                } else {
                    Pushed::StaleLease
                })
            }
            Some(Reported::Done) if output.status.success() => Ok(Pushed::Done),
            Some(Reported::Done | Reported::UpToDate) | None => {
                Err(self.git.failure(&args, &output))
            }
            Some(Reported::StaleLease) => Ok(Pushed::StaleLease),
            Some(Reported::Refused(why)) => Ok(Pushed::Refused(why)),
        }
    }

    /// The remote's tip of `branch` as it is now (`git ls-remote`).
    async fn remote_tip(&self, branch: &str) -> GitResult<Option<String>> {
        let reference = format!("refs/heads/{branch}");
        let args = ["ls-remote", "--refs", ORIGIN, &reference];
        let output = self.output(&args).await?;
        let stdout = self.git.check(&args, output)?;
        Ok(stdout
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(_, name)| *name == reference)
            .map(|(sha, _)| sha.to_owned()))
    }

    /// Brings `branch`'s remote tip here, into its tracking reference.
    async fn fetch_branch(&self, branch: &str) -> GitResult<()> {
        let refspec = format!("+refs/heads/{branch}:{}", self.tracking_ref(branch));
        let args = ["fetch", "--quiet", "--no-tags", ORIGIN, &refspec];
        let output = self.output(&args).await?;
        self.git.check(&args, output).map(drop)
    }
}

#[async_trait]
impl Remote for OriginRemote {
    /// The remote keeps its own reflog: `reason` cannot travel with a push.
    async fn publish(
        &self,
        branch: &str,
        tip: &str,
        lease: Option<&str>,
        reason: &str,
    ) -> GitResult<bool> {
        let reference = format!("refs/heads/{branch}");
        self.publish_ref(&reference, tip, lease, reason).await
    }

    /// As [`Remote::publish`], for any reference.
    async fn publish_ref(
        &self,
        reference: &str,
        tip: &str,
        lease: Option<&str>,
        _reason: &str,
    ) -> GitResult<bool> {
        match self.push(reference, tip, lease).await? {
            Pushed::Done => Ok(true),
            Pushed::StaleLease => Ok(false),
            Pushed::Refused(why) => Err(GitError::Failed {
                args: format!("push {ORIGIN} {tip}:{reference}"),
                dir: self.git.dir().display().to_string(),
                code: None,
                stderr: why,
            }),
        }
    }

    async fn fetch(&self) -> GitResult<Fetched> {
        let refspec = format!("+refs/heads/*:refs/remotes/{ORIGIN}/*");
        let args = ["fetch", "--prune", "--quiet", "--no-tags", ORIGIN, &refspec];
        let output = self.output(&args).await?;
        self.git.check(&args, output)?;
        Ok(Fetched::Remote)
    }

    /// The tracking references `refs/remotes/origin/*`, but for `HEAD` (a clone's pointer to
    /// the default branch, no branch).
    async fn branch_tips(&self) -> GitResult<BTreeMap<String, String>> {
        let prefix = format!("refs/remotes/{ORIGIN}/");
        Ok(self
            .git
            .ref_tips(&prefix)
            .await?
            .into_iter()
            .filter_map(|(name, tip)| Some((name.strip_prefix(&prefix)?.to_owned(), tip)))
            .filter(|(branch, _)| branch != "HEAD")
            .collect())
    }

    /// Asks the remote, and fetches the tip when this repository lacks it, so that what it
    /// returns can be counted against here.
    async fn tip(&self, branch: &str) -> GitResult<Option<String>> {
        let Some(tip) = self.remote_tip(branch).await? else {
            return Ok(None);
        };
        let tracking = self.tracking_ref(branch);
        if self.git.resolve(&tracking).await?.as_deref() != Some(tip.as_str()) {
            self.fetch_branch(branch).await?;
        }
        Ok(Some(tip))
    }

    fn tracking_ref(&self, branch: &str) -> String {
        format!("refs/remotes/{ORIGIN}/{branch}")
    }

    /// The guarded deletion, on the remote: refuses the base and branches not Clambake's,
    /// archives here a tip the remote's base lacks, and deletes with a lease on `expected_tip`.
    async fn delete_branch(
        &self,
        branch: &str,
        expected_tip: &str,
        base: &str,
    ) -> GitResult<BranchDeletion> {
        let current = self.tip(branch).await?;
        if let Some(settled) = settle_before_deletion(branch, expected_tip, base, current)? {
            return Ok(settled);
        }
        let base_tip = self.tip(base).await?;
        let archived = self
            .git
            .archive_unless_in_base(branch, expected_tip, base_tip)
            .await?;
        let reference = format!("refs/heads/{branch}");
        match self.push(&reference, "", Some(expected_tip)).await? {
            Pushed::Done => Ok(BranchDeletion::Deleted { archived }),
            Pushed::StaleLease => match self.remote_tip(branch).await? {
                None => Ok(BranchDeletion::Absent),
                Some(found) => Ok(BranchDeletion::Moved { found }),
            },
            Pushed::Refused(why) => Err(refusal(branch, &format!("the remote refused: {why}"))),
        }
    }

    async fn fetch_refs(&self, prefix: &str) -> GitResult<BTreeMap<String, String>> {
        let Some(rest) = prefix.strip_prefix("refs/") else {
            return Err(GitError::Unparsable {
                args: format!("fetch {ORIGIN} {prefix}*"),
                output: "a prefix of references starts with refs/".to_owned(),
            });
        };
        let here = format!("{FETCHED}{rest}");
        let refspec = format!("+{prefix}*:{here}*");
        let args = ["fetch", "--prune", "--quiet", "--no-tags", ORIGIN, &refspec];
        let output = self.output(&args).await?;
        self.git.check(&args, output)?;
        Ok(self
            .git
            .ref_tips(&here)
            .await?
            .into_iter()
            .filter_map(|(name, tip)| Some((format!("refs/{}", name.strip_prefix(FETCHED)?), tip)))
            .collect())
    }

    async fn commit_message(&self, commit: &str) -> GitResult<String> {
        self.git.message(commit).await
    }
}

/// Reads the line of `git push --porcelain` for `reference`: `<flag>\t<from>:<to>\t<summary>`.
fn parse_push(stdout: &str, reference: &str) -> Option<Reported> {
    stdout.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let flag = fields.next()?;
        let (_, to) = fields.next()?.rsplit_once(':')?;
        let summary = fields.next().unwrap_or_default().trim();
        if to != reference {
            return None;
        }
        Some(match flag {
            " " | "+" | "-" | "*" => Reported::Done,
            "=" => Reported::UpToDate,
            _ if summary.contains("(stale info)") => Reported::StaleLease,
            // The remote found the reference moved (or being moved) by another push between
            // the lease's check and its update: the lease lost, as above.
            _ if summary == "[remote rejected] (failed to update ref)" => Reported::StaleLease,
            _ => Reported::Refused(summary.to_owned()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "refs/heads/agent001/1-x";

    #[test]
    fn pushes_done_are_read_from_their_flag() {
        for line in [
            "*\tabc:refs/heads/agent001/1-x\t[new branch]",
            "+\tabc:refs/heads/agent001/1-x\t0f79086...dd44712 (forced update)",
            " \tabc:refs/heads/agent001/1-x\t0f79086..dd44712",
            "-\t:refs/heads/agent001/1-x\t[deleted]",
        ] {
            let stdout = format!("To /srv/origin.git\n{line}\nDone\n");
            assert_eq!(
                parse_push(&stdout, REFERENCE),
                Some(Reported::Done),
                "{line}"
            );
        }
        let same = "=\tabc:refs/heads/agent001/1-x\t[up to date]";
        assert_eq!(parse_push(same, REFERENCE), Some(Reported::UpToDate));
    }

    #[test]
    fn a_stale_lease_is_told_from_other_refusals() {
        let stale = "To x\n!\tabc:refs/heads/agent001/1-x\t[rejected] (stale info)\nDone\n";
        assert_eq!(parse_push(stale, REFERENCE), Some(Reported::StaleLease));
        let deletion = "To x\n!\t(delete):refs/heads/agent001/1-x\t[rejected] (stale info)\n";
        assert_eq!(parse_push(deletion, REFERENCE), Some(Reported::StaleLease));
        let raced = "!\tabc:refs/heads/agent001/1-x\t[remote rejected] (failed to update ref)";
        assert_eq!(parse_push(raced, REFERENCE), Some(Reported::StaleLease));
        let hook =
            "!\tabc:refs/heads/agent001/1-x\t[remote rejected] (protected branch hook declined)";
        assert_eq!(
            parse_push(hook, REFERENCE),
            Some(Reported::Refused(
                "[remote rejected] (protected branch hook declined)".to_owned()
            ))
        );
        assert_eq!(
            parse_push("*\tabc:refs/heads/other\t[new branch]", REFERENCE),
            None
        );
        assert_eq!(
            parse_push("error: src refspec nope does not match any", REFERENCE),
            None
        );
    }

    #[test]
    fn the_header_is_basic_auth_for_one_https_host_and_not_debug_printed() {
        let auth = HttpAuth::github_token("github.com", "ghp_secret123");
        let env = auth.environment();
        let key = env
            .iter()
            .find(|(k, _)| k.starts_with("GIT_CONFIG_KEY_"))
            .unwrap();
        assert_eq!(key.1, "http.https://github.com/.extraheader");
        let value = env
            .iter()
            .find(|(k, _)| k.starts_with("GIT_CONFIG_VALUE_"))
            .unwrap();
        let encoded = value.1.strip_prefix("AUTHORIZATION: basic ").unwrap();
        assert_eq!(
            STANDARD.decode(encoded).unwrap(),
            b"x-access-token:ghp_secret123"
        );
        assert!(!format!("{auth:?}").contains("secret"), "{auth:?}");
        assert!(!format!("{auth:?}").contains(encoded), "{auth:?}");
    }

    #[test]
    fn git_sends_the_header_to_that_host_s_https_urls_only() {
        let auth = HttpAuth::github_token("ghe.example", "ghp_secret123");
        let header_for = |url: &str| {
            let output = std::process::Command::new("git")
                .args(["config", "--get-urlmatch", "http.extraheader", url])
                .envs(auth.environment())
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        assert!(
            header_for("https://ghe.example/octo/cat.git").starts_with("AUTHORIZATION: basic ")
        );
        assert_eq!(header_for("http://ghe.example/octo/cat.git"), "");
        assert_eq!(header_for("https://elsewhere.example/octo/cat.git"), "");
    }
}
