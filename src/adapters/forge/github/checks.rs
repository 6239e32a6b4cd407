//! [`CommitChecks`] by GitHub's CI: a commit is pushed as the branch `clambake/checks/<name>`
//! so that the repository's workflows run on it, and its check runs and combined status are
//! read back through the forge's client (limits and spacing shared; a poll of an unchanged
//! commit is a free `304`), judged by `core::checks::ci`. What was asked is kept under
//! `.clambake/checks/forge/`, so that any process follows it, and its branch goes once the
//! verdict is final.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::errors::{Subject, refusal};
use super::http::{Http, Request};
use super::listing::PER_PAGE_TEXT;
use crate::core::branches::refname::validate_branch_name;
use crate::core::checks::ci::{
    CHECKS_BRANCH_PREFIX, CheckRunReport, CiVerdict, StatusReport, judge, silent_summary,
};
use crate::ports::Clock;
use crate::ports::checks::{CheckFailure, ChecksError, CommitCheckState, CommitChecks};
use crate::ports::forge::ForgeError;
use crate::ports::git::Remote;

/// The most pages of check runs or statuses read for one commit.
const MAX_PAGES: usize = 10;

/// A commit's checks on GitHub's CI.
pub struct GithubChecks {
    http: Arc<Http>,
    repo: super::RepoUrls,
    clock: Arc<dyn Clock>,
    remote: Arc<dyn Remote>,
    /// The branch Clambake's work lands on, which a deletion never touches.
    base: String,
    dir: PathBuf,
    timeout: Duration,
    /// Each listing's first page as last read, while it was the only one: asked again with
    /// its `ETag`, an unchanged commit costs a `304`.
    known: Mutex<HashMap<String, (String, serde_json::Value)>>,
}

/// What was asked for a commit, and, once final, its verdict.
#[derive(Debug, Serialize, Deserialize)]
struct Asked {
    branch: String,
    requested_at: Timestamp,
    /// Once final: `None` passed, `Some` failed so.
    verdict: Option<Option<Failure>>,
    /// Whether its branch is gone.
    deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Failure {
    summary: String,
    details: Option<String>,
    tail: String,
}

#[derive(Debug, Deserialize)]
struct WireCheckRun {
    name: String,
    status: String,
    conclusion: Option<String>,
    html_url: Option<String>,
    details_url: Option<String>,
    #[serde(default)]
    output: WireOutput,
}

#[derive(Debug, Default, Deserialize)]
struct WireOutput {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireStatus {
    context: String,
    state: String,
    description: Option<String>,
    target_url: Option<String>,
}

impl From<WireCheckRun> for CheckRunReport {
    fn from(run: WireCheckRun) -> Self {
        let output = [run.output.title, run.output.summary, run.output.text]
            .into_iter()
            .flatten()
            .filter(|part| !part.trim().is_empty())
            .collect();
        Self {
            name: run.name,
            status: run.status,
            conclusion: run.conclusion,
            link: run.html_url.or(run.details_url),
            output,
        }
    }
}

impl From<WireStatus> for StatusReport {
    fn from(status: WireStatus) -> Self {
        Self {
            context: status.context,
            state: status.state,
            description: status.description,
            target_url: status.target_url,
        }
    }
}

fn io(path: &Path, error: impl std::fmt::Display) -> ChecksError {
    ChecksError::Io(format!("{}: {error}", path.display()))
}

/// A full commit id, lower case: it names files.
fn commit_id(commit: &str) -> Result<String, ChecksError> {
    if commit.len() >= 40 && commit.len() <= 64 && commit.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(commit.to_ascii_lowercase())
    } else {
        Err(ChecksError::Io(format!(
            "`{commit}` is not a full commit id"
        )))
    }
}

impl GithubChecks {
    pub(super) fn new(
        http: Arc<Http>,
        repo: super::RepoUrls,
        clock: Arc<dyn Clock>,
        settings: ChecksSettings,
    ) -> Self {
        Self {
            http,
            repo,
            clock,
            remote: settings.remote,
            base: settings.base,
            dir: settings.state_dir.join("checks").join("forge"),
            timeout: settings.timeout,
            known: Mutex::default(),
        }
    }

