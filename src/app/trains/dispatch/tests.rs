//! The train with the bundling workflow, on a temporary repository with the local forge and an
//! in-memory GitHub Actions: what is dispatched, followed, adopted, or made here instead.

use std::process::Command;
use std::sync::Arc;

use super::*;
use crate::adapters::git::Git;
use crate::app::Workspace;
use crate::app::lifecycle::transitions::{open_journal, transition};
use crate::app::setup::init::init;
use crate::app::tests::MemoryActions;
use crate::core::config::{Config, ForgeBackend};
use crate::core::lifecycle::machine::{Event, State};
use crate::core::queue::labels;
use crate::ports::Forge;
use crate::ports::forge::{NewIssue, PullRequestState};
use crate::ports::git::Author;
use crate::ports::journal::Store;

/// A clock stopped at one moment.
struct Stopped(Timestamp);

impl Clock for Stopped {
    fn now(&self) -> Timestamp {
        self.0
    }
}

struct Fixture {
    /// When it was made: the landings and the forge's records are stamped by the real clock.
    start: Timestamp,
    dir: tempfile::TempDir,
    workspace: Workspace,
    config: Config,
    forge: Arc<dyn Forge>,
    journal: Box<dyn Store>,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@clambake.localhost")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@clambake.localhost")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A repository `init`ed on the local forge, trains on `on_land`, with two issues in review
/// whose agent branches each add a file.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Git::init(dir.path(), "main").await.unwrap();
    std::fs::write(dir.path().join("README.md"), "start\n").unwrap();
    let author = Author {
        name: "Test",
        email: "test@clambake.localhost",
    };
    Git::new(dir.path())
        .commit_all("start", author)
        .await
        .unwrap();
    let workspace = Workspace::discover(dir.path()).await.unwrap();
    init(&workspace, ForgeBackend::Local, Some(2))
        .await
        .unwrap();
    let mut config = workspace.load_config().unwrap().config;
    config.bundling.trigger = BundleTrigger::OnLand;
    let forge = workspace.open_forge(config.forge.backend).await.unwrap();
    for (n, slot) in [(1, "agent001"), (2, "agent002")] {
        let issue = forge
            .create_issue(&NewIssue {
                title: format!("Task {n}"),
                labels: vec![labels::REVIEW.to_owned()],
                ..NewIssue::default()
            })
            .await
            .unwrap();
        let branch = format!("{slot}/{}-task", issue.number);
        git(dir.path(), &["checkout", "-q", "-b", &branch, "main"]);
        let file = format!("{n}.txt");
        std::fs::write(dir.path().join(&file), "work\n").unwrap();
        git(dir.path(), &["add", &file]);
        git(dir.path(), &["commit", "-q", "-m", "work"]);
        git(dir.path(), &["checkout", "-q", "main"]);
    }
    let journal = Box::new(open_journal(&workspace).unwrap());
    // Each slot landed its issue here.
    for (issue, slot) in [(1, "agent001"), (2, "agent002")] {
        let assign = Event::Assign {
            agent_id: slot.to_owned(),
            issue,
            branch: format!("{slot}/{issue}-task"),
        };
        let landing = [
            assign,
            Event::StartWork { commits_ahead: 1 },
            Event::CompleteWork,
        ];
        for event in landing {
            transition(journal.as_ref(), slot, &event, "test", Timestamp::now()).unwrap();
        }
    }
    Fixture {
        start: Timestamp::now(),
        dir,
        workspace,
        config,
        forge,
        journal,
    }
}

