//! Trains in the default configuration (`trigger = "schedule"`, every `schedule_minutes`):
//! work that lands within one window leaves together at the next departure, whatever the
//! departure before it carried, and one departure carries everything that waits.

use rstest::rstest;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clambake::adapters::agents::simulated::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::core::config::{BundleTrigger, BundlingConfig};
use clambake::core::queue::labels;
use clambake::core::text::closing::closed_issues;
use clambake::core::trains::schedule::BUNDLE_BRANCH_PREFIX;
use clambake::ports::Forge;
use clambake::ports::agent_host::Limits;
use clambake::ports::forge::{
    IssueFilter, IssueState, NewIssue, PullRequest, PullRequestFilter, PullRequestState,
};
use jiff::{SignedDuration, Timestamp};

use crate::backend::Backend;
use crate::orchestrator_props::FakeClock;
use crate::support::{TestRepo, wait_for_async};

/// How long the loop may take to get somewhere before the test gives up.
const PATIENCE: Duration = Duration::from_secs(120);

async fn open_pull_requests(forge: &dyn Forge) -> Vec<PullRequest> {
    forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await
        .unwrap()
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn five_issues_landing_in_one_window_leave_in_one_bundle(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "5"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let defaults = BundlingConfig::default();
    assert_eq!(config.bundling.trigger, BundleTrigger::Schedule);
    assert_eq!(config.bundling.schedule_minutes, defaults.schedule_minutes);
    assert_eq!(config.bundling.max_bundle_size, defaults.max_bundle_size);

    // A minute into a departure window; simulated time moves only when the test moves it.
    let period = i64::from(config.bundling.schedule_minutes) * 60;
    let now = Timestamp::now().as_second();
    let window = Timestamp::from_second(now - now.rem_euclid(period)).unwrap();
    let clock = Arc::new(FakeClock(Mutex::new(window + SignedDuration::from_mins(1))));
    let forge = repo.open_forge(clock.clone()).await;
    for n in 1..=5 {
        forge
            .create_issue(&NewIssue {
                title: format!("Task {n}"),
                body: "Do the work.".to_owned(),
                labels: vec![labels::READY.to_owned()],
                assignees: Vec::new(),
            })
            .await
            .unwrap();
    }
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let mut settings = RunSettings::from_config(&config);
    settings.limits = Limits {
        stall: Duration::from_secs(30),
        timeout: Duration::from_secs(60),
        grace: Duration::from_millis(50),
        budget: None,
    };
    settings.poll_interval = Duration::from_millis(20);
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge.clone(),
        journal,
        Arc::new(SimulatedRuntime),
        clock.clone(),
        settings,
    )
    .await
    .unwrap();
    let (signals, shutdown) = tokio::sync::watch::channel(0);

    let driver = async {
        let issues = || async {
            forge
                .issues(&IssueFilter {
                    state: Some(IssueState::Open),
                    labels: Vec::new(),
                })
                .await
                .unwrap()
        };
        // Every issue lands within this window.
        wait_for_async("all five to land", async || {
            let open = issues().await;
            open.len() == 5
                && open
                    .iter()
                    .all(|i| i.has_label(labels::REVIEW) || i.has_label(labels::BUNDLED))
        })
        .await;
        // The next departure.
        clock.advance(SignedDuration::from_secs(period));
        wait_for_async("every landed issue to leave", async || {
            let carried: Vec<u64> = open_pull_requests(forge.as_ref())
                .await
                .iter()
                .flat_map(|pr| closed_issues(&pr.body))
                .collect();
            (1..=5).all(|n| carried.contains(&n))
        })
        .await;
        signals.send_replace(1);
    };
    let run = orchestrator.run(StopWhen::Never, shutdown, false);
    let (ran, ()) = tokio::time::timeout(PATIENCE, async { tokio::join!(run, driver) })
        .await
        .expect("the loop stopped when told to");
    ran.unwrap();

    let open = open_pull_requests(forge.as_ref()).await;
    assert_eq!(open.len(), 1, "one pull request, the bundle: {open:#?}");
    assert!(open[0].head.starts_with(BUNDLE_BRANCH_PREFIX), "{open:#?}");
    // In boarding order, which follows the commits' wall-clock times: under load the agents'
    // commits fall in different seconds, so the order is not the issues' numbers.
    let mut carried = closed_issues(&open[0].body);
    carried.sort_unstable();
    assert_eq!(carried, [1, 2, 3, 4, 5]);
    for n in 1..=5 {
        assert_eq!(repo.labels_of(n), [labels::BUNDLED], "#{n}");
    }
}

/// 200 issues (on GitHub 10, more than one bundle holds: there each issue costs pushes and
/// requests, and 200 take minutes), simulated agents, the default configuration otherwise:
/// `--until-idle` ends with every issue carried by a pull request, however many bundles that
/// takes.
#[rstest]
fn until_idle_leaves_nothing_bundleable_behind(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let issues_made: u64 = match backend {
        Backend::Local => 200,
        Backend::Github => 10,
    };
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    // Reviewers never fall behind here (0 lifts both limits): this is about what trains leave.
    repo.configure(&[
        ("agents.max_in_review", "0"),
        ("bundling.max_open_bundles", "0"),
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let forge = runtime.block_on(repo.open_forge(Arc::new(clambake::ports::SystemClock)));
    runtime.block_on(async {
        for n in 1..=issues_made {
            forge
                .create_issue(&NewIssue {
                    title: format!("Task {n}"),
                    body: "Do the work.".to_owned(),
                    labels: vec![labels::READY.to_owned()],
                    assignees: Vec::new(),
                })
                .await
                .unwrap();
        }
    });

    let started = Instant::now();
    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    eprintln!(
        "{issues_made} issues ran until idle in {:?}",
        started.elapsed()
    );

    let (issues, prs) = runtime.block_on(async {
        let issues = forge.issues(&IssueFilter::open()).await.unwrap();
        let prs = forge
            .pull_requests(&PullRequestFilter::default())
            .await
            .unwrap();
        (issues, prs)
    });
    assert_eq!(
        issues.len() as u64,
        issues_made,
        "every issue is still open, in review"
    );
    let open: Vec<&PullRequest> = prs
        .iter()
        .filter(|pr| pr.state == PullRequestState::Open)
        .collect();
    let carried: Vec<u64> = open.iter().flat_map(|pr| closed_issues(&pr.body)).collect();
    for issue in &issues {
        let n = issue.number;
        assert!(
            carried.contains(&n),
            "#{n} ({:?}) is in no open pull request; the run: {summary:#}",
            issue.labels
        );
        assert!(
            issue.labels == [labels::BUNDLED] || issue.labels == [labels::REVIEW],
            "#{n}: {:?}",
            issue.labels
        );
    }
    let max = u64::from(BundlingConfig::default().max_bundle_size);
    for bundle in open
        .iter()
        .filter(|pr| pr.head.starts_with(BUNDLE_BRANCH_PREFIX))
    {
        assert!(
            closed_issues(&bundle.body).len() as u64 <= max,
            "{bundle:#?}"
        );
    }
}
