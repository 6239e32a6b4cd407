//! The run loop's escalation: a claim whose agent process is alive but silent, which ordinary
//! recovery cannot free (the loop's own attempt: recovery may not stop it under the loop), is
//! stopped once idle for `recovery.force_reset_after_minutes`, and its attempt judged like any
//! other. A real repository on each backend, a real agent process, and an injected clock that
//! jumps past the limit (the local forge keeps its time too; GitHub keeps its own).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::agents::CommandRuntime;
use clambake::app::Workspace;
use clambake::app::agents::attempt::open_host;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, RunEvent, RunSettings, StopWhen};
use clambake::core::lifecycle::machine::{Event, StateKind};
use clambake::core::queue::labels;
use clambake::ports::Forge;
use clambake::ports::agent_host::Limits;
use clambake::ports::journal::{AttemptLog, Journal};
use jiff::{SignedDuration, Timestamp};

use rstest::rstest;

use crate::backend::Backend;
use crate::orchestrator_props::FakeClock;
use crate::support::{TestRepo, is_alive, wait_for_async, write_script};

const BRANCH: &str = "agent001/1-stuck-task";

/// An agent that commits part of the work, leaves more uncommitted, says it is ready, and then
/// stays alive without a sound.
fn silent_agent(scripts: &Path) -> CommandRuntime {
    let ready = scripts.join("ready");
    let script = write_script(
        scripts,
        "agent.sh",
        &format!(
            "echo first > first.txt\n\
             git add first.txt\n\
             git commit --quiet -m 'First half'\n\
             echo second > second.txt\n\
             touch {}\n\
             exec sleep 120\n",
            ready.display()
        ),
    );
    CommandRuntime::new(script.display().to_string(), String::new())
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_attempt_of_the_loop_is_stopped_past_the_limit_and_judged(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    // One attempt: the stopped one is the last, so the issue fails with its work kept.
    repo.clambake(&["config", "set", "agents.max_attempts", "1"])
        .success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Stuck task",
        "--label",
        labels::READY,
    ])
    .success();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = silent_agent(scripts.path());

    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let force_after = config.recovery.force_reset_after_minutes;
    let clock = Arc::new(FakeClock(Mutex::new(Timestamp::now())));
    let forge: Arc<dyn Forge> = match backend {
        Backend::Local => Arc::new(workspace.open_local_forge(clock.clone()).await.unwrap()),
        Backend::Github => repo.open_configured_forge(&workspace).await,
    };
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let mut settings = RunSettings::from_config(&config);
    // The supervisor's own stall limit runs on real time and must not end the attempt first.
    settings.limits = Limits {
        stall: Duration::from_secs(60),
        timeout: Duration::from_secs(60),
        grace: Duration::from_millis(200),
        budget: None,
    };
    settings.poll_interval = Duration::from_millis(20);
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge.clone(),
        journal.clone(),
        Arc::new(runtime),
        clock.clone(),
        settings,
    )
    .await
    .unwrap();
    let (_signals, shutdown) = tokio::sync::watch::channel(0);

    let agent = async {
        let ready = scripts.path().join("ready");
        // Ready can come before the registration is written.
        let registered = wait_for_async("the agent to be ready and registered", async || {
            let mut listed = open_host(&workspace).unwrap().list().unwrap();
            if ready.exists() && listed.len() == 1 {
                Ok(listed.remove(0))
            } else {
                Err(format!("ready: {}, registered: {listed:?}", ready.exists()))
            }
        })
        .await;
        clock.advance(SignedDuration::from_mins(i64::from(force_after) + 1));
        registered
    };
    let run = tokio::time::timeout(
        Duration::from_secs(30),
        orchestrator.run(StopWhen::Idle, shutdown, false),
    );
    let (ran, agent) = tokio::join!(run, agent);
    ran.expect("the loop went idle after the reset").unwrap();

    assert!(!is_alive(&agent.handle), "the silent agent was stopped");
    assert!(open_host(&workspace).unwrap().list().unwrap().is_empty());
    let stopped: Vec<&RunEvent> = orchestrator
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                RunEvent::StuckStopped { .. } | RunEvent::ForceReset { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            stopped.as_slice(),
            [RunEvent::StuckStopped { agent, issue: 1, idle_minutes }]
                if agent == "agent001" && *idle_minutes >= i64::from(force_after)
        ),
        "{:?}",
        orchestrator.events()
    );

    // The slot is free, in the journal and on the forge; the stopped attempt counted.
    let issue = forge.issue(1).await.unwrap();
    assert_eq!(issue.labels, [labels::FAILED]);
    assert_eq!(
        journal.current_state("agent001").unwrap().kind(),
        StateKind::Idle
    );
    let history = journal.history("agent001").unwrap();
    let events: Vec<&Event> = history.iter().map(|entry| &entry.event).collect();
    assert!(matches!(events.last(), Some(Event::Abandon)), "{events:?}");
    let attempts = journal.attempts(1).unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].outcome, "killed");

    // No work lost: both halves, committed and left uncommitted, are on the kept branch.
    let tip = repo.git(&["rev-parse", BRANCH]);
    for (file, text) in [("first.txt", "first"), ("second.txt", "second")] {
        assert_eq!(repo.git(&["show", &format!("{tip}:{file}")]), text);
    }
    repo.assert_no_violations();
}
