//! The workflow runs port: what Clambake asks of GitHub Actions. It dispatches its own
//! workflows (bundling, agent attempts), reads their runs, jobs, logs and artifacts, and
//! cancels runs. Errors are the forge's, since the same API answers.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::ports::forge::ForgeResult;

/// A workflow run's id, as GitHub numbers them.
pub type RunId = u64;

/// The input every Clambake workflow takes so that a dispatch can find its own run: the run's
/// name (`run-name`) carries it, and GitHub shows it as the run's `display_title`.
pub const DISPATCH_KEY_INPUT: &str = "dispatch_key";

/// Whether a workflow may run, as GitHub says (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    Active,
    Deleted,
    DisabledFork,
    DisabledInactivity,
    DisabledManually,
}

/// A workflow of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    /// `.github/workflows/<file>`.
    pub path: String,
    pub state: WorkflowState,
}

/// Where a run, a job or a step stands (GitHub's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Requested,
    Queued,
    Pending,
    Waiting,
    InProgress,
    Completed,
}

impl RunStatus {
    /// As GitHub spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Waiting => "waiting",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

/// How a completed run, job or step ended (GitHub's `conclusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
    Neutral,
    Stale,
    StartupFailure,
}

impl Conclusion {
    /// As GitHub spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::TimedOut => "timed_out",
            Self::ActionRequired => "action_required",
            Self::Neutral => "neutral",
            Self::Stale => "stale",
            Self::StartupFailure => "startup_failure",
        }
    }
}

/// One run of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowRun {
    pub id: RunId,
    /// The workflow's name.
    pub name: String,
    /// The run's name (`run-name`), carrying its dispatch key.
    pub display_title: String,
    /// `.github/workflows/<file>` of the workflow it runs.
    pub path: String,
    /// What started it: `workflow_dispatch`, `schedule`, ...
    pub event: String,
    pub status: RunStatus,
    pub conclusion: Option<Conclusion>,
    pub head_branch: Option<String>,
    pub head_sha: String,
    pub created_at: Timestamp,
    /// When it started running, once it has.
    pub run_started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub html_url: String,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub number: u32,
    pub name: String,
    pub status: RunStatus,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

/// One job of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub status: RunStatus,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub steps: Vec<Step>,
}

/// The log of one job of a run, as its logs archive holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLog {
    /// The job's name.
    pub job: String,
    pub text: String,
}

/// One file of an artifact a run uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Its path inside the artifact.
    pub path: String,
    pub contents: Vec<u8>,
}

/// A dispatch to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// The workflow's file under `.github/workflows/`.
    pub workflow: String,
    /// The branch whose workflow file runs.
    pub git_ref: String,
    /// The workflow's inputs, but for the dispatch key.
    pub inputs: BTreeMap<String, String>,
    /// A value unique to this dispatch, sent as [`DISPATCH_KEY_INPUT`]: what finds its run
    /// when GitHub does not say which it started.
    pub key: String,
}

/// GitHub Actions, as Clambake uses it.
#[async_trait]
pub trait Actions: Send + Sync {
    /// The workflow in `.github/workflows/<file>`; `ForgeError::NoWorkflow` if there is none
    /// (so too from `dispatch` and `runs`).
    async fn workflow(&self, file: &str) -> ForgeResult<Workflow>;
    /// Starts a run of `dispatch.workflow` and says which: the id GitHub returns when asked
    /// (`return_run_details`), or else the run found by listing with the dispatch's key. A
    /// dispatch whose answer was lost is looked for by its key before it is sent again.
    async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId>;
    /// The latest runs of the workflow in `file` (newest first), at most `limit`.
    async fn runs(&self, file: &str, limit: usize) -> ForgeResult<Vec<WorkflowRun>>;
    async fn run(&self, id: RunId) -> ForgeResult<WorkflowRun>;
    async fn jobs(&self, id: RunId) -> ForgeResult<Vec<Job>>;
    /// Each job's log, from the run's logs archive (GitHub answers with a redirect to it,
    /// followed without the token).
    async fn logs(&self, id: RunId) -> ForgeResult<Vec<JobLog>>;
    /// Asks GitHub to cancel the run; a run already completed is left as it is.
    async fn cancel(&self, id: RunId) -> ForgeResult<()>;
    /// The files of the artifact `name` the run uploaded, or `None` if it has none so named
    /// (yet, or any more: artifacts expire).
    async fn artifact(&self, id: RunId, name: &str) -> ForgeResult<Option<Vec<ArtifactFile>>>;
}
