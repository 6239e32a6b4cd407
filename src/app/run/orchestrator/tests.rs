//! The loop's handlers, one input at a time, on a temporary repository with the local forge and
//! no agent process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

mod budget;

use super::input::task_end;
use super::*;
use crate::adapters::agents::SimulatedRuntime;
use crate::adapters::git::Git;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::setup::init::init;
use crate::app::trains::disposal::Disposition;
use crate::core::config::ForgeBackend;
use crate::core::queue::labels;
use crate::ports::SystemClock;
use crate::ports::forge::NewIssue;
use crate::ports::git::Author;
use crate::ports::processes::{ObservedProcess, ProcessResult};

/// A loop on a fresh repository with one commit, `clambake init`ed for two agents.
async fn orchestrator() -> (tempfile::TempDir, Orchestrator) {
    let dir = tempfile::tempdir().unwrap();
    Git::init(dir.path(), "main").await.unwrap();
    std::fs::write(dir.path().join("README.md"), "start\n").unwrap();
    let author = Author {
        name: "Test",
        email: "test@clambake.localhost",
    };
    assert!(
        Git::new(dir.path())
            .commit_all("start", author)
            .await
            .unwrap()
    );
    let workspace = Workspace::discover(dir.path()).await.unwrap();
    init(&workspace, ForgeBackend::Local, Some(2))
        .await
        .unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = workspace.open_forge(config.forge.backend).await.unwrap();
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let settings = RunSettings::from_config(&config);
    let orchestrator = Orchestrator::new(
        workspace,
        config,
        forge,
        journal,
        Arc::new(SimulatedRuntime),
        Arc::new(SystemClock),
        settings,
    )
    .await
    .unwrap();
    (dir, orchestrator)
}

/// Puts an attempt of `agent` at `issue` in flight, with a task that never ends; returns its
/// task and what its stop request reaches.
fn in_flight(
    orchestrator: &mut Orchestrator,
    tasks: &mut JoinSet<()>,
    agent: &str,
    issue: u64,
) -> (Id, oneshot::Receiver<()>) {
    let task = tasks.spawn(std::future::pending()).id();
    let (stop, stopped) = oneshot::channel();
    orchestrator.in_flight.insert(
        agent.to_owned(),
        InFlight {
            issue,
            attempt: 1,
            started: orchestrator.clock.now(),
            task,
            stop: Some(stop),
            interrupted: false,
            elsewhere: false,
            cap: None,
        },
    );
    (task, stopped)
}

#[tokio::test]
async fn a_signal_stops_claiming_and_interrupts_every_attempt_once() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let mut tasks = JoinSet::new();
    let (_, mut first) = in_flight(&mut orchestrator, &mut tasks, "agent001", 1);
    let (_, mut second) = in_flight(&mut orchestrator, &mut tasks, "agent002", 2);

    assert!(
        !orchestrator.on_signal(false),
        "the loop goes on to dispose"
    );
    assert!(!orchestrator.claiming && orchestrator.shutting_down);
    assert_eq!(first.try_recv(), Ok(()));
    assert_eq!(second.try_recv(), Ok(()));
    assert!(orchestrator.in_flight.values().all(|f| f.interrupted));
    // A second signal changes nothing here (the caller ends the process).
    assert!(!orchestrator.on_signal(true));
}

#[tokio::test]
async fn a_signal_detaching_the_agents_ends_the_loop_and_leaves_them_running() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let mut tasks = JoinSet::new();
    let (_, mut stopped) = in_flight(&mut orchestrator, &mut tasks, "agent001", 1);

    assert!(orchestrator.on_signal(true), "the loop returns at once");
    assert!(!orchestrator.claiming);
    assert!(stopped.try_recv().is_err(), "no stop was sent");
    assert!(orchestrator.in_flight.values().all(|f| !f.interrupted));
}

#[tokio::test]
async fn a_panicking_task_ends_with_its_message() {
    let mut tasks: JoinSet<Result<AttemptResult, AttemptError>> = JoinSet::new();
    let id = tasks
        .spawn(async { panic!("worktree {} vanished", 7) })
        .id();
    let (task, end) = task_end(tasks.join_next_with_id().await.unwrap());
    assert_eq!(task, id);
    assert!(matches!(end, TaskEnd::Panicked(message) if message == "worktree 7 vanished"));
}

