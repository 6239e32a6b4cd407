//! Check runs and commit statuses on commits, and a scriptable CI: a test's closure decides,
//! for each commit pushed to the bare repository, whether CI runs on it and how it ends; the
//! fake then reports a check run that stays queued or in progress for as many reads of the
//! commit's check runs as the test asked, then completes.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, parse_body};
use crate::pages::{created, paginate_wrapped};
use crate::render::{html_repo_url, repo_url, repository, user};
use crate::server::App;
use crate::state::timestamp;

/// A push the scriptable CI is asked about: the first read of a commit's check runs after a
/// branch of the bare repository came to point at it.
#[derive(Debug, Clone)]
pub struct PushedCommit {
    pub sha: String,
    /// The branches (without `refs/heads/`) newly pointing at it.
    pub branches: Vec<String>,
    /// The bare repository, to read the commit's files with git.
    pub repo: PathBuf,
}

/// How CI ends on a commit: one check run.
#[derive(Debug, Clone)]
pub struct CiVerdict {
    /// The check run's name, e.g. `test`.
    pub name: String,
    /// `success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`,
    /// `action_required` or `startup_failure`.
    pub conclusion: String,
    /// The check run's output.
    pub title: String,
    pub summary: String,
    pub text: String,
    /// Reads of the commit's check runs that see it queued (the first) or in progress (the
    /// rest) before it completes; 0 completes it at once.
    pub pending_reads: u32,
}

impl CiVerdict {
    /// A check run `name` that ends with `conclusion` at once, with an empty output.
    pub fn new(name: &str, conclusion: &str) -> CiVerdict {
        CiVerdict {
            name: name.to_string(),
            conclusion: conclusion.to_string(),
            title: String::new(),
            summary: String::new(),
            text: String::new(),
            pending_reads: 0,
        }
    }
}

/// The scriptable CI: `None` when CI does not run on that commit.
pub type Ci = Arc<dyn Fn(&PushedCommit) -> Option<CiVerdict> + Send + Sync>;

/// One check run.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub external_id: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// The scripted CI's, until it completes.
    scripted: Option<Script>,
}

/// How a scripted check run goes on.
#[derive(Debug, Clone)]
struct Script {
    /// Reads of it so far.
    reads: u32,
    pending_reads: u32,
    conclusion: String,
}

/// One commit status.
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub created_at: String,
}

/// The check runs and statuses of every commit, and the CI that makes them.
#[derive(Default)]
pub struct Checks {
    pub runs: Vec<CheckRun>,
    pub statuses: Vec<CommitStatus>,
    pub ci: Option<Ci>,
    /// The pushes (commit and branch) the CI was asked about already.
    seen: BTreeSet<(String, String)>,
}

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checks")
            .field("runs", &self.runs)
            .field("statuses", &self.statuses)
            .field("ci", &self.ci.is_some())
            .finish_non_exhaustive()
    }
}

impl Checks {
    /// Moves the scripted runs on `sha` one read on: queued, in progress, completed.
    fn read(&mut self, sha: &str) {
        for run in self.runs.iter_mut().filter(|run| run.head_sha == sha) {
            let Some(script) = &mut run.scripted else {
                continue;
            };
            script.reads += 1;
            if script.reads > script.pending_reads {
                run.status = "completed".to_string();
                run.conclusion = Some(script.conclusion.clone());
                run.completed_at = Some(timestamp());
                run.scripted = None;
            } else if script.reads > 1 {
                run.status = "in_progress".to_string();
            }
        }
    }

