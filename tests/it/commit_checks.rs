//! Where bundle checks run: the forge's CI on GitHub (a commit pushed as a branch under
//! `clambake/checks/`, its check runs and statuses read back, against the fake's scriptable
//! CI), and which `CommitChecks` the workspace opens for `checks.bundles`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::forge::github::ChecksSettings;
use clambake::app::Workspace;
use clambake::ports::checks::{CommitCheckState, CommitChecks};
use clambake::ports::{Clock, SystemClock};
use clambake_github_fake::CiVerdict;
use jiff::{SignedDuration, Timestamp};

use crate::backend::Backend;
use crate::support::{TestRepo, wait_for_async};

/// A clock that moves only when told.
struct ManualClock(Mutex<Timestamp>);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// The GitHub checks of `repo` (on the fake), telling time by `clock`, CI given a minute.
fn forge_checks(repo: &TestRepo, clock: Arc<dyn Clock>) -> Arc<dyn CommitChecks> {
    let origin = repo.github().unwrap();
    let remote = clambake::adapters::git::open_with_origin(repo.path(), None).remote;
    Arc::new(origin.client(clock).commit_checks(ChecksSettings {
        remote,
        base: "main".to_owned(),
        state_dir: repo.path().join(".clambake"),
        timeout: Duration::from_secs(60),
    }))
}

async fn settled(checks: &dyn CommitChecks, commit: &str) -> CommitCheckState {
    wait_for_async("the checks to end", async || {
        let state = checks.state(commit).await.unwrap();
        (!matches!(state, CommitCheckState::Pending)).then_some(state)
    })
    .await
}

/// The pushes the scripted CI was asked about: each commit, with its newly pushed branches.
type Pushes = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A CI that runs on pushes to clambake/checks/ only, ending as the commit's file `verdict`
/// says after `pending_reads` reads; keeps the pushes it is asked about.
fn scripted_ci(repo: &TestRepo, pending_reads: u32) -> Pushes {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    repo.github().unwrap().fake.set_ci(move |pushed| {
        seen.lock()
            .unwrap()
            .push((pushed.sha.clone(), pushed.branches.clone()));
        if !pushed
            .branches
            .iter()
            .any(|b| b.starts_with("clambake/checks/"))
        {
            return None;
        }
        let verdict = std::process::Command::new("git")
            .arg("-C")
            .arg(&pushed.repo)
            .args(["show", &format!("{}:verdict", pushed.sha)])
            .output()
            .unwrap();
        let verdict = String::from_utf8_lossy(&verdict.stdout).trim().to_owned();
        Some(CiVerdict {
            title: "cargo test".to_owned(),
            summary: "2 passed; 1 failed".to_owned(),
            text: "test bundle::works ... FAILED".to_owned(),
            pending_reads,
            ..CiVerdict::new("test", &verdict)
        })
    });
    asked
}

#[tokio::test]
async fn a_commit_pushed_for_the_forges_ci_is_pending_then_passes_and_its_branch_goes() {
    let repo = TestRepo::on(Backend::Github);
    let asked = scripted_ci(&repo, 2);
    let commit = repo.branch_with_file("work", "main", "verdict", "success");
    let checks = forge_checks(&repo, Arc::new(SystemClock));
    assert_eq!(
        checks.state(&commit).await.unwrap(),
        CommitCheckState::NotStarted
    );
    checks.request(&commit, "bundle-1").await.unwrap();
    checks.request(&commit, "bundle-1").await.unwrap();
    assert_eq!(
        repo.origin_tip("clambake/checks/bundle-1"),
        Some(commit.clone())
    );
    assert_eq!(
        checks.state(&commit).await.unwrap(),
        CommitCheckState::Pending
    );
    assert_eq!(
        settled(checks.as_ref(), &commit).await,
        CommitCheckState::Passed
    );
    assert_eq!(
        repo.origin_tip("clambake/checks/bundle-1"),
        None,
        "deleted once final"
    );
    let pushed_for_checks: Vec<_> = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, branches)| branches.contains(&"clambake/checks/bundle-1".to_owned()))
        .cloned()
        .collect();
    assert_eq!(pushed_for_checks.len(), 1, "pushed once");
    assert_eq!(pushed_for_checks[0].0, commit);

    checks.request(&commit, "bundle-1").await.unwrap();
    assert_eq!(
        repo.origin_tip("clambake/checks/bundle-1"),
        None,
        "not pushed again"
    );
    let another = forge_checks(&repo, Arc::new(SystemClock));
    assert_eq!(
        another.state(&commit).await.unwrap(),
        CommitCheckState::Passed
    );
    repo.assert_no_violations();
}