impl Fixture {
    fn bundler(&self) -> Bundler<'_> {
        Bundler {
            git: self.workspace.repository(),
            forge: self.forge.as_ref(),
            config: &self.config.bundling,
            journal: Some(self.journal.as_ref()),
            train_log: self.journal.as_ref(),
            state_dir: self.workspace.state_dir(),
            verification: None,
            rework: None,
        }
    }

    /// The train `minutes` after the fixture was made.
    async fn train(&self, actions: &MemoryActions, minutes: i64) -> TrainReport {
        let now = self.start + SignedDuration::from_mins(minutes);
        let clock = Stopped(now);
        let workflow = BundlingWorkflow {
            actions,
            clock: &clock,
            file: "clambake-bundling.yml",
            git_ref: "main",
            timeout: SignedDuration::from_mins(30),
            repository_url: "https://github.com/o/r".to_owned(),
        };
        workflow.train(&self.bundler(), now, false).await.unwrap()
    }

    async fn open_pull_requests(&self) -> usize {
        let prs = self
            .forge
            .pull_requests(&PullRequestFilter::default())
            .await
            .unwrap();
        prs.iter()
            .filter(|pr| pr.state == PullRequestState::Open)
            .count()
    }

    fn last_departure(&self) -> Option<DepartureRecord> {
        self.journal.last_departure().unwrap()
    }
}

#[tokio::test]
async fn a_due_departure_is_dispatched_and_followed_without_bundling_here() {
    let fixture = fixture().await;
    let actions = MemoryActions::active();

    let report = fixture.train(&actions, 0).await;

    assert!(report.bundles.is_empty() && report.individual.is_empty());
    let dispatches = actions.dispatches.lock().unwrap().clone();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(
        dispatches[0].inputs[FORCE_INPUT], "true",
        "on_land forces it"
    );
    assert_eq!(fixture.open_pull_requests().await, 0);
    let run = run_out(&fixture.workspace.state_dir()).unwrap().unwrap();
    assert_eq!(run.run, 101);
    assert!(run.timings.dispatched_at.is_some() && run.timings.landed_at.is_some());

    // Queued, later passes read its status once each, and neither dispatch nor bundle.
    for minutes in [5, 10] {
        fixture.train(&actions, minutes).await;
    }
    assert_eq!(actions.dispatches.lock().unwrap().len(), 1);
    assert_eq!(*actions.reads.lock().unwrap(), [101, 101]);
    assert_eq!(fixture.open_pull_requests().await, 0);
    assert_eq!(fixture.last_departure(), None);
    let run = run_out(&fixture.workspace.state_dir()).unwrap().unwrap();
    assert!(run.timings.queued_at.is_some(), "{run:?}");
    assert_eq!(run.url, "https://github.com/o/r/actions/runs/101");
}

#[tokio::test]
async fn a_missing_workflow_makes_the_train_depart_here_saying_why() {
    let fixture = fixture().await;
    let actions = MemoryActions::default();

    let report = fixture.train(&actions, 0).await;

    assert_eq!(report.bundles.len(), 1, "{report:?}");
    assert!(actions.dispatches.lock().unwrap().is_empty());
    let departure = fixture.last_departure().unwrap();
    let DepartedFrom::Fallback { why, run: None } = &departure.made_by else {
        panic!("{departure:?}");
    };
    assert!(why.contains("could not be dispatched"), "{why}");
    assert_eq!(departure.pull_requests, [report.bundles[0].number]);
}

#[tokio::test]
async fn a_disabled_workflow_is_not_dispatched_to() {
    let fixture = fixture().await;
    let actions = MemoryActions::active();
    *actions.state.lock().unwrap() = Some(WorkflowState::DisabledManually);

    let report = fixture.train(&actions, 0).await;

    assert_eq!(report.bundles.len(), 1);
    assert!(actions.dispatches.lock().unwrap().is_empty());
    let made_by = fixture.last_departure().unwrap().made_by;
    assert!(
        matches!(&made_by, DepartedFrom::Fallback { why, .. } if why.contains("not active")),
        "{made_by:?}"
    );
}

