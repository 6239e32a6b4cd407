//! What the app's unit tests share: GitHub Actions in memory (one workflow file's state, runs
//! whose status a test sets, and every dispatch, read and cancel noted; no runner works the
//! runs, so they have no jobs, logs or artifacts).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ports::actions::{
    Actions, ArtifactFile, Conclusion, Dispatch, Job, JobLog, RunId, RunStatus, Workflow,
    WorkflowRun, WorkflowState,
};
use crate::ports::forge::{ForgeError, ForgeResult};

/// A run as kept: its workflow's file, status and conclusion.
type KeptRun = (String, RunStatus, Option<Conclusion>);

/// GitHub Actions in memory.
#[derive(Default)]
pub struct MemoryActions {
    /// `None`: the repository has no such workflow.
    pub state: Mutex<Option<WorkflowState>>,
    pub dispatches: Mutex<Vec<Dispatch>>,
    /// Each run's workflow file, status and conclusion.
    runs: Mutex<BTreeMap<RunId, KeptRun>>,
    pub reads: Mutex<Vec<RunId>>,
    pub cancelled: Mutex<Vec<RunId>>,
}

impl MemoryActions {
    pub fn active() -> Self {
        let actions = Self::default();
        *actions.state.lock().unwrap() = Some(WorkflowState::Active);
        actions
    }

    /// Sets an existing run's status.
    pub fn set(&self, run: RunId, status: RunStatus, conclusion: Option<Conclusion>) {
        let mut runs = self.runs.lock().unwrap();
        let entry = runs.get_mut(&run).expect("a run dispatched or added");
        (entry.1, entry.2) = (status, conclusion);
    }

    /// Adds a run of `file`, as one started elsewhere (by its schedule, another machine).
    pub fn add(&self, run: RunId, file: &str, status: RunStatus) {
        let mut runs = self.runs.lock().unwrap();
        runs.insert(run, (file.to_owned(), status, None));
    }
}

#[async_trait]
impl Actions for MemoryActions {
    async fn workflow(&self, file: &str) -> ForgeResult<Workflow> {
        let state = (*self.state.lock().unwrap()).ok_or_else(|| ForgeError::NoWorkflow {
            file: file.to_owned(),
        })?;
        Ok(Workflow {
            id: 1,
            name: "Clambake bundling".to_owned(),
            path: format!(".github/workflows/{file}"),
            state,
        })
    }

    async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
        let mut dispatches = self.dispatches.lock().unwrap();
        dispatches.push(dispatch.clone());
        let run = 100 + dispatches.len() as u64;
        self.add(run, &dispatch.workflow, RunStatus::Queued);
        Ok(run)
    }

    async fn runs(&self, file: &str, limit: usize) -> ForgeResult<Vec<WorkflowRun>> {
        let ids: Vec<RunId> = (self.runs.lock().unwrap().iter())
            .rev()
            .filter(|(_, (of, ..))| of == file)
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        let mut runs = Vec::new();
        for id in ids {
            runs.push(self.shown(id)?);
        }
        Ok(runs)
    }

    async fn run(&self, id: RunId) -> ForgeResult<WorkflowRun> {
        self.reads.lock().unwrap().push(id);
        self.shown(id)
    }

    /// No runner works these runs: none has a job yet.
    async fn jobs(&self, id: RunId) -> ForgeResult<Vec<Job>> {
        self.shown(id).map(|_| Vec::new())
    }

    /// No runner works these runs: none has written a log.
    async fn logs(&self, id: RunId) -> ForgeResult<Vec<JobLog>> {
        self.shown(id).map(|_| Vec::new())
    }

    async fn cancel(&self, id: RunId) -> ForgeResult<()> {
        self.cancelled.lock().unwrap().push(id);
        self.set(id, RunStatus::Completed, Some(Conclusion::Cancelled));
        Ok(())
    }

    /// No runner works these runs: none has uploaded anything.
    async fn artifact(&self, id: RunId, _name: &str) -> ForgeResult<Option<Vec<ArtifactFile>>> {
        self.shown(id).map(|_| None)
    }
}

impl MemoryActions {
    fn shown(&self, id: RunId) -> ForgeResult<WorkflowRun> {
        let (path, status, conclusion) =
            self.runs
                .lock()
                .unwrap()
                .get(&id)
                .cloned()
                .ok_or(ForgeError::NotFound {
                    kind: "run",
                    number: id,
                })?;
        let at = Timestamp::now();
        Ok(WorkflowRun {
            id,
            name: "Clambake bundling".to_owned(),
            display_title: "bundle".to_owned(),
            path: format!(".github/workflows/{path}"),
            event: "workflow_dispatch".to_owned(),
            status,
            conclusion,
            head_branch: Some("main".to_owned()),
            head_sha: "0".repeat(40),
            created_at: at,
            run_started_at: None,
            updated_at: at,
            html_url: format!("https://github.com/o/r/actions/runs/{id}"),
        })
    }
}