    /// The combined state of `sha`'s latest status per context, as GitHub computes it:
    /// failure if any failed or errored, pending if any is pending or there are none.
    fn combined(&self, sha: &str) -> (String, Vec<CommitStatus>) {
        let mut latest: Vec<CommitStatus> = Vec::new();
        for status in self.statuses.iter().rev().filter(|s| s.sha == sha) {
            if !latest
                .iter()
                .any(|seen| seen.context.eq_ignore_ascii_case(&status.context))
            {
                latest.push(status.clone());
            }
        }
        let state = if latest
            .iter()
            .any(|s| s.state == "failure" || s.state == "error")
        {
            "failure"
        } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
            "pending"
        } else {
            "success"
        };
        (state.to_string(), latest)
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

async fn commit(app: &App, reference: &str) -> Result<String, ApiError> {
    app.repo
        .commit(reference)
        .await?
        .ok_or_else(|| unprocessable(format!("No commit found for SHA: {reference}")))
}

/// Asks the CI about `sha` for each branch newly pointing at it (a push), and records the
/// check run it reports.
async fn run_ci(app: &App, sha: &str) -> Result<(), ApiError> {
    let Some(ci) = app.lock().checks.ci.clone() else {
        return Ok(());
    };
    let branches: Vec<String> = app
        .repo
        .refs()
        .await?
        .into_iter()
        .filter(|(_, tip)| tip == sha)
        .filter_map(|(name, _)| name.strip_prefix("refs/heads/").map(str::to_string))
        .collect();
    let pushed: Vec<String> = {
        let state = app.lock();
        branches
            .into_iter()
            .filter(|branch| {
                !state
                    .checks
                    .seen
                    .contains(&(sha.to_string(), branch.clone()))
            })
            .collect()
    };
    if pushed.is_empty() {
        return Ok(());
    }
    let pushed = PushedCommit {
        sha: sha.to_string(),
        branches: pushed,
        repo: app.repo.path().to_path_buf(),
    };
    let verdict = ci(&pushed);
    let mut state = app.lock();
    let mut fresh = false;
    for branch in &pushed.branches {
        fresh |= state.checks.seen.insert((sha.to_string(), branch.clone()));
    }
    if !fresh {
        return Ok(());
    }
    let Some(verdict) = verdict else {
        return Ok(());
    };
    let id = state.take_id();
    state.checks.runs.push(CheckRun {
        id,
        name: verdict.name,
        head_sha: sha.to_string(),
        status: "queued".to_string(),
        conclusion: None,
        details_url: Some(format!("{}/actions/runs/{id}", html_repo_url(app))),
        external_id: String::new(),
        started_at: timestamp(),
        completed_at: None,
        title: Some(verdict.title),
        summary: Some(verdict.summary),
        text: Some(verdict.text),
        scripted: Some(Script {
            reads: 0,
            pending_reads: verdict.pending_reads,
            conclusion: verdict.conclusion,
        }),
    });
    Ok(())
}

pub fn render_run(app: &App, run: &CheckRun) -> Value {
    let url = repo_url(app);
    json!({
        "id": run.id,
        "node_id": format!("CR_fake{}", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": format!("{url}/check-runs/{}", run.id),
        "html_url": format!("{}/runs/{}", html_repo_url(app), run.id),
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": 0,
            "annotations_url": format!("{url}/check-runs/{}/annotations", run.id),
        },
        "name": run.name,
        "check_suite": { "id": run.id },
        "app": null,
        "pull_requests": [],
    })
}

fn render_status(app: &App, status: &CommitStatus) -> Value {
    let creator = user(app, &app.options.login);
    json!({
        "url": format!("{}/statuses/{}", repo_url(app), status.sha),
        "avatar_url": creator["avatar_url"],
        "id": status.id,
        "node_id": format!("SC_fake{}", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": status.created_at,
        "updated_at": status.created_at,
        "creator": creator,
    })
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`.
pub async fn list_for_ref(
    State(app): State<Arc<App>>,
    Path((_, _, reference)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let sha = commit(&app, &reference).await?;
    run_ci(&app, &sha).await?;
    let runs: Vec<CheckRun> = {
        let mut state = app.lock();
        state.checks.read(&sha);
        state
            .checks
            .runs
            .iter()
            .filter(|run| run.head_sha == sha)
            .cloned()
            .collect()
    };
    paginate_wrapped(&app.api_url, &uri, "check_runs", runs, |run| {
        render_run(&app, &run)
    })
}

#[derive(Debug, Deserialize)]
struct NewOutput {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NewCheckRun {
    name: String,
    head_sha: String,
    status: Option<String>,
    conclusion: Option<String>,
    details_url: Option<String>,
    external_id: Option<String>,
    output: Option<NewOutput>,
}

/// `POST /repos/{owner}/{repo}/check-runs`: a conclusion completes the run.
pub async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let new: NewCheckRun = parse_body(&body)?;
    let sha = commit(&app, &new.head_sha).await?;
    let completed = new.conclusion.is_some() || new.status.as_deref() == Some("completed");
    if completed && new.conclusion.is_none() {
        return Err(ApiError::validation(
            "CheckRun",
            "conclusion",
            "missing_field",
        ));
    }
    let mut state = app.lock();
    let id = state.take_id();
    let output = new.output.unwrap_or(NewOutput {
        title: None,
        summary: None,
        text: None,
    });
    let run = CheckRun {
        id,
        name: new.name,
        head_sha: sha,
        status: if completed {
            "completed".to_string()
        } else {
            new.status.unwrap_or_else(|| "queued".to_string())
        },
        conclusion: new.conclusion,
        details_url: new.details_url,
        external_id: new.external_id.unwrap_or_default(),
        started_at: timestamp(),
        completed_at: completed.then(timestamp),
        title: output.title,
        summary: output.summary,
        text: output.text,
        scripted: None,
    };
    let rendered = render_run(&app, &run);
    state.checks.runs.push(run);
    Ok(created(&rendered))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the combined status.
pub async fn combined_status(
    State(app): State<Arc<App>>,
    Path((_, _, reference)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let sha = app
        .repo
        .commit(&reference)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let default_branch = app.repo.default_branch().await?;
    let state = app.lock();
    let (combined, statuses) = state.checks.combined(&sha);
    let url = repo_url(&app);
    let body = json!({
        "state": combined,
        "statuses": statuses.iter().map(|s| render_status(&app, s)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": statuses.len(),
        "repository": repository(&app, &state, &default_branch),
        "commit_url": format!("{url}/commits/{sha}"),
        "url": format!("{url}/commits/{sha}/status"),
    });
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
struct NewStatus {
    state: String,
    target_url: Option<String>,
    description: Option<String>,
    context: Option<String>,
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}`.
pub async fn create_status(
    State(app): State<Arc<App>>,
    Path((_, _, sha)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewStatus = parse_body(&body)?;
    if !["error", "failure", "pending", "success"].contains(&new.state.as_str()) {
        return Err(ApiError::validation("Status", "state", "invalid"));
    }
    let sha = commit(&app, &sha).await?;
    let mut state = app.lock();
    let status = CommitStatus {
        id: state.take_id(),
        sha,
        state: new.state,
        context: new.context.unwrap_or_else(|| "default".to_string()),
        description: new.description,
        target_url: new.target_url,
        created_at: timestamp(),
    };
    let rendered = render_status(&app, &status);
    state.checks.statuses.push(status);
    Ok(created(&rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(sha: &str, context: &str, state: &str) -> CommitStatus {
        CommitStatus {
            id: 1,
            sha: sha.to_string(),
            state: state.to_string(),
            context: context.to_string(),
            description: None,
            target_url: None,
            created_at: timestamp(),
        }
    }

    #[test]
    fn the_combined_state_takes_each_contexts_latest_status() {
        let mut checks = Checks::default();
        assert_eq!(checks.combined("a").0, "pending", "none is pending");
        checks.statuses.push(status("a", "ci", "failure"));
        checks.statuses.push(status("a", "lint", "success"));
        assert_eq!(checks.combined("a").0, "failure");
        checks.statuses.push(status("a", "CI", "success"));
        let (state, latest) = checks.combined("a");
        assert_eq!(state, "success");
        assert_eq!(latest.len(), 2);
        checks.statuses.push(status("a", "deploy", "pending"));
        assert_eq!(checks.combined("a").0, "pending");
        checks.statuses.push(status("a", "deploy", "error"));
        assert_eq!(checks.combined("a").0, "failure");
        assert_eq!(
            checks.combined("b").0,
            "pending",
            "another commit's are not its"
        );
    }

    #[test]
    fn a_scripted_run_is_queued_then_in_progress_then_completed() {
        let mut checks = Checks::default();
        checks.runs.push(CheckRun {
            id: 1,
            name: "test".to_string(),
            head_sha: "a".to_string(),
            status: "queued".to_string(),
            conclusion: None,
            details_url: None,
            external_id: String::new(),
            started_at: timestamp(),
            completed_at: None,
            title: None,
            summary: None,
            text: None,
            scripted: Some(Script {
                reads: 0,
                pending_reads: 2,
                conclusion: "failure".to_string(),
            }),
        });
        let seen = |checks: &mut Checks| {
            checks.read("a");
            let run = &checks.runs[0];
            (run.status.clone(), run.conclusion.clone())
        };
        assert_eq!(seen(&mut checks), ("queued".to_string(), None));
        assert_eq!(seen(&mut checks), ("in_progress".to_string(), None));
        assert_eq!(
            seen(&mut checks),
            ("completed".to_string(), Some("failure".to_string()))
        );
        assert_eq!(
            seen(&mut checks),
            ("completed".to_string(), Some("failure".to_string()))
        );
    }
}