    fn asked_path(&self, commit: &str) -> PathBuf {
        self.dir.join(format!("{commit}.json"))
    }

    fn asked(&self, commit: &str) -> Result<Option<Asked>, ChecksError> {
        let path = self.asked_path(commit);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| io(&path, e)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io(&path, error)),
        }
    }

    fn keep(&self, commit: &str, asked: &Asked) -> Result<(), ChecksError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.asked_path(commit);
        let text = serde_json::to_string_pretty(asked).map_err(|e| io(&path, e))?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| io(&path, e))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| io(&path, e))?;
        file.persist(&path).map_err(|e| io(&path, e.error))?;
        Ok(())
    }

    /// Pushes `commit` as `branch`, wherever the branch was: the same name asked for again
    /// (a bundle rebuilt) moves it, with a lease on where it was.
    async fn push(&self, branch: &str, commit: &str) -> Result<(), ChecksError> {
        let reason = "clambake: checks";
        if self.remote.publish(branch, commit, None, reason).await? {
            return Ok(());
        }
        match self.remote.tip(branch).await? {
            Some(tip) if tip == commit => Ok(()),
            Some(tip)
                if self
                    .remote
                    .publish(branch, commit, Some(&tip), reason)
                    .await? =>
            {
                Ok(())
            }
            _ => Err(ChecksError::Io(format!(
                "`{branch}` moved on the remote while {commit} was pushed to it; asked again, \
                 it is pushed then"
            ))),
        }
    }

    /// The JSON of every page of the listing at `segments`, its array under `key`; one page
    /// read before is asked for with its `ETag`. `None`: GitHub knows no such commit.
    async fn listing<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        key: &str,
    ) -> Result<Option<Vec<T>>, ChecksError> {
        let first = self.repo.url(segments, &[("per_page", PER_PAGE_TEXT)]);
        let known = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&first)
            .cloned();
        let mut items = Vec::new();
        let mut url = Some(first.clone());
        for page in 0..MAX_PAGES {
            let Some(this) = url.take() else { break };
            let mut request = Request::get(this);
            if page == 0 {
                request.if_none_match = known.as_ref().map(|(etag, _)| etag.clone());
            }
            let reply = self.http.send(&request).await?;
            let body: serde_json::Value = match reply.status {
                StatusCode::NOT_MODIFIED if page == 0 => match &known {
                    Some((_, body)) => body.clone(),
                    None => return Err(unexpected_304(&first)),
                },
                StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => return Ok(None),
                status if status.is_success() => reply.json()?,
                _ => return Err(refusal(&reply, Subject::Repository).into()),
            };
            url = reply.next_page();
            if page == 0
                && url.is_none()
                && let Some(etag) = reply.etag()
            {
                self.known
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(first.clone(), (etag, body.clone()));
            }
            let page_items: Vec<T> = serde_json::from_value(body[key].clone()).map_err(|e| {
                ForgeError::Backend(format!("GitHub answered with an unexpected shape: {e}"))
            })?;
            items.extend(page_items);
        }
        Ok(Some(items))
    }

    /// What GitHub's CI reports on `commit` now.
    async fn verdict(&self, commit: &str) -> Result<CiVerdict, ChecksError> {
        let runs: Vec<WireCheckRun> = self
            .listing(&["commits", commit, "check-runs"], "check_runs")
            .await?
            .unwrap_or_default();
        let statuses: Vec<WireStatus> = self
            .listing(&["commits", commit, "status"], "statuses")
            .await?
            .unwrap_or_default();
        let runs: Vec<CheckRunReport> = runs.into_iter().map(Into::into).collect();
        let statuses: Vec<StatusReport> = statuses.into_iter().map(Into::into).collect();
        Ok(judge(&runs, &statuses))
    }

    /// Deletes the branch of a final verdict (once; a moved branch is someone else's now).
    async fn settle(&self, commit: &str, mut asked: Asked) -> Result<(), ChecksError> {
        if asked.deleted {
            return Ok(());
        }
        self.remote
            .delete_branch(&asked.branch, commit, &self.base)
            .await?;
        asked.deleted = true;
        self.keep(commit, &asked)
    }
}