#[tokio::test]
async fn a_panicked_attempt_is_judged_a_crash_and_its_slot_freed() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let issue = orchestrator
        .forge
        .create_issue(&NewIssue {
            title: "Task".to_owned(),
            labels: vec!["agent001".to_owned()],
            ..NewIssue::default()
        })
        .await
        .unwrap();
    let mut tasks = JoinSet::new();
    let (task, _stopped) = in_flight(&mut orchestrator, &mut tasks, "agent001", issue.number);

    orchestrator.on_attempt_done(task, TaskEnd::Panicked("boom".to_owned()));
    orchestrator.dispose_ended().await;

    assert!(orchestrator.in_flight.is_empty() && orchestrator.pending.is_empty());
    assert!(
        matches!(orchestrator.events().back(), Some(RunEvent::Disposed {
            issue: 1, outcome, disposition: Disposition::Retrying { .. }, ..
        }) if outcome == "crashed"),
        "{:?}",
        orchestrator.events()
    );
    let attempts = orchestrator.journal.attempts(issue.number).unwrap();
    assert!(
        matches!(attempts.as_slice(), [a] if a.outcome == "crashed" && a.reason.ends_with("panicked: boom")),
        "{attempts:?}"
    );
    let forge = orchestrator.forge.clone();
    assert_eq!(
        forge.issue(issue.number).await.unwrap().labels,
        [labels::READY]
    );
    let comments = forge.comments(issue.number).await.unwrap();
    assert!(
        comments.iter().any(|c| c
            .body
            .contains("crashed: Clambake's attempt task panicked: boom")),
        "{comments:?}"
    );
}

