//! The fake's runner: carries out a dispatched workflow run on this machine the way a GitHub
//! runner would, as far as Clambake's workflows need: the `actions/checkout` step becomes a
//! clone of the fake's repository, the step with `id: clambake` runs for real with the fake
//! as its API, `actions/upload-artifact` reports the artifact, and every other step is
//! reported skipped (nothing is installed: the test puts its binaries on `PATH`).

mod command_files;
mod expression;
mod job;
mod process;
mod run;
mod steps;
mod workflow;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::runner_contract::{RunControl, RunEvents, RunSpec, Runner};

use process::CancelFlag;
pub use run::display_title;

/// How the runner runs steps on this machine.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Directories put first on every step's `PATH`, e.g. where the test's `clambake` is.
    pub path: Vec<PathBuf>,
    /// Environment every step gets besides GitHub's, e.g. `ANTHROPIC_BASE_URL` of a scripted
    /// model server. The steps see nothing else of this process's environment but `PATH`.
    pub env: BTreeMap<String, String>,
    /// The repository's secrets, `secrets.NAME`; a missing one is the empty string, as on
    /// GitHub. `secrets.GITHUB_TOKEN` is the run's token whatever this holds.
    pub secrets: BTreeMap<String, String>,
    /// Each job of each run gets `<work_root>/run-<id>/<job>/` with its workspace, its
    /// `RUNNER_TEMP` and its `HOME`.
    pub work_root: PathBuf,
    /// What a cancelled or timed-out step is given to end after SIGINT, and again after
    /// SIGTERM, before SIGKILL (GitHub gives 7.5 s, then 2.5 s).
    pub grace: Duration,
}

impl RunnerConfig {
    /// Steps with nothing added to `PATH` or the environment, no secrets, and a grace of
    /// five seconds; runs under `work_root`.
    pub fn new(work_root: impl Into<PathBuf>) -> RunnerConfig {
        RunnerConfig {
            path: Vec::new(),
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            work_root: work_root.into(),
            grace: Duration::from_secs(5),
        }
    }
}

/// Runs each dispatched run on a thread of its own, so that the fake keeps serving. Dropped,
/// it cancels the runs still going and waits for them: a test leaves nothing running.
pub struct WorkflowRunner {
    config: Arc<RunnerConfig>,
    runs: Mutex<Vec<(Arc<CancelFlag>, JoinHandle<()>)>>,
}

impl WorkflowRunner {
    pub fn new(config: RunnerConfig) -> WorkflowRunner {
        WorkflowRunner {
            config: Arc::new(config),
            runs: Mutex::new(Vec::new()),
        }
    }
}

impl Runner for WorkflowRunner {
    fn start(&self, spec: RunSpec, events: Arc<dyn RunEvents>) -> Box<dyn RunControl> {
        let cancel = Arc::new(CancelFlag::default());
        let (config, flag) = (Arc::clone(&self.config), Arc::clone(&cancel));
        let thread = std::thread::Builder::new()
            .name(format!("fake-runner-{}", spec.run_id))
            .spawn(move || run::execute(&config, &spec, events.as_ref(), &flag))
            .expect("the fake's runner starts a thread for the run");
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.retain(|(_, thread)| !thread.is_finished());
        runs.push((Arc::clone(&cancel), thread));
        Box::new(Control { cancel })
    }
}

impl Drop for WorkflowRunner {
    fn drop(&mut self) {
        let runs = std::mem::take(self.runs.get_mut().unwrap_or_else(PoisonError::into_inner));
        for (cancel, _) in &runs {
            cancel.cancel();
        }
        for (_, thread) in runs {
            let _ = thread.join();
        }
    }
}

struct Control {
    cancel: Arc<CancelFlag>,
}

impl RunControl for Control {
    fn cancel(&self) {
        self.cancel.cancel();
    }
}
