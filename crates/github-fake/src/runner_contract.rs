//! What the fake's Actions endpoints and its runner say to each other: the runs kept by the
//! endpoints ([`crate::actions`]) are carried out by a [`Runner`], which reports what each
//! job and step does through [`RunEvents`]. Kept apart so that either side can change alone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// How a job, a step or a run ended, as GitHub spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A dispatched run, as the runner needs it.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub run_id: u64,
    /// The run's number among its workflow's runs, from 1 (`github.run_number`).
    pub run_number: u64,
    /// What started it: `workflow_dispatch` or `schedule` (`github.event_name`).
    pub event: String,
    /// `.github/workflows/<file>`.
    pub workflow_path: String,
    /// The workflow file's text at `sha`.
    pub workflow_yaml: String,
    /// The branch dispatched on, and its tip then.
    pub git_ref: String,
    pub sha: String,
    /// The dispatch's inputs, as sent (strings, booleans, numbers).
    pub inputs: BTreeMap<String, serde_json::Value>,
    pub owner: String,
    pub repo: String,
    /// The bare repository that is `origin`, to check out from.
    pub bare_repo: PathBuf,
    /// The fake's API URL, the runner's `GITHUB_API_URL`.
    pub api_url: String,
    /// A token the fake accepts, the runner's `GITHUB_TOKEN` (`github.token`).
    pub token: String,
}

/// What a runner reports of the runs it carries out. Every call names the run.
pub trait RunEvents: Send + Sync {
    /// A job started, with the names of its steps in order.
    fn job_started(&self, run_id: u64, job: &str, steps: &[String]);
    /// Step `index` (0-based, into the names given to `job_started`) started.
    fn step_started(&self, run_id: u64, job: &str, index: usize);
    /// Step `index` ended, with what it wrote (stdout and stderr together).
    fn step_finished(&self, run_id: u64, job: &str, index: usize, outcome: Outcome, log: &str);
    /// The job wrote a job summary (`$GITHUB_STEP_SUMMARY`, Markdown), as it stands so far.
    fn summary(&self, run_id: u64, job: &str, markdown: &str);
    /// The run uploaded an artifact: `name`, and its files (path inside it, contents).
    fn artifact(&self, run_id: u64, name: &str, files: Vec<(String, Vec<u8>)>);
    /// The job ended.
    fn job_finished(&self, run_id: u64, job: &str, outcome: Outcome);
    /// The whole run ended; nothing more is reported of it.
    fn run_finished(&self, run_id: u64, outcome: Outcome);
}

/// A run in progress, as its runner lets it be stopped.
pub trait RunControl: Send + Sync {
    /// Stops the run: what runs is killed, the rest skipped, and the run reported cancelled.
    fn cancel(&self);
}

/// Carries out dispatched runs.
pub trait Runner: Send + Sync {
    /// Starts `spec`'s run in the background, reporting through `events`.
    fn start(&self, spec: RunSpec, events: Arc<dyn RunEvents>) -> Box<dyn RunControl>;
}
