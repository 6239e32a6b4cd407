//! The `Actions` port over GitHub's REST API: through the forge's own `Http` (one per process,
//! so rate limits and the spacing of mutations are shared), reading runs and jobs, cancelling,
//! and fetching logs and artifacts from where the API redirects (see `archive`). Dispatching is
//! in `dispatch`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use serde::de::DeserializeOwned;

mod archive;
mod dispatch;
mod wire;

use archive::Downloads;
use dispatch::Unsettled;
use wire::{WireArtifacts, WireJobs, WireRun, WireRuns, WireWorkflow};

use super::errors::{Subject, refusal};
use super::http::{Http, Reply, Request};
use super::listing::{PER_PAGE, PER_PAGE_TEXT};
use crate::ports::Clock;
use crate::ports::actions::{
    Actions, ArtifactFile, Dispatch, Job, JobLog, RunId, RunStatus, Workflow, WorkflowRun,
};
use crate::ports::forge::{ForgeError, ForgeResult};

/// How long a dispatch looks for its run by its key when GitHub did not say which it started
/// (it creates the run a few seconds after answering), or when the answer was lost.
const RUN_LOOKUP: Duration = Duration::from_secs(30);
/// The most pages of runs or jobs read: runs are asked for a few at a time, and a run has few
/// jobs.
const MAX_PAGES: usize = 20;

/// GitHub Actions of one repository.
pub struct GithubActions {
    http: Arc<Http>,
    repo: super::RepoUrls,
    clock: Arc<dyn Clock>,
    downloads: Downloads,
    /// Dispatches whose outcome is unknown: their next attempt looks before it sends.
    unsettled: Unsettled,
    run_lookup: Duration,
}

impl GithubActions {
    pub(super) fn new(
        http: Arc<Http>,
        repo: super::RepoUrls,
        clock: Arc<dyn Clock>,
    ) -> ForgeResult<Self> {
        Ok(Self {
            http,
            repo,
            clock,
            downloads: Downloads::new()?,
            unsettled: Unsettled::default(),
            run_lookup: RUN_LOOKUP,
        })
    }

    /// Looks for a dispatch's run for `window` instead of the default half minute: for tests,
    /// whose fake GitHub creates runs at once.
    pub fn with_run_lookup(mut self, window: Duration) -> Self {
        self.run_lookup = window;
        self
    }

    fn workflow_url(&self, file: &str, tail: &[&str], query: &[(&str, &str)]) -> String {
        let mut segments = vec!["actions", "workflows", file];
        segments.extend_from_slice(tail);
        self.repo.url(&segments, query)
    }

    fn run_url(&self, id: RunId, tail: &[&str], query: &[(&str, &str)]) -> String {
        let id = id.to_string();
        let mut segments = vec!["actions", "runs", id.as_str()];
        segments.extend_from_slice(tail);
        self.repo.url(&segments, query)
    }

    /// What a run's missing logs archive means: the run has not completed yet, or its logs
    /// are gone.
    async fn not_yet(&self, id: RunId, what: &str) -> ForgeError {
        match self.run(id).await {
            Ok(run) if run.status != RunStatus::Completed => ForgeError::Conflict(format!(
                "workflow run {id} has not completed yet (it is {}): GitHub gives {what} once it \
                 has",
                run.status.as_str()
            )),
            Ok(_) => ForgeError::Backend(format!(
                "GitHub has no {what} of workflow run {id}: they are kept for a while only"
            )),
            Err(error) => error,
        }
    }
}

/// The reply if it is a success, else its error, a 404 meaning the workflow `file` is missing.
fn workflow_answer(reply: Reply, file: &str) -> ForgeResult<Reply> {
    match reply.status {
        status if status.is_success() => Ok(reply),
        StatusCode::NOT_FOUND => Err(ForgeError::NoWorkflow {
            file: file.to_owned(),
        }),
        _ => Err(refusal(&reply, Subject::Repository)),
    }
}

/// The reply if it is a success, else its error, a 404 meaning run `id` is missing.
fn run_answer(reply: Reply, id: RunId) -> ForgeResult<Reply> {
    match reply.status {
        status if status.is_success() => Ok(reply),
        StatusCode::NOT_FOUND => Err(ForgeError::NoRun { id }),
        _ => Err(refusal(&reply, Subject::Repository)),
    }
}