#[tokio::test]
async fn a_failing_check_run_fails_with_its_link_and_output() {
    let repo = TestRepo::on(Backend::Github);
    scripted_ci(&repo, 0);
    let commit = repo.branch_with_file("work", "main", "verdict", "timed_out");
    let checks = forge_checks(&repo, Arc::new(SystemClock));
    checks.request(&commit, "bundle-2/step-1").await.unwrap();
    let CommitCheckState::Failed(failure) = settled(checks.as_ref(), &commit).await else {
        panic!("a timed out check fails");
    };
    assert!(failure.summary.contains("`test`"), "{}", failure.summary);
    assert!(failure.summary.contains("timed_out"), "{}", failure.summary);
    let runs = repo.github().unwrap().fake.check_runs();
    let link = failure.details.unwrap();
    assert!(link.contains(&format!("/runs/{}", runs[0].id)), "{link}");
    assert!(failure.tail.contains("cargo test"), "{}", failure.tail);
    assert!(
        failure.tail.contains("bundle::works ... FAILED"),
        "{}",
        failure.tail
    );
    assert_eq!(repo.origin_tip("clambake/checks/bundle-2/step-1"), None);
    repo.assert_no_violations();
}

#[tokio::test]
async fn a_failing_commit_status_fails_though_every_check_run_passed() {
    let repo = TestRepo::on(Backend::Github);
    scripted_ci(&repo, 0);
    let commit = repo.branch_with_file("work", "main", "verdict", "success");
    let fake = &repo.github().unwrap().fake;
    fake.set_status(&commit, "success", "lint", None);
    fake.set_status(
        &commit,
        "error",
        "jenkins",
        Some("https://jenkins.example/42"),
    );
    let checks = forge_checks(&repo, Arc::new(SystemClock));
    checks.request(&commit, "bundle-3").await.unwrap();
    let CommitCheckState::Failed(failure) = settled(checks.as_ref(), &commit).await else {
        panic!("an erroring status fails");
    };
    assert!(failure.summary.contains("`jenkins`"), "{}", failure.summary);
    assert_eq!(
        failure.details.as_deref(),
        Some("https://jenkins.example/42")
    );
    repo.assert_no_violations();
}

#[tokio::test]
async fn ci_silent_past_the_timeout_fails_saying_where_ci_must_run() {
    let repo = TestRepo::on(Backend::Github);
    repo.github().unwrap().fake.set_ci(|_| None);
    let commit = repo.branch_with_file("work", "main", "verdict", "success");
    let clock = Arc::new(ManualClock(Mutex::new(Timestamp::now())));
    let checks = forge_checks(&repo, clock.clone());
    checks.request(&commit, "bundle-4").await.unwrap();
    assert_eq!(
        checks.state(&commit).await.unwrap(),
        CommitCheckState::Pending
    );
    *clock.0.lock().unwrap() += SignedDuration::from_secs(59);
    assert_eq!(
        checks.state(&commit).await.unwrap(),
        CommitCheckState::Pending
    );
    let not_modified = |listing: &str| {
        repo.github()
            .unwrap()
            .fake
            .requests()
            .iter()
            .filter(|r| r.path.contains(&format!("/commits/{commit}/{listing}")))
            .filter(|r| r.status == 304)
            .count()
    };
    assert_eq!(
        not_modified("check-runs"),
        1,
        "an unchanged poll costs a 304"
    );
    assert_eq!(not_modified("status"), 1, "an unchanged poll costs a 304");
    assert_eq!(
        repo.origin_tip("clambake/checks/bundle-4"),
        Some(commit.clone())
    );
    *clock.0.lock().unwrap() += SignedDuration::from_secs(2);
    let CommitCheckState::Failed(failure) = checks.state(&commit).await.unwrap() else {
        panic!("silent CI fails");
    };
    assert!(
        failure.summary.contains("clambake/checks/**"),
        "{}",
        failure.summary
    );
    assert!(
        failure.summary.contains("pull requests"),
        "{}",
        failure.summary
    );
    assert_eq!(repo.origin_tip("clambake/checks/bundle-4"), None);
    repo.assert_no_violations();
}

#[tokio::test]
async fn the_workspace_opens_the_checks_that_checks_bundles_selects() {
    let repo = TestRepo::new();
    repo.init(&[]).success();
    let open = async || {
        Workspace::discover(repo.path())
            .await
            .unwrap()
            .open_commit_checks()
            .await
            .unwrap()
    };
    assert!(
        open().await.is_none(),
        "auto without a command checks nothing"
    );
    repo.configure(&[("checks.bundles", "off"), ("checks.command", "true")]);
    assert!(open().await.is_none());
    let passing = repo.commit_all("a commit");
    repo.write("broken", "");
    let failing = repo.commit_all("a broken commit");
    repo.configure(&[
        ("checks.bundles", "auto"),
        ("checks.command", "test ! -e broken"),
    ]);
    let checks = open().await.expect("auto with a command runs it");
    checks.request(&passing, "bundle").await.unwrap();
    checks.request(&failing, "bundle").await.unwrap();
    assert_eq!(
        settled(checks.as_ref(), &passing).await,
        CommitCheckState::Passed
    );
    assert!(matches!(
        settled(checks.as_ref(), &failing).await,
        CommitCheckState::Failed(_)
    ));
    repo.configure(&[("checks.bundles", "command")]);
    assert!(open().await.is_some());

    let refused = repo.clambake(&["config", "set", "checks.bundles", "forge"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("needs forge.backend = \"github\""),
        "{}",
        refused.stderr
    );
    repo.configure(&[("checks.bundles", "auto"), ("checks.command", "")]);
    let refused = repo.clambake(&["config", "set", "checks.bundles", "command"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("needs checks.command"),
        "{}",
        refused.stderr
    );
}
