//! The Actions host against an in-memory GitHub Actions: runs move through scripted states,
//! every request is counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::*;
use crate::core::agents::outcome::{ExitStatus, Termination};
use crate::core::agents::remote::{EVENTS_FILE, EXIT_FILE, RemoteExit, artifact_name};
use crate::ports::actions::{
    ArtifactFile, Conclusion, Dispatch, Job, JobLog, Step, Workflow, WorkflowRun,
};
use crate::ports::agent::{AgentRuntime, AgentSpec, LogFiles};
use crate::ports::forge::ForgeResult;
use runtime::ActionsRuntime;

const RUN: RunId = 4242;
const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","session_id":"s-9"}"#;

/// One state of the scripted run.
#[derive(Clone, Copy)]
enum State {
    Queued,
    Running { steps_done: u32 },
    Done(Conclusion),
}

#[derive(Default)]
struct Counts {
    listings: u32,
    dispatches: u32,
    runs: u32,
    jobs: u32,
    cancels: u32,
    artifacts: u32,
}

/// A GitHub Actions of one run whose `run` answers walk through `script` (the last state
/// stays); a cancel ends it as cancelled from the next answer on.
struct ScriptedActions {
    script: Mutex<Vec<State>>,
    /// The state the last `run` answered with.
    current: Mutex<State>,
    counts: Mutex<Counts>,
    dispatched: Mutex<Vec<Dispatch>>,
    artifact: Option<Vec<ArtifactFile>>,
}

impl ScriptedActions {
    fn new(script: &[State], artifact: Option<Vec<ArtifactFile>>) -> Arc<Self> {
        let mut script = script.to_vec();
        script.reverse();
        Arc::new(Self {
            script: Mutex::new(script),
            current: Mutex::new(State::Queued),
            counts: Mutex::default(),
            dispatched: Mutex::default(),
            artifact,
        })
    }

    fn state(&self) -> State {
        let mut script = self.script.lock().unwrap();
        let state = match script.len() {
            0 => unreachable!("the script never runs out"),
            1 => script[0],
            _ => script.pop().unwrap(),
        };
        *self.current.lock().unwrap() = state;
        state
    }

    /// The run as it stands in `state`.
    fn run_now(&self, id: RunId, state: State) -> WorkflowRun {
        let (status, conclusion) = match state {
            State::Queued => (RunStatus::Queued, None),
            State::Running { .. } => (RunStatus::InProgress, None),
            State::Done(conclusion) => (RunStatus::Completed, Some(conclusion)),
        };
        WorkflowRun {
            id,
            name: "Clambake agent".to_owned(),
            display_title: "agent".to_owned(),
            path: ".github/workflows/clambake-agent.yml".to_owned(),
            event: "workflow_dispatch".to_owned(),
            status,
            conclusion,
            head_branch: Some("main".to_owned()),
            head_sha: "0".repeat(40),
            created_at: at(0),
            run_started_at: Some(at(1)),
            updated_at: at(2),
            html_url: format!("https://github.example/o/r/actions/runs/{id}"),
        }
    }

