//! Reading and cancelling runs: the run listings with the filters GitHub documents, one run,
//! its jobs and its artifacts, and cancel.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::error::ApiError;
use crate::pages::{Params, paginate_wrapped};
use crate::runner_contract::Outcome;
use crate::server::App;

use super::events::finish_run;
use super::{RunStatus, WorkflowRun, render, workflows};

/// Whether `run` passes the listing's filters: `actor`, `branch`, `event`, `status` (a
/// status or a conclusion), `created` (GitHub's date qualifier), `head_sha` and
/// `check_suite_id` (each run is its own check suite here).
fn passes(params: &Params, run: &WorkflowRun) -> bool {
    let equal = |name: &str, value: &str| params.get(name).is_none_or(|wanted| wanted == value);
    let status = params.get("status").is_none_or(|wanted| {
        wanted == run.status.as_str() || run.conclusion.map(Outcome::as_str) == Some(wanted)
    });
    let created = params.get("created").is_none_or(|qualifier| {
        run.created_at
            .parse()
            .is_ok_and(|created| within(qualifier, created))
    });
    equal("actor", &run.actor)
        && equal("branch", &run.head_branch)
        && equal("event", &run.event)
        && equal("head_sha", &run.head_sha)
        && equal("check_suite_id", &run.id.to_string())
        && status
        && created
}

/// A day (`2026-01-31`) or an instant, as the span `[start, end)` it covers.
fn span(text: &str) -> Option<(Timestamp, Timestamp)> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some((instant, instant + SignedDuration::from_secs(1)));
    }
    let day: jiff::civil::Date = text.parse().ok()?;
    let start = day.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some((start, start + SignedDuration::from_hours(24)))
}

/// Whether `created` satisfies GitHub's date qualifier: `DATE`, `>DATE`, `>=DATE`, `<DATE`,
/// `<=DATE` or `FROM..TO` (either end may be `*`). A qualifier that does not parse matches
/// nothing.
fn within(qualifier: &str, created: Timestamp) -> bool {
    let bound = |text: &str| (text != "*").then(|| span(text)).map(|s| s.ok_or(()));
    let result = if let Some((from, to)) = qualifier.split_once("..") {
        bound(from).transpose().and_then(|from| {
            let to = bound(to).transpose()?;
            Ok(from.is_none_or(|(start, _)| created >= start)
                && to.is_none_or(|(_, end)| created < end))
        })
    } else if let Some(rest) = qualifier.strip_prefix(">=") {
        span(rest).map(|(start, _)| created >= start).ok_or(())
    } else if let Some(rest) = qualifier.strip_prefix("<=") {
        span(rest).map(|(_, end)| created < end).ok_or(())
    } else if let Some(rest) = qualifier.strip_prefix('>') {
        span(rest).map(|(_, end)| created >= end).ok_or(())
    } else if let Some(rest) = qualifier.strip_prefix('<') {
        span(rest).map(|(start, _)| created < start).ok_or(())
    } else {
        span(qualifier)
            .map(|(start, end)| start <= created && created < end)
            .ok_or(())
    };
    result.unwrap_or(false)
}

/// Answers the runs that pass the filters, newest first, a page of them.
async fn list(app: &App, uri: &Uri, workflow: Option<u64>) -> Result<Response, ApiError> {
    let branch = app.repo.default_branch().await?;
    let params = Params::from_uri(uri);
    let runs: Vec<WorkflowRun> = app
        .actions
        .lock()
        .runs
        .values()
        .rev()
        .filter(|run| workflow.is_none_or(|id| run.workflow_id == id))
        .filter(|run| passes(&params, run))
        .cloned()
        .collect();
    let state = app.lock();
    paginate_wrapped(&app.api_url, uri, "workflow_runs", runs, |run| {
        render::run(app, &state, &run, &branch)
    })
}

/// `GET /repos/{owner}/{repo}/actions/runs`.
pub async fn list_repo_runs(State(app): State<Arc<App>>, uri: Uri) -> Result<Response, ApiError> {
    list(&app, &uri, None).await
}

/// `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs`.
pub async fn list_workflow_runs(
    State(app): State<Arc<App>>,
    Path((_, _, workflow_id)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let workflow = workflows::find(&app, &workflow_id).await?;
    list(&app, &uri, Some(workflow.id)).await
}

fn snapshot(app: &App, run_id: u64) -> Result<WorkflowRun, ApiError> {
    app.actions
        .lock()
        .run(run_id)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
pub async fn get_run(
    State(app): State<Arc<App>>,
    Path((_, _, run_id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let branch = app.repo.default_branch().await?;
    let run = snapshot(&app, run_id)?;
    let state = app.lock();
    Ok(Json(render::run(&app, &state, &run, &branch)).into_response())
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`, in the order they started.
pub async fn list_jobs(
    State(app): State<Arc<App>>,
    Path((_, _, run_id)): Path<(String, String, u64)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let run = snapshot(&app, run_id)?;
    paginate_wrapped(
        &app.api_url,
        &uri,
        "jobs",
        run.jobs.iter().collect(),
        |job| render::job(&app, &run, job),
    )
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, filtered by `name`.
pub async fn list_artifacts(
    State(app): State<Arc<App>>,
    Path((_, _, run_id)): Path<(String, String, u64)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let run = snapshot(&app, run_id)?;
    let params = Params::from_uri(&uri);
    let artifacts = run
        .artifacts
        .iter()
        .filter(|artifact| params.get("name").is_none_or(|name| name == artifact.name))
        .collect();
    let repository_id = {
        let branch = app.repo.default_branch().await?;
        let state = app.lock();
        crate::render::repository(&app, &state, &branch)["id"].clone()
    };
    paginate_wrapped(&app.api_url, &uri, "artifacts", artifacts, |artifact| {
        render::artifact(&app, &run, artifact, &repository_id)
    })
}

/// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel`: `202`, then the runner stops
/// the run and reports it cancelled; a run no runner took is cancelled at once; a completed
/// run answers `409`.
pub async fn cancel(
    State(app): State<Arc<App>>,
    Path((_, _, run_id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let control = {
        let mut guard = app.actions.lock();
        let store = &mut *guard;
        let run = store
            .runs
            .get_mut(&run_id)
            .ok_or_else(ApiError::not_found)?;
        if run.status == RunStatus::Completed {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Cannot cancel a workflow run that is completed.",
            ));
        }
        let control = store.controls.get(&run_id).cloned();
        if control.is_none() {
            finish_run(run, Outcome::Cancelled);
        }
        control
    };
    // Outside the lock: the runner may report the cancellation at once.
    if let Some(control) = control {
        control.cancel();
    }
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_reads_githubs_date_qualifiers() {
        let at: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        for (qualifier, expected) in [
            ("2026-03-10", true),
            ("2026-03-11", false),
            (">=2026-03-10", true),
            (">2026-03-10", false),
            ("<2026-03-11", true),
            ("<=2026-03-09", false),
            (">=2026-03-10T11:59:59Z", true),
            (">2026-03-10T12:00:00Z", false),
            ("2026-03-01..2026-03-10", true),
            ("2026-03-11..*", false),
            ("*..2026-03-10T12:00:00Z", true),
            ("yesterday", false),
        ] {
            assert_eq!(within(qualifier, at), expected, "{qualifier}");
        }
    }
}
