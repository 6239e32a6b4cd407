//! An idle run loop polls the forge with conditional reads only: every pass in which nothing
//! changed costs one "not modified" per listing it looks at, and a change made by another
//! process is read in full once, at the next pass.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::ports::forge::Number;
use clambake::ports::{Clock, SystemClock};

use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::{TestRepo, wait_for_async};

/// Conditional reads that came back "not modified".
const NOT_MODIFIED: &str = "issues_if_changed: not modified";
const PULLS_NOT_MODIFIED: &str = "pull_requests_if_changed: not modified";
/// Conditional reads that brought the items.
const MODIFIED: &str = "issues_if_changed: modified";
const PULLS_MODIFIED: &str = "pull_requests_if_changed: modified";

/// Logs every call by name, and what each conditional listing answered.
#[derive(Default)]
struct Log(Mutex<Vec<&'static str>>);

impl Log {
    /// The calls since the last time this was asked.
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Hook for Log {
    fn before(&self, name: &'static str, _number: Option<Number>) -> Verdict {
        if !name.ends_with("_if_changed") {
            self.0.lock().unwrap().push(name);
        }
        Verdict::Pass
    }

    fn listed(&self, name: &'static str, modified: bool) {
        let answer = match (name, modified) {
            ("issues_if_changed", false) => NOT_MODIFIED,
            ("issues_if_changed", true) => MODIFIED,
            (_, false) => PULLS_NOT_MODIFIED,
            (_, true) => PULLS_MODIFIED,
        };
        self.0.lock().unwrap().push(answer);
    }
}

/// The local forge, logging every call.
type Logged = Hooked<Log>;

/// Waits until the loop has logged a call satisfying `seen`, returning the calls so far.
async fn calls_until(forge: &Logged, seen: impl Fn(&[&str]) -> bool) -> Vec<&'static str> {
    let mut calls = Vec::new();
    wait_for_async("the loop to make the expected calls", async || {
        calls.extend(forge.hook.take());
        if seen(&calls) {
            Ok(calls.clone())
        } else {
            Err(format!("it made {calls:?}"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_loop_polls_with_conditional_reads_that_are_not_modified() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.clambake(&["issue", "create", "--title", "Not queued"])
        .success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = Arc::new(Logged {
        inner: workspace.open_forge(config.forge.backend).await.unwrap(),
        hook: Log::default(),
    });
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = Duration::from_millis(20);
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
    let (signals, shutdown) = tokio::sync::watch::channel(0);
    let running =
        tokio::spawn(async move { orchestrator.run(StopWhen::Never, shutdown, false).await });

    // Start-up reads every listing in full once (and checks for drift); then passes go idle.
    // A pass makes at most six listing reads: past ten "not modified", the first one is over.
    calls_until(&forge, |calls| {
        calls.iter().filter(|c| **c == NOT_MODIFIED).count() >= 10
    })
    .await;
    let idle = calls_until(&forge, |calls| calls.len() >= 30).await;
    assert!(
        idle.iter()
            .all(|c| [NOT_MODIFIED, PULLS_NOT_MODIFIED].contains(c)),
        "idle passes made other calls: {idle:?}"
    );

    // Another process changes the forge: the next pass reads each listing in full once, and
    // then the passes are idle again.
    repo.clambake(&["issue", "create", "--title", "Also not queued"])
        .success();
    let changed = calls_until(&forge, |calls| {
        calls.iter().skip_while(|c| **c != MODIFIED).count() > 30
    })
    .await;
    assert!(
        changed
            .iter()
            .all(|c| [MODIFIED, NOT_MODIFIED, PULLS_MODIFIED, PULLS_NOT_MODIFIED].contains(c)),
        "the pass after the change made other calls: {changed:?}"
    );
    let (last_modified, _) = changed
        .iter()
        .enumerate()
        .rfind(|(_, c)| [MODIFIED, PULLS_MODIFIED].contains(c))
        .unwrap();
    assert!(
        changed.len() - last_modified > 20,
        "the passes after the change did not go idle: {changed:?}"
    );

    signals.send(1).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_poll_interval_is_configuration_and_the_run_loop_reads_it() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    let get = |repo: &TestRepo| {
        repo.clambake(&["config", "get", "forge.poll_interval_seconds"])
            .success()
            .stdout
            .trim()
            .to_owned()
    };
    assert_eq!(get(&repo), "15", "the default");
    let refused = repo.clambake(&["config", "set", "forge.poll_interval_seconds", "0"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    repo.configure(&[
        ("forge.poll_interval_seconds", "1"),
        ("bundling.enabled", "false"),
    ]);
    assert_eq!(get(&repo), "1");

    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let settings = RunSettings::from_config(&config);
    assert_eq!(settings.poll_interval, Duration::from_secs(1));
    let forge = Arc::new(Logged {
        inner: workspace.open_forge(config.forge.backend).await.unwrap(),
        hook: Log::default(),
    });
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
    let (signals, shutdown) = tokio::sync::watch::channel(0);
    let running =
        tokio::spawn(async move { orchestrator.run(StopWhen::Never, shutdown, false).await });
    // Idle, the loop sleeps between passes; the next poll sees an issue queued meanwhile.
    calls_until(&forge, |calls| calls.contains(&NOT_MODIFIED)).await;
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Queued",
        "--label",
        "route:ready",
    ])
    .success();
    for _ in 0..600 {
        if repo.labels_of(1) == ["route:review"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(repo.labels_of(1), ["route:review"]);
    signals.send(1).unwrap();
    running.await.unwrap().unwrap();
}
