//! The zip archives GitHub Actions hands out (a run's logs, an artifact): the API answers with
//! a redirect to another host (blob storage, on GitHub), fetched here by a plain HTTP client
//! that has no credentials at all, so the token never leaves the API; then unpacked, within
//! caps on what is downloaded and what it unpacks to.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use http::StatusCode;

use crate::adapters::forge::github::http::Reply;
use crate::ports::actions::{ArtifactFile, JobLog};
use crate::ports::forge::{ForgeError, ForgeResult};

/// The most an archive may weigh, packed and unpacked.
const SIZE_CAP: u64 = 256 * 1024 * 1024;
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Blob storage answers where it is; a few more hops are allowed, never an endless chain.
const REDIRECTS: usize = 3;

/// Fetches archives from where the API's redirects point, without credentials.
pub struct Downloads {
    client: reqwest::Client,
}

impl Downloads {
    pub fn new() -> ForgeResult<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DOWNLOAD_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(REDIRECTS))
            .build()
            .map_err(|e| ForgeError::Backend(format!("the download client: {e}")))?;
        Ok(Self { client })
    }

    /// The archive that `reply`, the API's answer to a request for one, points at with its
    /// `Location`: `what` names it in messages.
    pub async fn follow(&self, reply: &Reply, what: &str) -> ForgeResult<Vec<u8>> {
        let location = reply
            .headers
            .get(http::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                ForgeError::Backend(format!(
                    "GitHub answered {} for {what} without saying where it is",
                    reply.status.as_u16()
                ))
            })?;
        let url = url::Url::parse(location).map_err(|e| {
            ForgeError::Backend(format!("GitHub pointed {what} at a URL that is none: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ForgeError::Backend(format!(
                "GitHub pointed {what} at a {} URL: only http and https are fetched",
                url.scheme()
            )));
        }
        self.fetch(url, what).await
    }

    async fn fetch(&self, url: url::Url, what: &str) -> ForgeResult<Vec<u8>> {
        let failed = |error: reqwest::Error| {
            // Its text may name the URL, whose query is a signature: say what failed only.
            let why = if error.is_timeout() {
                "it timed out"
            } else if error.is_connect() {
                "no connection"
            } else {
                "the transfer failed"
            };
            ForgeError::Transient(format!("downloading {what}: {why}"))
        };
        let mut response = self.client.get(url).send().await.map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let message = format!("downloading {what}: the storage answered {status}");
            return Err(if status.is_server_error() {
                ForgeError::Transient(message)
            } else {
                ForgeError::Backend(message)
            });
        }
        let too_big = || {
            ForgeError::Backend(format!(
                "{what} is larger than {} MiB: not downloaded",
                SIZE_CAP / 1024 / 1024
            ))
        };
        if response
            .content_length()
            .is_some_and(|length| length > SIZE_CAP)
        {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (bytes.len() + chunk.len()) as u64 > SIZE_CAP {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// Every file of the zip archive `bytes`, by its path inside, in the archive's order.
pub fn unpack(bytes: &[u8], what: &str) -> ForgeResult<Vec<ArtifactFile>> {
    let broken = |e: &dyn std::fmt::Display| {
        ForgeError::Backend(format!("{what} is no zip archive GitHub would write: {e}"))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| broken(&e))?;
    let mut files = Vec::new();
    let mut unpacked = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| broken(&e))?;
        if entry.is_dir() {
            continue;
        }
        let path = entry.name().map_err(|e| broken(&e))?.into_owned();
        let mut contents = Vec::new();
        (&mut entry)
            .take(SIZE_CAP - unpacked + 1)
            .read_to_end(&mut contents)
            .map_err(|e| broken(&e))?;
        unpacked += contents.len() as u64;
        if unpacked > SIZE_CAP {
            return Err(ForgeError::Backend(format!(
                "{what} unpacks to more than {} MiB: not read",
                SIZE_CAP / 1024 / 1024
            )));
        }
        files.push(ArtifactFile { path, contents });
    }
    Ok(files)
}