    fn counts(&self) -> (u32, u32, u32, u32, u32) {
        let c = self.counts.lock().unwrap();
        (c.dispatches, c.runs, c.jobs, c.cancels, c.artifacts)
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn step(number: u32, name: &str, done: bool, running: bool) -> Step {
    Step {
        number,
        name: name.to_owned(),
        status: match (done, running) {
            (true, _) => RunStatus::Completed,
            (false, true) => RunStatus::InProgress,
            (false, false) => RunStatus::Queued,
        },
        conclusion: done.then_some(Conclusion::Success),
        started_at: (done || running).then(|| at(i64::from(number) * 10)),
        completed_at: done.then(|| at(i64::from(number) * 10 + 5)),
    }
}

#[async_trait]
impl Actions for ScriptedActions {
    async fn workflow(&self, _file: &str) -> ForgeResult<Workflow> {
        unreachable!("the host never reads workflows")
    }

    async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
        self.counts.lock().unwrap().dispatches += 1;
        self.dispatched.lock().unwrap().push(dispatch.clone());
        Ok(RUN)
    }

    async fn runs(&self, _file: &str, _limit: usize) -> ForgeResult<Vec<WorkflowRun>> {
        self.counts.lock().unwrap().listings += 1;
        let dispatched = self.dispatched.lock().unwrap().clone();
        let mut runs = Vec::new();
        for dispatch in dispatched {
            let mut run = self.run_now(RUN, State::Queued);
            run.display_title = format!("Clambake agent {}", dispatch.key);
            runs.push(run);
        }
        Ok(runs)
    }

    async fn run(&self, id: RunId) -> ForgeResult<WorkflowRun> {
        assert_eq!(id, RUN);
        self.counts.lock().unwrap().runs += 1;
        let state = self.state();
        Ok(self.run_now(id, state))
    }

    async fn jobs(&self, _id: RunId) -> ForgeResult<Vec<Job>> {
        self.counts.lock().unwrap().jobs += 1;
        let done = match *self.current.lock().unwrap() {
            State::Running { steps_done } => steps_done,
            _ => 0,
        };
        Ok(vec![Job {
            id: 1,
            name: "agent".to_owned(),
            status: RunStatus::InProgress,
            conclusion: None,
            started_at: Some(at(1)),
            completed_at: None,
            steps: ["Checkout", "Install", "Clambake", "Upload"]
                .iter()
                .zip(1..)
                .map(|(name, n)| step(n, name, n <= done, n == done + 1))
                .collect(),
        }])
    }

    async fn logs(&self, _id: RunId) -> ForgeResult<Vec<JobLog>> {
        unreachable!("the host reads the artifact, not the logs")
    }

    async fn cancel(&self, _id: RunId) -> ForgeResult<()> {
        self.counts.lock().unwrap().cancels += 1;
        *self.script.lock().unwrap() = vec![State::Done(Conclusion::Cancelled)];
        Ok(())
    }

    async fn artifact(&self, id: RunId, name: &str) -> ForgeResult<Option<Vec<ArtifactFile>>> {
        assert_eq!((id, name), (RUN, artifact_name(7, 2).as_str()));
        self.counts.lock().unwrap().artifacts += 1;
        Ok(self.artifact.clone())
    }
}

fn uploaded(exit: &RemoteExit, events: &str) -> Vec<ArtifactFile> {
    vec![
        ArtifactFile {
            path: EVENTS_FILE.to_owned(),
            contents: events.as_bytes().to_vec(),
        },
        ArtifactFile {
            path: EXIT_FILE.to_owned(),
            contents: serde_json::to_vec(exit).unwrap(),
        },
    ]
}

fn succeeded() -> RemoteExit {
    RemoteExit {
        exit: Some(ExitStatus::Code(0)),
        terminated: None,
        committed_leftovers: false,
        pushed_head: Some("a".repeat(40)),
        error: None,
    }
}

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(600),
    timeout: Duration::from_secs(3600),
    grace: Duration::from_secs(10),
    budget: None,
};

const SETTINGS: FollowSettings = FollowSettings {
    poll: Duration::from_secs(5),
    workflow_timeout: Duration::from_secs(1800),
};

fn host(dir: &Path, actions: &Arc<ScriptedActions>) -> ActionsHost {
    let actions: Arc<dyn Actions> = actions.clone();
    let connect: Connect = Box::new(move || {
        let actions = actions.clone();
        Box::pin(async move { Ok(actions) })
    });
    ActionsHost::open(&dir.join("agents.db"), connect, SETTINGS).unwrap()
}

fn registered(dir: &Path) -> RegisteredAgent {
    RegisteredAgent {
        agent: "agent003".to_owned(),
        issue: 7,
        attempt: 2,
        handle: AgentHandle::Actions { run_id: RUN },
        runtime: "claude".to_owned(),
        reports_result: true,
        branch: "agent003/7-fix".to_owned(),
        base: "main".to_owned(),
        worktree: dir.join("wt"),
        logs: LogFiles::in_dir(&dir.join("logs"), "agent003", 7, 2),
        started_at: Timestamp::now(),
        containment: None,
    }
}