/// Up to `limit` items of the paged listing at `first` (whose query names `per_page`), each
/// page's items read by `items` from its answer.
async fn pages<T: DeserializeOwned>(
    http: &Http,
    first: String,
    limit: usize,
    items: impl Fn(Reply) -> ForgeResult<Vec<T>>,
) -> ForgeResult<Vec<T>> {
    let mut all = Vec::new();
    let mut url = Some(first);
    for _ in 0..MAX_PAGES {
        let Some(page) = url.take() else { break };
        let reply = http.send(&Request::get(page)).await?;
        url = reply.next_page();
        all.extend(items(reply)?);
        if all.len() >= limit {
            break;
        }
    }
    all.truncate(limit);
    Ok(all)
}

#[async_trait]
impl Actions for GithubActions {
    async fn workflow(&self, file: &str) -> ForgeResult<Workflow> {
        let url = self.workflow_url(file, &[], &[]);
        let reply = workflow_answer(self.http.send(&Request::get(url)).await?, file)?;
        Ok(reply.json::<WireWorkflow>()?.into())
    }

    async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
        self.dispatch_once(dispatch).await
    }

    async fn runs(&self, file: &str, limit: usize) -> ForgeResult<Vec<WorkflowRun>> {
        let per_page = limit.clamp(1, PER_PAGE).to_string();
        let first = self.workflow_url(file, &["runs"], &[("per_page", per_page.as_str())]);
        let runs = pages(&self.http, first, limit, |reply| {
            workflow_answer(reply, file)?
                .json::<WireRuns>()
                .map(|page| page.workflow_runs)
        })
        .await?;
        Ok(runs.into_iter().map(WorkflowRun::from).collect())
    }

    async fn run(&self, id: RunId) -> ForgeResult<WorkflowRun> {
        let reply = run_answer(
            self.http
                .send(&Request::get(self.run_url(id, &[], &[])))
                .await?,
            id,
        )?;
        Ok(reply.json::<WireRun>()?.into())
    }

    async fn jobs(&self, id: RunId) -> ForgeResult<Vec<Job>> {
        let first = self.run_url(id, &["jobs"], &[("per_page", PER_PAGE_TEXT)]);
        let jobs = pages(&self.http, first, usize::MAX, |reply| {
            run_answer(reply, id)?
                .json::<WireJobs>()
                .map(|page| page.jobs)
        })
        .await?;
        Ok(jobs.into_iter().map(Job::from).collect())
    }

    async fn logs(&self, id: RunId) -> ForgeResult<Vec<JobLog>> {
        let what = format!("the logs of workflow run {id}");
        let reply = self
            .http
            .send(&Request::get(self.run_url(id, &["logs"], &[])))
            .await?;
        match reply.status {
            StatusCode::FOUND | StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT => {}
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(self.not_yet(id, "its logs").await);
            }
            status if status.is_success() => {
                return Err(ForgeError::Backend(format!(
                    "GitHub answered {} for {what} instead of pointing at their archive",
                    status.as_u16()
                )));
            }
            _ => return Err(refusal(&reply, Subject::Repository)),
        }
        let bytes = self.downloads.follow(&reply, &what).await?;
        Ok(archive::job_logs(archive::unpack(&bytes, &what)?))
    }

    async fn cancel(&self, id: RunId) -> ForgeResult<()> {
        let request = Request::new(http::Method::POST, self.run_url(id, &["cancel"], &[]), None);
        let reply = self.http.send(&request).await?;
        match reply.status {
            // 409: the run is completed already, and stays as it ended.
            StatusCode::ACCEPTED | StatusCode::CONFLICT => Ok(()),
            _ => run_answer(reply, id).map(drop),
        }
    }

    async fn artifact(&self, id: RunId, name: &str) -> ForgeResult<Option<Vec<ArtifactFile>>> {
        let query = [("name", name), ("per_page", PER_PAGE_TEXT)];
        let first = self.run_url(id, &["artifacts"], &query);
        let artifacts = pages(&self.http, first, usize::MAX, |reply| {
            run_answer(reply, id)?
                .json::<WireArtifacts>()
                .map(|page| page.artifacts)
        })
        .await?;
        let Some(artifact) = artifacts
            .into_iter()
            .filter(|artifact| artifact.name == name && !artifact.expired)
            .max_by_key(|artifact| artifact.id)
        else {
            return Ok(None);
        };
        let what = format!("the artifact {name} of workflow run {id}");
        let reply = self
            .http
            .send(&Request::get(artifact.archive_download_url))
            .await?;
        match reply.status {
            StatusCode::FOUND | StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT => {}
            // It expired since it was listed.
            StatusCode::GONE | StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(refusal(&reply, Subject::Repository)),
        }
        let bytes = self.downloads.follow(&reply, &what).await?;
        Ok(Some(archive::unpack(&bytes, &what)?))
    }
}