#[tokio::test]
async fn a_failed_run_makes_the_train_depart_here() {
    let fixture = fixture().await;
    let actions = MemoryActions::active();
    fixture.train(&actions, 0).await;
    actions.set(101, RunStatus::Completed, Some(Conclusion::Failure));

    let report = fixture.train(&actions, 2).await;

    assert_eq!(report.bundles.len(), 1, "{report:?}");
    assert!(actions.cancelled.lock().unwrap().is_empty());
    assert_eq!(
        fixture.last_departure().unwrap().made_by,
        DepartedFrom::Fallback {
            why: "the bundling workflow's run ended `failure`".to_owned(),
            run: Some(101),
        }
    );
    assert_eq!(run_out(&fixture.workspace.state_dir()).unwrap(), None);
}

#[tokio::test]
async fn a_run_that_outlasts_its_time_is_cancelled_and_the_train_departs_here() {
    let fixture = fixture().await;
    let actions = MemoryActions::active();
    fixture.train(&actions, 0).await;
    let report = fixture.train(&actions, 29).await;
    assert!(report.bundles.is_empty());

    let report = fixture.train(&actions, 30).await;

    assert_eq!(*actions.cancelled.lock().unwrap(), [101]);
    assert_eq!(report.bundles.len(), 1, "{report:?}");
    let made_by = fixture.last_departure().unwrap().made_by;
    assert!(
        matches!(&made_by, DepartedFrom::Fallback { why, run: Some(101) }
            if why.contains("did not finish within 30m")),
        "{made_by:?}"
    );
}

#[tokio::test]
async fn a_run_that_succeeded_is_journaled_as_the_departure_it_made() {
    let fixture = fixture().await;
    let actions = MemoryActions::active();
    fixture.train(&actions, 0).await;
    // The run's train, on a machine of its own: a journal of its own.
    let elsewhere = tempfile::tempdir().unwrap();
    let remote_log = open_journal_at(elsewhere.path());
    let remote = Bundler {
        journal: None,
        train_log: &remote_log,
        state_dir: elsewhere.path().to_path_buf(),
        verification: None,
        rework: None,
        ..fixture.bundler()
    };
    let made = remote
        .run(fixture.start + SignedDuration::from_secs(30), true, false)
        .await
        .unwrap();
    assert_eq!(made.bundles.len(), 1);
    actions.set(101, RunStatus::Completed, Some(Conclusion::Success));

    let report = fixture.train(&actions, 2).await;

    assert!(
        report.bundles.is_empty(),
        "nothing is sent twice: {report:?}"
    );
    assert_eq!(actions.dispatches.lock().unwrap().len(), 1);
    assert_eq!(fixture.open_pull_requests().await, 1);
    let departure = fixture.last_departure().unwrap();
    assert_eq!(
        departure.pull_requests,
        [made.bundles[0].number],
        "{departure:?} {made:?}"
    );
    let DepartedFrom::Run {
        run: 101, timings, ..
    } = &departure.made_by
    else {
        panic!("{departure:?}");
    };
    assert!(timings.landing_to_pull_request().is_some(), "{timings:?}");
    assert!(timings.trigger_latency().is_some(), "{timings:?}");
    let head = &made.bundles[0].head;
    assert!(fixture.journal.bundle_record(head).unwrap().is_some());
    assert_eq!(run_out(&fixture.workspace.state_dir()).unwrap(), None);
    // The slots that landed the work are journaled as riding the run's bundle.
    for slot in ["agent001", "agent002"] {
        assert_eq!(
            fixture.journal.current_state(slot).unwrap(),
            State::Bundled {
                issues: vec![if slot == "agent001" { 1 } else { 2 }],
                bundle_pr: made.bundles[0].number,
            }
        );
    }
    drop(fixture.dir);
}

fn open_journal_at(dir: &Path) -> impl Store + use<> {
    crate::app::compose::journal(
        &dir.join(crate::app::compose::JOURNAL_DATABASE),
        crate::core::config::TransitionLogging::Detailed,
    )
    .unwrap()
}
