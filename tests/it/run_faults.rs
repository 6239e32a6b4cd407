//! The run loop against a forge that fails now and then, and an attempt that panics: it rides
//! the faults out and still lands every other issue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, Progress, RunEvent, RunSettings, StopWhen};
use clambake::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};
use clambake::ports::forge::{ForgeError, NewIssue, Number, PullRequestFilter};
use clambake::ports::journal::AttemptLog;
use clambake::ports::{Clock, SystemClock};

use rstest::rstest;

use crate::backend::Backend;
use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::{TestRepo, wait_for_async};

/// The calls a flaky network fails now and then: the loop's reads and label and comment writes.
const FLAKY_CALLS: [&str; 5] = [
    "issue",
    "issues",
    "issues_if_changed",
    "edit_labels",
    "create_comment",
];

/// Fails every `every`th of [`FLAKY_CALLS`], as a flaky network would, and refuses every
/// comment on `stuck_issue` while `stuck` holds.
struct Flaky {
    calls: AtomicU32,
    every: u32,
    failed: AtomicU32,
    stuck_issue: Number,
    stuck: AtomicBool,
}

impl Flaky {
    fn new(every: u32) -> Self {
        Self {
            calls: AtomicU32::new(0),
            every,
            failed: AtomicU32::new(0),
            stuck_issue: 0,
            stuck: AtomicBool::new(false),
        }
    }
}

impl Hook for Flaky {
    fn before(&self, name: &'static str, number: Option<Number>) -> Verdict {
        if !FLAKY_CALLS.contains(&name) {
            return Verdict::Pass;
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call.is_multiple_of(self.every) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Verdict::Refuse(ForgeError::Backend(format!("injected fault in {name}")));
        }
        if name == "create_comment"
            && number == Some(self.stuck_issue)
            && self.stuck.load(Ordering::SeqCst)
        {
            return Verdict::Refuse(ForgeError::Backend(format!(
                "comments on #{} refused",
                self.stuck_issue
            )));
        }
        Verdict::Pass
    }
}

type FlakyForge = Hooked<Flaky>;

/// A repository on `backend` with `agents` slots, bundling off and `issues` ready issues, and
/// an orchestrator on it whose forge is `flaky` (built around the backend's forge).
async fn flaky_loop(
    backend: Backend,
    agents: &str,
    issues: u64,
    poll: Duration,
    flaky: Flaky,
) -> (TestRepo, Arc<FlakyForge>, Orchestrator) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", agents]).success();
    repo.clambake(&["config", "set", "bundling.enabled", "false"])
        .success();
    for n in 1..=issues {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let flaky = Arc::new(Hooked {
        inner: repo.open_configured_forge(&workspace).await,
        hook: flaky,
    });
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = poll;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        flaky.clone(),
        Arc::new(open_journal(&workspace).unwrap()),
        Arc::new(SimulatedRuntime),
        clock,
        settings,
    )
    .await
    .unwrap();
    (repo, flaky, orchestrator)
}