fn spec(dir: &Path) -> AgentSpec {
    AgentSpec {
        agent: "agent003".to_owned(),
        issue: 7,
        attempt: 2,
        title: "Fix".to_owned(),
        branch: "agent003/7-fix".to_owned(),
        worktree: dir.join("wt"),
        prompt: "fix".to_owned(),
        prompt_file: PathBuf::from("/nowhere"),
        resume_session: None,
        logs: LogFiles::in_dir(&dir.join("logs"), "agent003", 7, 2),
        claim: Some("c1a1".repeat(10)),
        max_budget_usd: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_dispatched_run_is_followed_to_its_end_and_judged_from_its_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let script = [
        State::Queued,
        State::Running { steps_done: 1 },
        State::Running { steps_done: 2 },
        State::Done(Conclusion::Success),
    ];
    let actions = ScriptedActions::new(&script, Some(uploaded(&succeeded(), RESULT)));
    let host = host(dir.path(), &actions);
    let runtime = ActionsRuntime {
        actions: actions.clone(),
        workflow: "clambake-agent.yml".to_owned(),
        git_ref: "main".to_owned(),
        name: "claude",
        reports_result: true,
    };
    let running = runtime.start(&spec(dir.path())).await.unwrap();
    let handle = host.handle(&running).unwrap();
    assert_eq!(handle, AgentHandle::Actions { run_id: RUN });
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    assert!(host.is_alive(&handle), "dispatched, not seen yet");
    let report = host
        .watch(running, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    assert_eq!(report.exit, ExitStatus::Code(0));
    assert_eq!(report.terminated, None);
    assert_eq!(
        report.totals.result.as_ref().map(|r| r.is_error),
        Some(false)
    );
    let log = std::fs::read_to_string(&entry.logs.stdout).unwrap();
    assert_eq!(log, RESULT, "the artifact's events are the attempt's log");
    // The status every poll, the jobs only while it ran, the artifact once.
    assert_eq!(actions.counts(), (1, 4, 2, 0, 1));
    let seen = host.run_progress(&handle).unwrap();
    assert_eq!(
        (seen.status, seen.conclusion),
        (RunStatus::Completed, Some(Conclusion::Success))
    );
    assert_eq!(
        (seen.steps_done, seen.steps_total, seen.step.as_deref()),
        (2, 4, Some("Clambake"))
    );
    assert_eq!(seen.requests, 2 + 4 + 2 + 1);
    assert_eq!(
        actions.counts.lock().unwrap().listings,
        1,
        "one look for an earlier dispatch"
    );
    assert!(seen.url.ends_with("/runs/4242"));
    assert!(!host.is_alive(&handle));
    let dispatch = actions.dispatched.lock().unwrap()[0].clone();
    let inputs: BTreeMap<&str, &str> = dispatch
        .inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        inputs,
        BTreeMap::from([
            ("attempt", "2"),
            ("branch", "agent003/7-fix"),
            ("claim", "c1a1c1a1c1a1c1a1c1a1c1a1c1a1c1a1c1a1c1a1"),
            ("issue", "7"),
            ("slot", "agent003"),
        ])
    );
    assert_eq!(
        (dispatch.workflow.as_str(), dispatch.git_ref.as_str()),
        ("clambake-agent.yml", "main")
    );
    assert!(
        dispatch.key.starts_with("agent003-7-2-"),
        "{}",
        dispatch.key
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_no_runner_takes_up_is_cancelled_as_stalled() {
    let dir = tempfile::tempdir().unwrap();
    let actions = ScriptedActions::new(&[State::Queued], None);
    let host = host(dir.path(), &actions);
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    let report = host
        .adopt(&entry, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    assert_eq!(report.terminated, Some(Termination::Stall));
    assert_eq!(
        report.exit,
        ExitStatus::Unknown,
        "no exit.json: it never ran"
    );
    let (_, _, jobs, cancels, artifacts) = actions.counts();
    assert_eq!(
        (jobs, cancels, artifacts),
        (0, 1, 1),
        "no jobs asked while queued"
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_run_is_not_stalled_by_a_long_step_but_times_out_at_the_workflow_limit() {
    let dir = tempfile::tempdir().unwrap();
    let actions = ScriptedActions::new(&[State::Running { steps_done: 2 }], None);
    let host = host(dir.path(), &actions);
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    let started = tokio::time::Instant::now();
    let report = host
        .adopt(&entry, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    assert_eq!(report.terminated, Some(Termination::Timeout));
    let waited = started.elapsed();
    // The workflow's 30 minutes, not the agent's 60, nor the 10 of a stall.
    assert!(
        waited >= Duration::from_secs(1800) && waited < Duration::from_secs(1900),
        "{waited:?}"
    );
    assert_eq!(actions.counts().3, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stop_asked_for_cancels_the_run_and_the_work_it_uploaded_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let cancelled = RemoteExit {
        exit: Some(ExitStatus::Signal(15)),
        ..succeeded()
    };
    let actions = ScriptedActions::new(
        &[State::Running { steps_done: 2 }],
        Some(uploaded(&cancelled, "")),
    );
    let host = Arc::new(host(dir.path(), &actions));
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    let (stop, stopped) = oneshot::channel();
    let watching = {
        let (host, entry) = (host.clone(), entry.clone());
        tokio::spawn(async move { host.adopt(&entry, LIMITS, stopped).await })
    };
    stop.send(()).unwrap();
    let report = watching.await.unwrap().unwrap();
    assert_eq!(report.terminated, Some(Termination::Requested));
    assert_eq!(report.exit, ExitStatus::Signal(15));
    assert_eq!(actions.counts().3, 1);
}

#[tokio::test(start_paused = true)]
async fn a_completed_run_is_judged_at_once_and_stop_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let actions = ScriptedActions::new(
        &[State::Done(Conclusion::Failure)],
        Some(uploaded(
            &RemoteExit {
                exit: Some(ExitStatus::Code(1)),
                ..succeeded()
            },
            "",
        )),
    );
    let host = host(dir.path(), &actions);
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    assert!(host.is_alive(&entry.handle), "as last seen: dispatched");
    host.refresh(std::slice::from_ref(&entry)).await;
    assert!(!host.is_alive(&entry.handle), "asked again: completed");
    assert_eq!(host.stop(&entry, LIMITS.grace).await, Stopped::AlreadyGone);
    let report = host
        .adopt(&entry, LIMITS, oneshot::channel().1)
        .await
        .unwrap();
    assert_eq!(report.exit, ExitStatus::Code(1));
    assert_eq!(actions.counts(), (0, 3, 0, 0, 1));
}

#[tokio::test]
async fn a_run_nothing_can_reach_is_known_as_last_seen() {
    let dir = tempfile::tempdir().unwrap();
    let connect: Connect = Box::new(|| Box::pin(async { Err("no token".to_owned()) }));
    let host = ActionsHost::open(&dir.path().join("agents.db"), connect, SETTINGS).unwrap();
    let entry = registered(dir.path());
    host.register(&entry).unwrap();
    assert!(host.is_alive(&entry.handle));
    assert_eq!(host.pid(&entry.handle), 0);
    assert!(
        host.adopt(&entry, LIMITS, oneshot::channel().1)
            .await
            .is_err()
    );
    assert_eq!(host.stop(&entry, LIMITS.grace).await, Stopped::AlreadyGone);
}

#[tokio::test(start_paused = true)]
async fn a_dispatch_an_orchestrator_made_before_it_was_killed_is_taken_up_not_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let actions = ScriptedActions::new(&[State::Queued], None);
    let runtime = ActionsRuntime {
        actions: actions.clone(),
        workflow: "clambake-agent.yml".to_owned(),
        git_ref: "main".to_owned(),
        name: "claude",
        reports_result: true,
    };
    let first = runtime.start(&spec(dir.path())).await.unwrap();
    let again = runtime.start(&spec(dir.path())).await.unwrap();
    assert_eq!((first.run, again.run), (Some(RUN), Some(RUN)));
    assert_eq!(actions.counts().0, 1, "dispatched once");
    let next = AgentSpec {
        attempt: 3,
        ..spec(dir.path())
    };
    runtime.start(&next).await.unwrap();
    assert_eq!(actions.counts().0, 2, "another attempt is another run");
}
