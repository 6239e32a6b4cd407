//! Frugal polling, and what it cost: the live view shows what the run loop's last pass read
//! and asks the forge nothing itself; the loop records the forge's request counts after each
//! pass, and `clambake status` shows them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::forge_usage::{self, FORGE_USAGE_FILE};
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::live::LiveSampler;
use clambake::app::run::orchestrator::{Orchestrator, Progress, RunSettings, StopWhen};
use clambake::ports::forge::{ForgeUsage, NewIssue, Number, RateLimit};
use clambake::ports::{Clock, SystemClock};
use jiff::Timestamp;

use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::TestRepo;

/// The calls that change the forge.
const CHANGES: [&str; 8] = [
    "ensure_label",
    "create_issue",
    "edit_labels",
    "set_issue_state",
    "create_comment",
    "create_pull_request",
    "merge_pull_request",
    "close_pull_request",
];

/// Counts every call by name, and reports them as a counting forge would its usage.
#[derive(Default)]
struct Counting {
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counting {
    fn total(&self) -> u64 {
        self.calls.lock().unwrap().values().sum()
    }
}

impl Hook for Counting {
    fn before(&self, name: &'static str, _number: Option<Number>) -> Verdict {
        *self.calls.lock().unwrap().entry(name).or_default() += 1;
        Verdict::Pass
    }

    fn usage(&self) -> Option<ForgeUsage> {
        let calls = self.calls.lock().unwrap();
        let mutations = CHANGES.iter().filter_map(|name| calls.get(name)).sum();
        Some(ForgeUsage {
            fresh_reads: calls.values().sum::<u64>() - mutations,
            not_modified: 0,
            mutations,
            rate_limit: Some(RateLimit {
                limit: 5000,
                remaining: 4000,
                reset: "2026-11-21T14:02:00Z".parse().unwrap(),
            }),
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_view_shows_the_last_pass_and_the_loop_records_its_forge_usage() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    repo.configure(&[("bundling.trigger", "manual")]);
    for n in 1..=2 {
        repo.create_issue(&format!("Task {n}"), "route:ready");
    }
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = Arc::new(Hooked {
        inner: workspace.open_forge(config.forge.backend).await.unwrap(),
        hook: Counting::default(),
    });
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = Duration::from_millis(50);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge.clone(),
        Arc::new(open_journal(&workspace).unwrap()),
        Arc::new(SimulatedRuntime),
        clock,
        settings,
    )
    .await
    .unwrap();
    let (progress, watched) = tokio::sync::watch::channel(Progress::default());
    orchestrator.report_progress(progress);
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    tokio::time::timeout(
        Duration::from_secs(120),
        orchestrator.run(StopWhen::Idle, shutdown, false),
    )
    .await
    .expect("the loop went idle")
    .unwrap();

    // After each pass the loop wrote what the forge counted: the last write is the total.
    let recorded = forge_usage::read(&workspace)
        .unwrap()
        .expect("the usage was recorded");
    assert_eq!(recorded.usage, forge.hook.usage().unwrap());
    assert!(recorded.usage.mutations > 0 && recorded.usage.fresh_reads > 0);

    // The forge changes after the last pass: a new ready issue.
    forge
        .inner
        .create_issue(&NewIssue {
            title: "Filed after the run".to_owned(),
            body: String::new(),
            labels: vec!["route:ready".to_owned()],
            assignees: Vec::new(),
        })
        .await
        .unwrap();
    let calls = forge.hook.total();
    let sampler = LiveSampler::open(&workspace).unwrap();
    let shown = watched.borrow().clone();
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(sampler.sample(&shown, Timestamp::now()).await.unwrap());
    }
    assert_eq!(forge.hook.total(), calls, "the live view asked the forge");
    for frame in &frames {
        let queue = frame.queue.expect("the loop's last pass read the queue");
        assert_eq!(
            (queue.ready, queue.claimed, queue.review),
            (0, 0, 2),
            "what the last pass read, not the forge now"
        );
        assert!(frame.next_train.is_some(), "the last train's decision");
    }
}

#[test]
fn status_shows_the_recorded_forge_usage_and_nothing_without_it() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let shown = repo.clambake(&["status"]).success();
    assert!(!shown.stdout.contains("forge requests"), "{}", shown.stdout);
    assert!(repo.clambake(&["status", "--json"]).success().json()["forge_usage"].is_null());

    let written = serde_json::json!({
        "written_at": "2026-11-21T13:58:10Z",
        "fresh_reads": 80,
        "not_modified": 300,
        "mutations": 40,
        "rate_limit": {"limit": 5000, "remaining": 4880, "reset": "2026-11-21T14:02:00Z"},
    });
    std::fs::write(
        repo.path().join(".clambake").join(FORGE_USAGE_FILE),
        written.to_string(),
    )
    .unwrap();
    let shown = repo.clambake(&["status"]).success();
    assert!(
        shown.stdout.contains(
            "forge requests: 120 charged (80 reads, 40 changes), 300 not modified (free); \
             rate limit 4,880 of 5,000, resets 14:02 UTC"
        ),
        "{}",
        shown.stdout
    );
    let json = repo.clambake(&["status", "--json"]).success().json();
    assert_eq!(json["forge_usage"], written);
}