/// Agent processes that are never there, and the agents asked to stop.
struct StopRequests(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl AgentProcesses for StopRequests {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        Ok(Vec::new())
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        self.0.lock().unwrap().push(agent.to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn a_task_that_panicked_during_a_shutdown_has_its_agent_stopped_and_its_claim_kept() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let stops = Arc::new(Mutex::new(Vec::new()));
    orchestrator.processes = Box::new(StopRequests(stops.clone()));
    let mut tasks = JoinSet::new();
    let (task, _stopped) = in_flight(&mut orchestrator, &mut tasks, "agent001", 1);
    assert!(!orchestrator.on_signal(false));

    orchestrator.on_attempt_done(task, TaskEnd::Panicked("boom".to_owned()));
    orchestrator.dispose_ended().await;

    // Its watcher went with the task: the agent would outlive the run, unwatched.
    assert_eq!(*stops.lock().unwrap(), ["agent001"]);
    assert!(
        matches!(
            orchestrator.events().back(),
            Some(RunEvent::Interrupted { issue: 1, .. })
        ),
        "{:?}",
        orchestrator.events()
    );
    assert!(
        orchestrator.journal.attempts(1).unwrap().is_empty(),
        "no attempt is counted"
    );
}

#[tokio::test]
async fn an_idle_pass_with_nothing_ready_is_done_only_when_the_loop_stops_when_idle() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let mut routed_once = false;
    assert!(
        !orchestrator
            .pass(StopWhen::Never, &mut routed_once)
            .await
            .unwrap()
    );
    assert!(
        orchestrator
            .pass(StopWhen::Idle, &mut routed_once)
            .await
            .unwrap()
    );
    assert!(orchestrator.events().is_empty());
}

/// A clock that stands still.
struct Stopped(jiff::Timestamp);

impl Clock for Stopped {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

#[tokio::test]
async fn the_loop_wakes_at_the_poll_interval_or_sooner_for_a_retry() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    orchestrator.clock = Arc::new(Stopped(now));
    orchestrator.settings.poll_interval = Duration::from_secs(15);
    assert_eq!(orchestrator.next_wake(), Duration::from_secs(15));
    orchestrator.retry_at = Some(now + jiff::SignedDuration::from_secs(60));
    assert_eq!(orchestrator.next_wake(), Duration::from_secs(15));
    orchestrator.retry_at = Some(now + jiff::SignedDuration::from_secs(5));
    assert_eq!(orchestrator.next_wake(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_long_rate_limit_wait_still_wakes_the_loop_each_poll_interval_to_say_it_is_alive() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    orchestrator.clock = Arc::new(Stopped(now));
    orchestrator.settings.poll_interval = Duration::from_secs(15);
    orchestrator.wait_out_rate_limit(now + jiff::SignedDuration::from_hours(1));
    assert_eq!(orchestrator.next_wake(), Duration::from_secs(15));
}

#[test]
fn the_poll_interval_comes_from_the_configuration() {
    let mut config = Config::default();
    assert_eq!(
        RunSettings::from_config(&config).poll_interval,
        Duration::from_secs(15)
    );
    config.forge.poll_interval_seconds = 2;
    assert_eq!(
        RunSettings::from_config(&config).poll_interval,
        Duration::from_secs(2)
    );
}

#[tokio::test]
async fn the_branch_of_an_attempt_on_a_runner_is_left_to_the_runner_to_push() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let mut tasks = JoinSet::new();
    let base = orchestrator.workspace.base_tip("main").await.unwrap();
    for branch in ["agent001/1-here", "agent002/2-there"] {
        orchestrator
            .workspace
            .refs()
            .create_branch(branch, &base)
            .await
            .unwrap();
    }
    in_flight(&mut orchestrator, &mut tasks, "agent001", 1);
    in_flight(&mut orchestrator, &mut tasks, "agent002", 2);
    orchestrator
        .in_flight
        .get_mut("agent002")
        .unwrap()
        .elsewhere = true;
    orchestrator.publish_work().await;
    let published: Vec<&str> = orchestrator.published.keys().map(String::as_str).collect();
    assert_eq!(published, ["agent001/1-here"]);
}

#[tokio::test]
async fn a_remote_slot_dispatches_to_actions_only_while_the_rollback_switch_lets_it() {
    let (_dir, mut orchestrator) = orchestrator().await;
    orchestrator.config.github_actions.enabled = true;
    orchestrator.config.agents.actions_slots = 1;
    orchestrator.settings = RunSettings::with_slots(&orchestrator.config, 2);
    assert_eq!(
        orchestrator.settings.max_concurrent, 3,
        "local and remote together"
    );
    let elsewhere =
        |orchestrator: &Orchestrator, agent: &str| orchestrator.runtime_for(agent).runs_elsewhere();
    assert!(
        !elsewhere(&orchestrator, "agent003"),
        "no Actions to run on yet"
    );
    orchestrator = orchestrator.with_actions(Arc::new(crate::app::tests::MemoryActions::active()));
    assert!(elsewhere(&orchestrator, "agent003"));
    assert!(!elsewhere(&orchestrator, "agent002"), "a local slot");
    // `clambake rollback --feature actions`, as the next pass reads it: the slot runs here.
    orchestrator.config.github_actions.enabled = false;
    assert!(!elsewhere(&orchestrator, "agent003"));
}

#[tokio::test]
async fn old_logs_are_pruned_at_the_first_pass_then_once_a_day_sparing_attempts_in_flight() {
    let (dir, mut orchestrator) = orchestrator().await;
    orchestrator.config.logs.keep_days = 10;
    let start = jiff::Timestamp::now();
    let logs = dir.path().join(".clambake/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let written = |name: &str, hours_ago: i64| {
        let path = logs.join(name);
        std::fs::write(&path, "{}\n").unwrap();
        let at = start - jiff::SignedDuration::from_hours(hours_ago);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(at.into()).unwrap();
        path
    };
    // Ten days less six hours old at the start.
    let ageing = written("agent002-5-1.jsonl", 10 * 24 - 6);
    let in_flight_log = written("agent001-3-1.jsonl", 90 * 24);
    let mut tasks = JoinSet::new();
    let _stop = in_flight(&mut orchestrator, &mut tasks, "agent001", 3);
    let at = |hours: i64| Arc::new(Stopped(start + jiff::SignedDuration::from_hours(hours)));

    orchestrator.clock = at(0);
    orchestrator.prune_when_due().await;
    assert!(ageing.exists(), "not old enough yet");
    orchestrator.clock = at(12);
    orchestrator.prune_when_due().await;
    assert!(
        ageing.exists(),
        "old enough, but pruned less than a day ago"
    );
    orchestrator.clock = at(24);
    orchestrator.prune_when_due().await;
    assert!(!ageing.exists(), "a day later it is pruned");
    assert!(
        in_flight_log.exists(),
        "an attempt in flight keeps its issue's logs"
    );
    tasks.abort_all();
}