fn unexpected_304(url: &str) -> ChecksError {
    ForgeError::Backend(format!(
        "GitHub answered an unconditional request for {url} with 304"
    ))
    .into()
}

fn state_of(verdict: &Option<Failure>) -> CommitCheckState {
    match verdict {
        None => CommitCheckState::Passed,
        Some(failure) => CommitCheckState::Failed(CheckFailure {
            summary: failure.summary.clone(),
            details: failure.details.clone(),
            tail: failure.tail.clone(),
        }),
    }
}

/// What [`GithubChecks`] works with beside the forge's client.
pub struct ChecksSettings {
    /// The git remote the forge sees branches on.
    pub remote: Arc<dyn Remote>,
    pub base: String,
    /// `.clambake/`.
    pub state_dir: PathBuf,
    /// `checks.timeout_minutes`: how long CI may stay silent after a push.
    pub timeout: Duration,
}

#[async_trait]
impl CommitChecks for GithubChecks {
    async fn request(&self, commit: &str, name: &str) -> Result<(), ChecksError> {
        let commit = commit_id(commit)?;
        if self.asked(&commit)?.is_some() {
            return Ok(());
        }
        let branch = format!("{CHECKS_BRANCH_PREFIX}{name}");
        validate_branch_name(&branch)
            .map_err(|error| ChecksError::Io(format!("`{branch}`: {error}")))?;
        self.push(&branch, &commit).await?;
        self.keep(
            &commit,
            &Asked {
                branch,
                requested_at: self.clock.now(),
                verdict: None,
                deleted: false,
            },
        )
    }

    async fn state(&self, commit: &str) -> Result<CommitCheckState, ChecksError> {
        let commit = commit_id(commit)?;
        let asked = self.asked(&commit)?;
        if let Some(asked) = asked {
            if let Some(verdict) = &asked.verdict {
                let state = state_of(verdict);
                self.settle(&commit, asked).await?;
                return Ok(state);
            }
            let verdict = match self.verdict(&commit).await? {
                CiVerdict::Pending => return Ok(CommitCheckState::Pending),
                CiVerdict::Silent => {
                    let silent_for = self.clock.now().duration_since(asked.requested_at);
                    if silent_for.as_secs() < self.timeout.as_secs() as i64 {
                        return Ok(CommitCheckState::Pending);
                    }
                    let minutes = u32::try_from(self.timeout.as_secs() / 60).unwrap_or(u32::MAX);
                    Some(Failure {
                        summary: silent_summary(&asked.branch, minutes),
                        details: None,
                        tail: String::new(),
                    })
                }
                CiVerdict::Passed => None,
                CiVerdict::Failed(failure) => Some(Failure {
                    summary: failure.summary,
                    details: failure.details,
                    tail: failure.tail,
                }),
            };
            let state = state_of(&verdict);
            self.settle(
                &commit,
                Asked {
                    verdict: Some(verdict),
                    ..asked
                },
            )
            .await?;
            return Ok(state);
        }
        // Asked for elsewhere, or never: what CI says, if it says anything.
        Ok(match self.verdict(&commit).await? {
            CiVerdict::Silent => CommitCheckState::NotStarted,
            CiVerdict::Pending => CommitCheckState::Pending,
            CiVerdict::Passed => CommitCheckState::Passed,
            CiVerdict::Failed(failure) => CommitCheckState::Failed(CheckFailure {
                summary: failure.summary,
                details: failure.details,
                tail: failure.tail,
            }),
        })
    }
}
