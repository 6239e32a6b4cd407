//! GitHub Actions on the fake: workflows read from the bare repository's default branch, the
//! runs that dispatches (and [`crate::FakeGithub::schedule`]) create, their jobs, summaries,
//! logs and artifacts as a [`Runner`] reports them through [`RunEvents`], and the blob
//! storage on another origin that log and artifact downloads redirect to.

mod archives;
mod dispatch;
mod events;
mod render;
mod runs;
pub mod workflows;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use serde_json::Value;

use crate::git::CommitInfo;
use crate::runner_contract::{Outcome, RunControl, Runner};

pub use archives::{blob, download_artifact, download_logs};
pub use dispatch::{dispatch, schedule};
pub use runs::{cancel, get_run, list_artifacts, list_jobs, list_repo_runs, list_workflow_runs};
pub use workflows::{WORKFLOWS_DIR, disable, enable, get_workflow};

/// Where a run, job or step is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    InProgress,
    Completed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::InProgress => "in_progress",
            RunStatus::Completed => "completed",
        }
    }
}

/// A workflow run as the fake keeps it.
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    pub id: u64,
    pub workflow_id: u64,
    /// `.github/workflows/<file>`.
    pub path: String,
    /// The workflow's `name` (or its path, when it has none).
    pub name: String,
    pub run_number: u64,
    /// `workflow_dispatch` or `schedule`.
    pub event: String,
    pub status: RunStatus,
    pub conclusion: Option<Outcome>,
    pub head_branch: String,
    pub head_sha: String,
    pub display_title: String,
    /// The dispatch's inputs with the workflow's defaults filled in.
    pub inputs: BTreeMap<String, Value>,
    pub actor: String,
    pub created_at: String,
    pub updated_at: String,
    pub jobs: Vec<Job>,
    pub artifacts: Vec<Artifact>,
    /// Each job's summary as last reported: `(job, markdown)`, in the order first reported.
    pub summaries: Vec<(String, String)>,
    head_commit: CommitInfo,
    /// The workflow file at `head_sha`.
    workflow_yaml: String,
}

/// A job of a run, from the moment its runner starts it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub status: RunStatus,
    pub conclusion: Option<Outcome>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub steps: Vec<Step>,
}

/// A step of a job, numbered from 1.
#[derive(Debug, Clone)]
pub struct Step {
    pub number: u64,
    pub name: String,
    pub status: RunStatus,
    pub conclusion: Option<Outcome>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// What it wrote, each line prefixed with GitHub's timestamp.
    pub log: String,
}

/// An artifact a run uploaded, kept as the zip archive GitHub would serve.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub id: u64,
    pub name: String,
    /// Its files: path inside the artifact, contents.
    pub files: Vec<(String, Vec<u8>)>,
    pub created_at: String,
    zip: Bytes,
}

/// What the Actions endpoints remember, apart from the workflow files themselves (in git).
#[derive(Default)]
pub struct Store {
    /// Each workflow path ever seen, with its id and when it was first seen.
    workflows: BTreeMap<String, (u64, String)>,
    disabled: BTreeSet<String>,
    runs: BTreeMap<u64, WorkflowRun>,
    run_numbers: HashMap<u64, u64>,
    controls: HashMap<u64, Arc<dyn RunControl>>,
    /// Downloads by their key in the blob storage's URL.
    blobs: HashMap<String, Bytes>,
    runner: Option<Arc<dyn Runner>>,
    /// Answer a dispatch `204` even when asked for the run's details, as an older GitHub
    /// Enterprise Server does.
    dispatch_without_details: bool,
    next_id: u64,
}

/// The Actions side of the fake, shared by its handlers, its runner's events and
/// [`crate::FakeGithub`].
pub struct Actions {
    store: Mutex<Store>,
    /// The blob storage's origin: the fake's own listener under another host name, so that
    /// a redirect there is a cross-origin one, as GitHub's are.
    pub blob_origin: String,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.lock();
        formatter
            .debug_struct("Actions")
            .field("runs", &store.runs.len())
            .field("runner", &store.runner.is_some())
            .finish()
    }
}

impl Actions {
    /// For a fake serving its API at `api_url` (`http://127.0.0.1:PORT`).
    pub fn new(api_url: &str) -> Actions {
        Actions {
            store: Mutex::new(Store {
                next_id: 7_000_000,
                ..Store::default()
            }),
            blob_origin: api_url.replacen("127.0.0.1", "localhost", 1),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The workflow's id, assigned the first time its path is seen.
    fn workflow_id(&mut self, path: &str) -> u64 {
        if let Some((id, _)) = self.workflows.get(path) {
            return *id;
        }
        let id = self.take_id();
        self.workflows
            .insert(path.to_string(), (id, crate::state::timestamp()));
        id
    }

    /// Puts `runner` in place and hands back the one it replaces, to be dropped once the
    /// store is unlocked: dropping a runner waits for its runs, which report to the store.
    pub fn set_runner(&mut self, runner: Arc<dyn Runner>) -> Option<Arc<dyn Runner>> {
        self.runner.replace(runner)
    }

    pub fn set_dispatch_without_details(&mut self, without: bool) {
        self.dispatch_without_details = without;
    }

    /// Disables the workflow at `path`, as its repository's settings would.
    pub fn disable(&mut self, path: &str) {
        self.disabled.insert(path.to_string());
    }

    pub fn runs(&self) -> Vec<WorkflowRun> {
        self.runs.values().cloned().collect()
    }

    pub fn run(&self, id: u64) -> Option<&WorkflowRun> {
        self.runs.get(&id)
    }

    /// Keeps `bytes` in the blob storage; the URL to fetch them from, without a token.
    fn keep_blob(&mut self, origin: &str, bytes: Bytes) -> String {
        let key: String = (0..32)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect();
        self.blobs.insert(key.clone(), bytes);
        format!("{origin}/_blobs/{key}")
    }
}
