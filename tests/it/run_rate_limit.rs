//! The run loop waits out the forge's rate limit: the refused request changed nothing, so no
//! pass counts as failed and no attempt is judged for it; the loop asks nothing until the
//! limit resets, says when it resumes, and then goes on and lands everything.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, Progress, RunEvent, RunSettings, StopWhen};
use clambake::app::trains::disposal::Disposition;
use clambake::ports::forge::{ForgeError, Number};
use clambake::ports::journal::AttemptLog;
use clambake::ports::{Clock, SystemClock};
use jiff::{SignedDuration, Timestamp};

use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::TestRepo;

/// How long the limit stays spent: many poll intervals, and more failed passes than the loop
/// rides out, were they counted.
const SPENT_FOR: SignedDuration = SignedDuration::from_secs(3);

/// A forge whose rate limit runs out at the first landing comment, for [`SPENT_FOR`]: until
/// then it refuses every request, and counts them.
#[derive(Default)]
struct RateLimited {
    until: Mutex<Option<Timestamp>>,
    refused: AtomicU32,
}

impl Hook for RateLimited {
    fn before(&self, name: &'static str, _number: Option<Number>) -> Verdict {
        let now = Timestamp::now();
        let mut until = self.until.lock().unwrap();
        let limited = match *until {
            None if name == "create_comment" => *until.insert(now + SPENT_FOR),
            Some(reset) if now < reset => reset,
            _ => return Verdict::Pass,
        };
        self.refused.fetch_add(1, Ordering::SeqCst);
        Verdict::Refuse(ForgeError::RateLimited { until: limited })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_rate_limit_is_waited_out_and_fails_nothing() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    repo.configure(&[("bundling.enabled", "false")]);
    for n in 1..=3 {
        repo.create_issue(&format!("Task {n}"), "route:ready");
    }
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = Arc::new(Hooked {
        inner: workspace.open_forge(config.forge.backend).await.unwrap(),
        hook: RateLimited::default(),
    });
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = Duration::from_millis(50);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge.clone(),
        journal.clone(),
        Arc::new(SimulatedRuntime),
        clock,
        settings,
    )
    .await
    .unwrap();
    // What a live view is shown while the loop waits.
    let (progress, mut watched) = tokio::sync::watch::channel(Progress::default());
    orchestrator.report_progress(progress);
    let shown = tokio::spawn(async move {
        let mut resuming = None;
        while watched.changed().await.is_ok() {
            resuming = resuming.or(watched.borrow_and_update().rate_limited_until);
        }
        resuming
    });

    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    tokio::time::timeout(
        Duration::from_secs(120),
        orchestrator.run(StopWhen::Idle, shutdown, false),
    )
    .await
    .expect("the loop went idle")
    .expect("a spent rate limit does not end the run");

    let until = forge.hook.until.lock().unwrap().expect("the limit was hit");
    assert_eq!(
        forge.hook.refused.load(Ordering::SeqCst),
        1,
        "no request before the limit reset"
    );
    let events: Vec<&RunEvent> = orchestrator.events().iter().collect();
    let waits: Vec<&&RunEvent> = events
        .iter()
        .filter(|e| matches!(e, RunEvent::RateLimited { .. }))
        .collect();
    assert_eq!(waits.len(), 1, "{events:#?}");
    assert_eq!(*waits[0], &RunEvent::RateLimited { until });
    assert!(waits[0].to_string().starts_with(&format!(
        "rate limited, resuming at {}",
        until.strftime("%H:%M")
    )));
    for n in 1..=3 {
        let issue = forge.inner.issue(n).await.unwrap();
        assert_eq!(issue.labels, ["route:review"], "#{n}: {events:#?}");
        let attempts = journal.attempts(n).unwrap();
        assert_eq!(attempts.len(), 1, "#{n} was tried once: {attempts:?}");
    }
    assert!(
        events.iter().all(|e| match e {
            RunEvent::Disposed { disposition, .. } =>
                matches!(disposition, Disposition::Landed { .. }),
            RunEvent::Parked { .. } | RunEvent::Broken { .. } => false,
            _ => true,
        }),
        "{events:#?}"
    );
    drop(orchestrator);
    assert_eq!(shown.await.unwrap(), Some(until));
}