/// Refuses every comment on #1 while `stuck` holds.
fn stuck_on_first() -> Flaky {
    Flaky {
        stuck_issue: 1,
        stuck: AtomicBool::new(true),
        ..Flaky::new(u32::MAX)
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_flaky_forge_slows_the_loop_but_every_issue_still_lands(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let (repo, flaky, mut orchestrator) =
        flaky_loop(backend, "2", 4, Duration::from_millis(50), Flaky::new(7)).await;
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    orchestrator
        .run(StopWhen::Idle, shutdown, false)
        .await
        .unwrap();

    assert!(
        flaky.hook.failed.load(Ordering::SeqCst) > 0,
        "faults were injected"
    );
    for n in 1..=4 {
        let issue = flaky.inner.issue(n).await.unwrap();
        assert_eq!(issue.labels, ["route:review"], "#{n}");
    }
    let prs = flaky
        .inner
        .pull_requests(&PullRequestFilter::default())
        .await
        .unwrap();
    assert_eq!(prs.len(), 4, "each landed once, with one pull request");
    repo.assert_no_violations();
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_whose_disposal_keeps_failing_holds_up_no_other_slot(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let (repo, flaky, mut orchestrator) = flaky_loop(
        backend,
        "2",
        3,
        Duration::from_millis(200),
        stuck_on_first(),
    )
    .await;
    // #1's landing comment is refused until #3, which needs #2's slot, has been claimed.
    let release = {
        let flaky = flaky.clone();
        async move {
            wait_for_async("#3 to be claimed", async || {
                let third = flaky.inner.issue(3).await.unwrap();
                third.labels.iter().any(|l| l.starts_with("agent"))
            })
            .await;
            flaky.hook.stuck.store(false, Ordering::SeqCst);
        }
    };
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    let run = tokio::time::timeout(
        Duration::from_secs(30),
        orchestrator.run(StopWhen::Idle, shutdown, false),
    );
    let (ran, _) = tokio::join!(run, tokio::time::timeout(Duration::from_secs(30), release));
    ran.expect("the loop went idle").unwrap();

    let position =
        |wanted: &dyn Fn(&RunEvent) -> bool| orchestrator.events().iter().position(wanted).unwrap();
    let third_claimed = position(&|e| matches!(e, RunEvent::Claimed { issue: 3, .. }));
    let first_disposed = position(&|e| matches!(e, RunEvent::Disposed { issue: 1, .. }));
    assert!(
        third_claimed < first_disposed,
        "{:?}",
        orchestrator.events()
    );
    for n in 1..=3 {
        let issue = flaky.inner.issue(n).await.unwrap();
        assert_eq!(issue.labels, ["route:review"], "#{n}");
    }
    repo.assert_no_violations();
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_whose_disposal_never_succeeds_is_parked_and_its_slot_rests(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let (repo, flaky, mut orchestrator) =
        flaky_loop(backend, "2", 2, Duration::from_millis(20), stuck_on_first()).await;
    let (progress, mut watched) = tokio::sync::watch::channel(Progress::default());
    orchestrator.report_progress(progress);
    let (signals, shutdown) = tokio::sync::watch::channel(0);
    // Once #1 is parked, more work arrives; when it has all landed, the run is stopped.
    let feed = {
        let flaky = flaky.clone();
        async move {
            while !watched
                .borrow_and_update()
                .recent
                .iter()
                .any(|e| matches!(e, RunEvent::Parked { .. }))
            {
                watched.changed().await.unwrap();
            }
            let mut arrived = vec![2];
            for n in 3..=6 {
                let issue = flaky
                    .inner
                    .create_issue(&NewIssue {
                        title: format!("Task {n}"),
                        labels: vec!["route:ready".to_owned()],
                        ..NewIssue::default()
                    })
                    .await
                    .unwrap();
                arrived.push(issue.number);
            }
            wait_for_async(
                "the work that arrived after the parking to land",
                async || {
                    let mut landed = 0;
                    for n in &arrived {
                        if flaky.inner.issue(*n).await.unwrap().labels == ["route:review"] {
                            landed += 1;
                        }
                    }
                    landed == arrived.len()
                },
            )
            .await;
            signals.send(1).unwrap();
        }
    };
    let run = orchestrator.run(StopWhen::Never, shutdown, false);
    let (ran, fed) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(30), run),
        tokio::time::timeout(Duration::from_secs(30), feed)
    );
    fed.expect("the work that arrived after the parking landed");
    ran.expect("the run stopped").unwrap();

    let parked: Vec<&RunEvent> = orchestrator
        .events()
        .iter()
        .filter(|e| matches!(e, RunEvent::Parked { .. }))
        .collect();
    assert!(
        matches!(parked.as_slice(), [RunEvent::Parked { issue: 1, error, .. }] if error.contains("comments on #1 refused")),
        "{:?}",
        orchestrator.events()
    );
    // The parked slot took nothing else in this run: its verdict waits for the next one.
    let agent001: Vec<&RunEvent> = orchestrator
        .events()
        .iter()
        .filter(|e| matches!(e, RunEvent::Claimed { agent, .. } if agent == "agent001"))
        .collect();
    assert!(
        matches!(agent001.as_slice(), [RunEvent::Claimed { issue: 1, .. }]),
        "{agent001:?}"
    );
    // Landing moved its labels before its comment was refused; the comment is what is left.
    assert_eq!(flaky.inner.issue(1).await.unwrap().labels, ["route:review"]);
    repo.assert_no_violations();
}

/// The simulated agent, except that starting it on `panics_on` panics, as a bug in an
/// attempt's own code would.
struct PanicsOn {
    panics_on: u64,
}

#[async_trait::async_trait]
impl AgentRuntime for PanicsOn {
    fn name(&self) -> &'static str {
        SimulatedRuntime.name()
    }

    fn reports_result(&self) -> bool {
        SimulatedRuntime.reports_result()
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        if spec.issue == self.panics_on {
            panic!("injected panic on #{}", spec.issue);
        }
        SimulatedRuntime.start(spec).await
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_attempt_is_judged_a_crash_with_its_message_and_the_run_goes_on(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "2"]).success();
    repo.configure(&[("bundling.enabled", "false"), ("agents.max_attempts", "1")]);
    for n in 1..=3 {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = repo.open_configured_forge(&workspace).await;
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = Duration::from_millis(50);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut orchestrator = Orchestrator::new(
        workspace,
        config,
        forge.clone(),
        journal.clone(),
        Arc::new(PanicsOn { panics_on: 2 }),
        clock,
        settings,
    )
    .await
    .unwrap();
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    tokio::time::timeout(
        Duration::from_secs(60),
        orchestrator.run(StopWhen::Idle, shutdown, false),
    )
    .await
    .expect("the loop went idle")
    .unwrap();

    for n in [1, 3] {
        assert_eq!(
            forge.issue(n).await.unwrap().labels,
            ["route:review"],
            "#{n}"
        );
    }
    let panicked = forge.issue(2).await.unwrap();
    assert_eq!(panicked.labels, ["route:failed"]);
    let attempts = journal.attempts(2).unwrap();
    assert!(
        matches!(attempts.as_slice(), [a] if a.outcome == "crashed"
            && a.reason.contains("panicked") && a.reason.contains("injected panic on #2")),
        "{attempts:?}"
    );
    let comments = forge.comments(2).await.unwrap();
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("crashed") && c.body.contains("injected panic on #2")),
        "{comments:?}"
    );
    assert!(
        orchestrator.events().iter().any(|e| matches!(e,
            RunEvent::Disposed { issue: 2, outcome, .. } if outcome == "crashed")),
        "{:?}",
        orchestrator.events()
    );
    repo.assert_no_violations();
}
