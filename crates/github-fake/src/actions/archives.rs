//! Downloads: a run's logs and an artifact, each a zip archive that the API answers with a
//! `302` to the blob storage on another origin, where no token may follow.

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::server::App;

use super::{RunStatus, WorkflowRun};

/// A zip archive of `files` (path inside it, contents), deflated as GitHub's are.
pub fn zip<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> Bytes {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, contents) in files {
        writer
            .start_file(path, zip::write::SimpleFileOptions::default())
            .and_then(|()| writer.write_all(contents).map_err(Into::into))
            .expect("writing a zip into memory cannot fail");
    }
    let cursor = writer
        .finish()
        .expect("writing a zip into memory cannot fail");
    Bytes::from(cursor.into_inner())
}

/// A job or step name as a file name: GitHub replaces the path separator.
fn file_name(name: &str) -> String {
    name.replace(['/', '\\', ':'], "_")
}

/// The run's logs laid out as GitHub's archive: `<n>_<job>.txt` with each whole job's log
/// (jobs numbered from 1 in the order they started), and `<job>/<n>_<step>.txt` with each
/// step's.
fn logs_archive(run: &WorkflowRun) -> Bytes {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (number, job) in (1..).zip(&run.jobs) {
        let job_dir = file_name(&job.name);
        let mut whole = String::new();
        for step in &job.steps {
            let header = step.started_at.as_deref().unwrap_or(&job.started_at);
            let header = header.replace('Z', ".0000000Z");
            whole.push_str(&format!("{header} ##[group]{}\n", step.name));
            whole.push_str(&format!("{header} ##[endgroup]\n"));
            whole.push_str(&step.log);
            files.push((
                format!("{job_dir}/{}_{}.txt", step.number, file_name(&step.name)),
                step.log.clone().into_bytes(),
            ));
        }
        files.push((format!("{number}_{job_dir}.txt"), whole.into_bytes()));
    }
    zip(files.iter().map(|(path, bytes)| (path.clone(), &bytes[..])))
}

fn redirect(location: String) -> Response {
    (StatusCode::FOUND, [(LOCATION, location)]).into_response()
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs`: `404` until the run completes,
/// as GitHub has no logs archive before then.
pub async fn download_logs(
    State(app): State<Arc<App>>,
    Path((_, _, run_id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let mut store = app.actions.lock();
    let run = store.run(run_id).ok_or_else(ApiError::not_found)?;
    if run.status != RunStatus::Completed {
        return Err(ApiError::not_found());
    }
    let archive = logs_archive(run);
    Ok(redirect(store.keep_blob(&app.actions.blob_origin, archive)))
}

/// `GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}`: only `zip`.
pub async fn download_artifact(
    State(app): State<Arc<App>>,
    Path((_, _, artifact_id, format)): Path<(String, String, u64, String)>,
) -> Result<Response, ApiError> {
    let mut store = app.actions.lock();
    let archive = store
        .runs
        .values()
        .flat_map(|run| &run.artifacts)
        .find(|artifact| artifact.id == artifact_id && format == "zip")
        .map(|artifact| artifact.zip.clone())
        .ok_or_else(ApiError::not_found)?;
    Ok(redirect(store.keep_blob(&app.actions.blob_origin, archive)))
}

/// `GET /_blobs/{key}`, the blob storage: it needs no token, and a request that brings one
/// is a violation, since a client must not send its token to another origin.
pub async fn blob(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(AUTHORIZATION) {
        app.lock().violations.push(format!(
            "GET /_blobs/{key}: an Authorization header was sent to the blob storage, \
             another origin than the API"
        ));
    }
    match app.actions.lock().blobs.get(&key) {
        Some(bytes) => ([(CONTENT_TYPE, "application/zip")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