/// One log per job from the files of a run's logs archive, as GitHub lays it out: a folder
/// per job holding a file per step (`build/2_Run tests.txt`), and beside the folders a file
/// of each job's whole log (`0_build.txt`). A job's log is its steps' files in step order, or
/// its whole-log file when it has no folder. Jobs come in the order of their whole-log files'
/// numbers, then by name.
pub fn job_logs(files: Vec<ArtifactFile>) -> Vec<JobLog> {
    #[derive(Default)]
    struct Found {
        order: Option<u64>,
        whole: Option<String>,
        steps: BTreeMap<(u64, String), String>,
    }
    let mut jobs: BTreeMap<String, Found> = BTreeMap::new();
    for file in files {
        let text = String::from_utf8_lossy(&file.contents).into_owned();
        match file.path.split_once('/') {
            None => {
                let (order, job) = numbered(&file.path);
                let found = jobs.entry(job.to_owned()).or_default();
                found.order = order.or(found.order);
                found.whole = Some(text);
            }
            Some((job, step)) => {
                let (order, name) = numbered(step);
                let key = (order.unwrap_or(u64::MAX), name.to_owned());
                jobs.entry(job.to_owned())
                    .or_default()
                    .steps
                    .insert(key, text);
            }
        }
    }
    let mut jobs: Vec<(String, Found)> = jobs.into_iter().collect();
    jobs.sort_by_key(|(name, found)| (found.order.unwrap_or(u64::MAX), name.clone()));
    jobs.into_iter()
        .map(|(job, found)| {
            let text = if found.steps.is_empty() {
                found.whole.unwrap_or_default()
            } else {
                let mut text = String::new();
                for step in found.steps.into_values() {
                    text.push_str(&step);
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                }
                text
            };
            JobLog { job, text }
        })
        .collect()
}

/// `7_name.txt` as `(Some(7), "name")`; a name without the number as `(None, name)`.
fn numbered(file: &str) -> (Option<u64>, &str) {
    let name = file.strip_suffix(".txt").unwrap_or(file);
    match name.split_once('_') {
        Some((number, rest))
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (number.parse().ok(), rest)
        }
        _ => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zipped(files: &[(&str, &str)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (path, text) in files {
            if let Some(dir) = path.strip_suffix('/') {
                writer.add_directory(dir, options).unwrap();
            } else {
                writer.start_file(*path, options).unwrap();
                writer.write_all(text.as_bytes()).unwrap();
            }
        }
        writer.finish().unwrap().into_inner()
    }

    fn file(path: &str, text: &str) -> ArtifactFile {
        ArtifactFile {
            path: path.to_owned(),
            contents: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_archive_unpacks_to_its_files_without_its_folders() {
        let bytes = zipped(&[
            ("out/", ""),
            ("out/exit.json", "{}"),
            ("events.jsonl", "a\nb\n"),
        ]);
        let files = unpack(&bytes, "the artifact").unwrap();
        assert_eq!(
            files,
            vec![file("out/exit.json", "{}"), file("events.jsonl", "a\nb\n")]
        );
        assert!(matches!(
            unpack(b"not a zip", "the artifact"),
            Err(ForgeError::Backend(m)) if m.contains("the artifact")
        ));
    }

    #[test]
    fn step_files_make_one_log_per_job_in_step_order() {
        let logs = job_logs(vec![
            file("1_test.txt", "whole test log\n"),
            file("0_bundle.txt", "whole bundle log\n"),
            file("bundle/10_Post checkout.txt", "ten"),
            file("bundle/2_Run clambake.txt", "two\n"),
            file("bundle/1_Set up job.txt", "one\n"),
            file("test/1_Set up job.txt", "test one\n"),
        ]);
        assert_eq!(
            logs,
            vec![
                JobLog {
                    job: "bundle".to_owned(),
                    text: "one\ntwo\nten\n".to_owned()
                },
                JobLog {
                    job: "test".to_owned(),
                    text: "test one\n".to_owned()
                },
            ]
        );
    }

    #[test]
    fn a_job_without_step_files_keeps_its_whole_log() {
        let logs = job_logs(vec![
            file("2_lint.txt", "lint log"),
            file("1_build.txt", "build log"),
        ]);
        let names: Vec<&str> = logs.iter().map(|log| log.job.as_str()).collect();
        assert_eq!(names, ["build", "lint"]);
        assert_eq!(logs[1].text, "lint log");
        assert_eq!(numbered("12_Run a_b.txt"), (Some(12), "Run a_b"));
        assert_eq!(numbered("notes.txt"), (None, "notes"));
        assert_eq!(numbered("_x.txt"), (None, "_x"));
    }
}
