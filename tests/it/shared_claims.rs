//! Several orchestrators on one repository: claims are references on the remote (here the
//! repository itself, the local forge's remote) that only one orchestrator moves at a time,
//! whatever their slots are called; a silent orchestrator's claim is taken over, a live one's
//! is left alone; attempts are counted over all of them; and recovery keeps its hands off
//! another live orchestrator's issues. Two app contexts with different ids share one
//! repository and its forge, as two machines share a remote and a tracker.

use std::collections::BTreeMap;
use std::sync::Arc;

use clambake::app::Workspace;
use clambake::app::queue::claim::claim_issue;
use clambake::app::queue::ledger::ClaimLedger;
use clambake::app::recovery::repair::{diagnose, recover};
use clambake::core::queue::claims::{ClaimRecord, ClaimState, claim_ref, valid_orchestrator_id};
use clambake::core::recovery::drift::Inconsistency;
use clambake::ports::forge::NewIssue;
use clambake::ports::{Forge, SystemClock};
use jiff::{SignedDuration, Timestamp};

use crate::recovery_world::TestWorld;
use crate::support::{TestRepo, wait_for, write_script};

const SILENCE: SignedDuration = SignedDuration::from_mins(90);

fn ledger(workspace: &Workspace, id: &str) -> Arc<ClaimLedger> {
    Arc::new(ClaimLedger::new(workspace, id.to_owned(), SILENCE))
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// Writes a claim commit with `message` by hand, as another Clambake would, at the tip of
/// `issue`'s chain (its parent the tip before); returns it.
fn write_claim(repo: &TestRepo, issue: u64, message: &str) -> String {
    let empty_tree = repo.git(&["hash-object", "-t", "tree", "/dev/null"]);
    let reference = claim_ref(issue);
    let mut args = vec!["commit-tree", empty_tree.as_str(), "-m", message];
    let parent = repo.git(&["for-each-ref", "--format=%(objectname)", &reference]);
    if !parent.is_empty() {
        args.extend(["-p", parent.as_str()]);
    }
    let commit = repo.git(&args);
    repo.git(&["update-ref", &reference, &commit]);
    commit
}

async fn ready_issue(forge: &dyn Forge, title: &str) -> u64 {
    let new = NewIssue {
        title: title.to_owned(),
        labels: vec!["route:ready".to_owned()],
        ..NewIssue::default()
    };
    forge.create_issue(&new).await.unwrap().number
}

/// The record at the tip of `issue`'s claim chain, and the chain's length.
fn chain(repo: &TestRepo, issue: u64) -> (ClaimRecord, usize) {
    let reference = claim_ref(issue);
    let message = repo.git(&["log", "-1", "--format=%B", &reference]);
    let length = repo.git(&["rev-list", "--count", &reference]);
    (
        ClaimRecord::parse(&message).unwrap(),
        length.parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_orchestrators_racing_for_the_same_issues_claim_each_exactly_once() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    // Each orchestrator has its own connection to the forge, as two machines would.
    let mut forges: Vec<Arc<dyn Forge>> = Vec::new();
    for _ in 0..2 {
        let forge = workspace.open_local_forge(Arc::new(SystemClock)).await;
        forges.push(Arc::new(forge.unwrap()));
    }
    let ledgers = [ledger(&workspace, "alpha"), ledger(&workspace, "beta")];
    let now = Timestamp::now();
    for round in 0..6 {
        let mut issues = Vec::new();
        for n in 0..5 {
            issues.push(ready_issue(forges[0].as_ref(), &format!("Round {round} task {n}")).await);
        }
        let mut racing = tokio::task::JoinSet::new();
        for (slot, &issue) in issues.iter().enumerate() {
            for (forge, ledger) in forges.iter().zip(&ledgers) {
                // Both orchestrators call their slot for this issue by the same name: the
                // label alone cannot tell their claims apart.
                let agent = format!("agent{:03}", slot + 1);
                let (forge, ledger) = (forge.clone(), ledger.clone());
                racing.spawn(async move {
                    let claimed = claim_issue(&ledger, forge.as_ref(), &agent, issue, now)
                        .await
                        .unwrap();
                    (issue, ledger.orchestrator().to_owned(), agent, claimed)
                });
            }
        }
        let mut winners: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        while let Some(joined) = racing.join_next().await {
            let (issue, orchestrator, agent, claimed) = joined.unwrap();
            if let Some(claimed) = claimed {
                assert_eq!(claimed.issue.labels, vec![agent], "#{issue}");
                assert_eq!(claimed.attempt, 1, "#{issue}");
                winners.entry(issue).or_default().push(orchestrator);
            }
        }
        for (slot, issue) in issues.iter().enumerate() {
            let won = winners.get(issue).cloned().unwrap_or_default();
            assert_eq!(won.len(), 1, "round {round}, #{issue}: {won:?}");
            let labels = forges[1].issue(*issue).await.unwrap().labels;
            assert_eq!(labels, [format!("agent{:03}", slot + 1)], "#{issue}");
            let (record, length) = chain(&repo, *issue);
            assert_eq!(record.orchestrator, won[0], "the claim names its winner");
            assert_eq!(length, 1, "the loser wrote nothing to the chain");
        }
    }
}

#[tokio::test]
async fn a_silent_orchestrators_claim_is_taken_over_and_a_live_ones_is_not() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let (alpha, beta) = (ledger(&workspace, "alpha"), ledger(&workspace, "beta"));
    let start = at("2026-12-01T12:00:00Z");
    let minutes = |m| start + SignedDuration::from_mins(m);

    alpha.heartbeat(start).await.unwrap();
    let first = alpha.take(7, "agent001", start).await.unwrap().unwrap();
    assert_eq!((first.attempt, first.orchestrator.as_str()), (1, "alpha"));
    assert!(
        beta.take(7, "agent001", minutes(30))
            .await
            .unwrap()
            .is_none()
    );
    alpha.heartbeat(minutes(80)).await.unwrap();
    assert!(
        beta.take(7, "agent001", minutes(100))
            .await
            .unwrap()
            .is_none(),
        "alpha was heard from: its sign of life moved since beta looked at 30 minutes"
    );
    assert!(
        beta.take(7, "agent001", minutes(100 + 90))
            .await
            .unwrap()
            .is_none(),
        "silent for exactly the limit, by beta's clock, since beta saw it move"
    );

    let taken = beta.take(7, "agent001", minutes(100 + 91)).await.unwrap();
    let taken = taken.expect("alpha has been silent past max_stuck_time_minutes");
    assert_eq!((taken.attempt, taken.orchestrator.as_str()), (2, "beta"));
    assert_eq!(
        alpha
            .release(7, ClaimState::Failed, minutes(180))
            .await
            .unwrap(),
        None,
        "alpha, back, cannot give back a claim it lost"
    );
    let (tip, length) = chain(&repo, 7);
    assert_eq!(
        (tip, length),
        (taken, 2),
        "the takeover continues alpha's chain"
    );
}

#[tokio::test]
async fn a_short_limit_here_waits_out_the_pace_another_orchestrator_says_it_keeps() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    // beta's limit is a quarter of a minute; alpha's the default, so it beats once a minute.
    let quarter = SignedDuration::from_secs(15);
    let beta = ClaimLedger::new(&workspace, "beta".to_owned(), quarter);
    let alpha = ledger(&workspace, "alpha");
    let start = at("2026-12-01T12:00:00Z");
    let seconds = |s| start + SignedDuration::from_secs(s);

    alpha.heartbeat(start).await.unwrap();
    alpha.take(7, "agent001", start).await.unwrap().unwrap();
    assert!(beta.take(7, "agent002", start).await.unwrap().is_none());
    assert!(
        beta.take(7, "agent002", seconds(45))
            .await
            .unwrap()
            .is_none(),
        "alpha is between two of its once-a-minute beats"
    );
    assert!(
        beta.take(7, "agent002", seconds(240))
            .await
            .unwrap()
            .is_none()
    );
    let taken = beta.take(7, "agent002", seconds(241)).await.unwrap();
    assert!(taken.is_some(), "silent for four of alpha's intervals");

    // An orchestrator as quick as beta is judged by beta's own limit.
    let gamma = ClaimLedger::new(&workspace, "gamma".to_owned(), quarter);
    let later = seconds(1000);
    gamma.heartbeat(later).await.unwrap();
    gamma.take(8, "agent001", later).await.unwrap().unwrap();
    assert!(beta.take(8, "agent002", later).await.unwrap().is_none());
    let late = later + SignedDuration::from_secs(16);
    assert!(beta.take(8, "agent002", late).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_started_under_a_live_ones_id_is_refused_and_a_gone_ones_is_not() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let quarter = SignedDuration::from_secs(15);
    let process = || Arc::new(ClaimLedger::new(&workspace, "twin".to_owned(), quarter));
    let duplicate = |result: clambake::app::AppResult<()>| {
        matches!(
            result,
            Err(clambake::app::AppError::DuplicateOrchestratorId { .. })
        )
    };

    // The first beats on its pace until told to stop.
    let first = process();
    first.heartbeat(Timestamp::now()).await.unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let beating = tokio::spawn({
        let first = first.clone();
        let every = std::time::Duration::try_from(first.heartbeat_every()).unwrap();
        async move {
            while !*stopped.borrow() {
                first.heartbeat(Timestamp::now()).await.unwrap();
                let _ = tokio::time::timeout(every, stopped.changed()).await;
            }
        }
    });
    // The others start as on other machines, which have no note of this one's process.
    let on_another_machine = || {
        let note = repo.path().join(".clambake/orchestrator-process");
        if note.exists() {
            std::fs::remove_file(note).unwrap();
        }
        process()
    };
    let second = on_another_machine();
    assert!(duplicate(second.heartbeat(Timestamp::now()).await));
    stop.send(true).unwrap();
    beating.await.unwrap();

    // Gone without a word (a crash): the next process waits it out, then goes on.
    let third = on_another_machine();
    third.heartbeat(Timestamp::now()).await.unwrap();
    assert!(
        duplicate(first.heartbeat(Timestamp::now()).await),
        "back: not its id now"
    );
    // Signed off: the next one goes on.
    third.sign_off(Timestamp::now()).await.unwrap();
    process().heartbeat(Timestamp::now()).await.unwrap();
}

#[tokio::test]
async fn attempts_and_failures_are_counted_over_every_orchestrator() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let (alpha, beta) = (ledger(&workspace, "alpha"), ledger(&workspace, "beta"));
    let now = at("2026-12-01T12:00:00Z");

    alpha.take(3, "agent001", now).await.unwrap().unwrap();
    assert_eq!(alpha.failures_with_this_one(3).await.unwrap(), 1);
    assert_eq!(
        beta.failures_with_this_one(3).await.unwrap(),
        0,
        "not beta's"
    );
    alpha.release(3, ClaimState::Failed, now).await.unwrap();
    let second = beta.take(3, "agent004", now).await.unwrap().unwrap();
    assert_eq!((second.attempt, second.failures), (2, 1));
    assert_eq!(beta.failures_with_this_one(3).await.unwrap(), 2);
    beta.release(3, ClaimState::Failed, now).await.unwrap();
    let third = alpha.take(3, "agent001", now).await.unwrap().unwrap();
    assert_eq!((third.attempt, third.failures), (3, 2));
    assert_eq!(chain(&repo, 3).1, 5, "three claims and two releases");
}

/// A repository whose run is orchestrator `beta`, with the simulated agent on one slot.
fn beta_repo(max_attempts: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.configure(&[
        ("orchestrator.id", "beta"),
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("agents.max_attempts", max_attempts),
        ("bundling.trigger", "manual"),
    ]);
    repo
}

/// This machine looked at the shared claims at `when`: what has not moved since has been
/// silent since then, by this machine's clock.
async fn watched_since(repo: &TestRepo, when: Timestamp) {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    ledger(&workspace, "beta").view(when).await.unwrap();
}

/// Orchestrator `alpha` (on another machine) claimed `issue` for its `agent001` at `claimed`,
/// labelled it, and published one commit of work on its branch.
async fn claimed_by_alpha(repo: &TestRepo, issue: u64, claimed: Timestamp) -> String {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let forge = workspace.open_local_forge(Arc::new(SystemClock)).await;
    let forge = forge.unwrap();
    let alpha = ledger(&workspace, "alpha");
    alpha.heartbeat(claimed).await.unwrap();
    let won = claim_issue(&alpha, &forge, "agent001", issue, claimed).await;
    assert!(won.unwrap().is_some());
    let branch = format!("agent001/{issue}-task");
    repo.git(&["branch", &branch, "main"]);
    repo.branch_with_file(&branch, &branch, "alpha.txt", "alpha's work\n")
}

#[tokio::test]
async fn a_run_leaves_a_live_orchestrators_claim_alone() {
    let repo = beta_repo("3");
    let issue = repo.create_issue("Task", "route:ready");
    let work = claimed_by_alpha(&repo, issue, Timestamp::now()).await;

    repo.clambake(&["run", "--once"]).success();

    assert_eq!(repo.labels_of(issue), ["agent001"]);
    assert_eq!(repo.git(&["rev-parse", "agent001/1-task"]), work);
    let (tip, length) = chain(&repo, issue);
    assert_eq!((tip.orchestrator.as_str(), length), ("alpha", 1));
}

#[tokio::test]
async fn a_run_takes_over_a_silent_orchestrators_claim_and_continues_its_work() {
    let repo = beta_repo("3");
    let issue = repo.create_issue("Task", "route:ready");
    let long_ago = Timestamp::now() - SignedDuration::from_hours(3);
    let work = claimed_by_alpha(&repo, issue, long_ago).await;
    // This machine has watched alpha's claim and sign of life stand still for 3 hours.
    watched_since(&repo, long_ago).await;

    repo.clambake(&["run", "--until-idle"]).success();

    assert_eq!(repo.labels_of(issue), ["route:review"], "landed");
    let landed = repo.git(&["rev-parse", "agent001/1-task"]);
    assert_ne!(landed, work, "beta's attempt added to it");
    repo.git(&["merge-base", "--is-ancestor", &work, &landed]);
    let (tip, length) = chain(&repo, issue);
    assert_eq!(
        (tip.orchestrator.as_str(), tip.state, tip.attempt, length),
        ("beta", ClaimState::Landed, 2, 3),
        "alpha's claim, beta's takeover, beta's landing"
    );
}

#[tokio::test]
async fn a_run_gives_up_when_the_attempts_of_every_orchestrator_are_spent() {
    let repo = beta_repo("3");
    let body = "simulate: outcome crash";
    let number = repo
        .clambake(&[
            "issue", "create", "--title", "Crashes", "--body", body, "--json",
        ])
        .success()
        .json()["number"]
        .as_u64()
        .unwrap();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let forge = workspace.open_local_forge(Arc::new(SystemClock)).await;
    let forge = forge.unwrap();
    let alpha = ledger(&workspace, "alpha");
    let now = Timestamp::now();
    for _ in 0..2 {
        forge
            .edit_labels(number, &["route:ready".to_owned()], &[])
            .await
            .unwrap();
        alpha.take(number, "agent003", now).await.unwrap().unwrap();
        alpha
            .release(number, ClaimState::Failed, now)
            .await
            .unwrap();
    }

    repo.clambake(&["run", "--until-idle"]).success();

    assert_eq!(repo.labels_of(number), ["route:failed"]);
    let comments = repo.comments_on(number);
    assert_eq!(comments.len(), 1, "no retry: {comments:#?}");
    assert!(
        comments[0].contains("All 3 attempts failed"),
        "{}",
        comments[0]
    );
    let (tip, _) = chain(&repo, number);
    assert_eq!((tip.attempt, tip.failures), (3, 3));
}

#[tokio::test]
async fn recovery_leaves_another_live_orchestrators_claim_alone() {
    let mut world = TestWorld::new().await;
    world.config.orchestrator.id = "beta".to_owned();
    let live = world.issue(&["route:ready"]).await;
    let silent = world.issue(&["route:ready"]).await;
    let now = Timestamp::now();
    let long_ago = now - SignedDuration::from_hours(3);
    // gamma claimed long ago and has not been heard from since (this machine has watched);
    // alpha is alive. Their agents work on their own machines: no branch here yet, which
    // from beta's side is drift.
    for (id, issue, when) in [("gamma", silent, long_ago), ("alpha", live, now)] {
        let other = ledger(&world.workspace, id);
        other.heartbeat(when).await.unwrap();
        let won = claim_issue(&other, world.forge.as_ref(), "agent001", issue, when).await;
        assert!(won.unwrap().is_some());
        ledger(&world.workspace, "beta").view(when).await.unwrap();
    }

    let diagnosis = diagnose(&world.world(), None, now).await.unwrap();
    let unbranched: Vec<u64> = diagnosis
        .plans
        .iter()
        .filter_map(|plan| match &plan.inconsistency {
            Inconsistency::LabeledButNoBranch { issue, .. } => Some(*issue),
            _ => None,
        })
        .collect();
    assert_eq!(unbranched, [silent], "{:#?}", diagnosis.plans);

    recover(&world.world(), None, now).await.unwrap();
    assert_eq!(world.labels(live).await, ["agent001"]);
    assert!(world.last_comment(live).await.is_empty());
    assert_ne!(
        world.labels(silent).await,
        ["agent001"],
        "a silent one's is repaired"
    );
}

#[test]
fn a_run_names_itself_once_and_says_it_is_alive() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.configure(&[("agents.real_processes", "false")]);
    repo.clambake(&["run", "--once"]).success();
    let kept = repo.path().join(".clambake/orchestrator-id");
    let id = std::fs::read_to_string(&kept).unwrap().trim().to_owned();
    assert!(valid_orchestrator_id(&id), "{id}");
    let alive = format!("refs/clambake/orchestrators/{id}");
    let first = repo.git(&["rev-parse", &alive]);
    repo.clambake(&["run", "--once"]).success();
    assert_eq!(std::fs::read_to_string(&kept).unwrap().trim(), id, "kept");
    assert_eq!(
        repo.git(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/clambake/orchestrators/"
        ]),
        alive,
        "one orchestrator, one sign of life"
    );
    assert_eq!(repo.git(&["ls-tree", &first]), "");

    repo.configure(&[("orchestrator.id", "not/an id")]);
    let refused = repo.clambake(&["run", "--once"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("`not/an id` cannot name an orchestrator"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn a_rebuilt_journal_holds_no_claim_of_another_live_orchestrator() {
    let repo = beta_repo("3");
    let theirs = repo.create_issue("Theirs", "route:ready");
    claimed_by_alpha(&repo, theirs, Timestamp::now()).await;

    let rebuilt = repo
        .clambake(&["agent", "rebuild-journal", "--json"])
        .success()
        .json();
    assert_eq!(rebuilt["slots"], serde_json::json!({}), "{rebuilt}");
    let validated = repo.clambake(&["agent", "validate", "--all"]);
    assert_eq!(validated.code, 0, "{}", validated.stdout);
    assert_eq!(repo.labels_of(theirs), ["agent001"]);
}

#[tokio::test]
async fn another_orchestrators_failure_is_waited_out_before_a_retry() {
    let repo = beta_repo("3");
    repo.configure(&[("agents.retry_backoff_seconds", "3600")]);
    let issue = repo.create_issue("Failed elsewhere", "route:ready");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let alpha = ledger(&workspace, "alpha");
    let now = Timestamp::now();
    alpha.take(issue, "agent002", now).await.unwrap().unwrap();
    alpha.release(issue, ClaimState::Failed, now).await.unwrap();

    repo.clambake(&["run", "--once"]).success();

    assert_eq!(repo.labels_of(issue), ["route:ready"], "not before an hour");
    assert_eq!(chain(&repo, issue).0.orchestrator, "alpha");
}

#[tokio::test]
async fn liveness_goes_by_when_this_machine_saw_a_sign_of_life_move_whatever_its_date() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let (alpha, beta, gamma) = (
        ledger(&workspace, "alpha"),
        ledger(&workspace, "beta"),
        ledger(&workspace, "gamma"),
    );
    // Their clocks are decades off; beta's is right.
    let now = Timestamp::now();

    // alpha's clock is decades behind: its claim and signs of life look ancient by their
    // dates, yet it is alive.
    // Their claims are written as on their own machines, which note what they see there.
    let behind = at("1990-01-01T00:00:00Z");
    alpha.heartbeat(behind).await.unwrap();
    let claim = ClaimRecord::claim(None, "alpha", "agent001", 7, behind);
    write_claim(&repo, 7, &claim.message());
    assert!(beta.take(7, "agent002", now).await.unwrap().is_none());
    alpha.heartbeat(behind + minutes(80)).await.unwrap();
    let later = now + minutes(120);
    assert!(
        beta.take(7, "agent002", later).await.unwrap().is_none(),
        "alpha's sign of life moved since beta last looked"
    );
    let taken = beta.take(7, "agent002", later + minutes(91)).await.unwrap();
    assert_eq!(
        taken.map(|t| t.attempt),
        Some(2),
        "silent since, by beta's clock"
    );

    // gamma's clock is decades ahead: its claim looks fresh by its date long after gamma
    // fell silent.
    let ahead = at("2090-01-01T00:00:00Z");
    gamma.heartbeat(ahead).await.unwrap();
    let claim = ClaimRecord::claim(None, "gamma", "agent001", 8, ahead);
    write_claim(&repo, 8, &claim.message());
    assert!(beta.take(8, "agent002", now).await.unwrap().is_none());
    let taken = beta.take(8, "agent002", now + minutes(91)).await.unwrap();
    assert_eq!(
        taken.map(|t| t.attempt),
        Some(2),
        "gamma has been silent here"
    );
}

#[tokio::test]
async fn a_claim_a_newer_clambake_wrote_with_more_keys_is_still_read() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let now = Timestamp::now();
    let theirs = ClaimRecord::claim(None, "alpha", "agent003", 9, now);
    let newer = format!("{}lease-seconds: 30\nhost: build-7\n", theirs.message());
    write_claim(&repo, 9, &newer);

    let beta = ledger(&workspace, "beta");
    assert!(
        beta.take(9, "agent001", now).await.unwrap().is_none(),
        "alpha's"
    );
    let taken = beta.take(9, "agent001", now + minutes(91)).await.unwrap();
    let taken = taken.expect("alpha has been silent");
    assert_eq!((taken.attempt, taken.failures), (2, 0), "the chain goes on");
    let alpha = ledger(&workspace, "alpha");
    assert_eq!(
        alpha.failures_with_this_one(9).await.unwrap(),
        0,
        "not alpha's now"
    );
}

#[tokio::test]
async fn a_claim_that_cannot_be_read_is_held_by_someone_unknown() {
    let repo = beta_repo("3");
    let issue = repo.create_issue("Task", "route:ready");
    let unreadable = format!("clambake claim: issue #{issue} held\n\n{{\"format\": 3}}\n");
    let tip = write_claim(&repo, issue, &unreadable);
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let beta = ledger(&workspace, "beta");
    let now = Timestamp::now();
    for when in [now, now + SignedDuration::from_hours(24 * 365)] {
        assert!(beta.take(issue, "agent001", when).await.unwrap().is_none());
        let held = beta.held_by_live_others(when).await.unwrap();
        assert!(held.contains(&issue), "never free, never stale: {held:?}");
    }
    assert_eq!(
        beta.release(issue, ClaimState::Failed, now).await.unwrap(),
        None
    );

    let run = repo.clambake(&["run", "--once"]).success();

    assert_eq!(repo.labels_of(issue), ["route:ready"], "not claimed here");
    let reference = claim_ref(issue);
    assert_eq!(repo.git(&["rev-parse", &reference]), tip, "{}", run.stderr);
    let doctor = repo.clambake(&["doctor", "--json"]).json();
    let claims = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "claims")
        .unwrap()
        .clone();
    assert_eq!(claims["health"], "warn", "{claims}");
    let said = claims["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        said.contains(&format!("#{issue} cannot be read")),
        "{claims}"
    );
}

#[tokio::test]
async fn an_attempt_whose_claim_was_taken_over_meanwhile_leaves_the_issue_alone() {
    let repo = beta_repo("3");
    let scripts = tempfile::tempdir().unwrap();
    let (started, go) = (scripts.path().join("started"), scripts.path().join("go"));
    // The agent commits, then waits, as if its orchestrator were suspended, until told.
    let agent = write_script(
        scripts.path(),
        "agent.sh",
        &format!(
            "touch '{started}'\n\
             echo beta > beta.txt && git add beta.txt && git commit -qm \"Beta's work\"\n\
             i=0; while [ ! -e '{go}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n",
            started = started.display(),
            go = go.display(),
        ),
    );
    let command = format!("{} {{issue}}", agent.display());
    repo.configure(&[
        ("agents.real_processes", "true"),
        ("agents.runtime", "command"),
        ("agents.command", &command),
    ]);
    let issue = repo.create_issue("Task", "route:ready");
    let log = scripts.path().join("run.log");
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["run", "--once"])
        .env("NO_COLOR", "1")
        .env("CLAMBAKE_LOG", "clambake=info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for("beta's agent to start", || {
        started
            .exists()
            .then_some(())
            .ok_or_else(|| std::fs::read_to_string(&log).unwrap_or_default())
    });

    // Beta has been silent past the limit as alpha sees it: alpha takes the claim over.
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let alpha = ledger(&workspace, "alpha");
    let now = Timestamp::now();
    assert!(alpha.take(issue, "agent001", now).await.unwrap().is_none());
    let taken = alpha
        .take(issue, "agent001", now + minutes(91))
        .await
        .unwrap();
    assert_eq!(taken.as_ref().map(|t| t.attempt), Some(2));
    std::fs::write(&go, "").unwrap();
    let status = wait_for("beta's run to end", || {
        run.try_wait()
            .unwrap()
            .ok_or_else(|| std::fs::read_to_string(&log).unwrap_or_default())
    });
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{said}");

    assert_eq!(
        repo.labels_of(issue),
        ["agent001"],
        "neither landed nor relabelled"
    );
    assert_eq!(
        repo.comments_on(issue),
        Vec::<String>::new(),
        "nor commented"
    );
    let (tip, length) = chain(&repo, issue);
    assert_eq!((tip, length), (taken.unwrap(), 2), "alpha's claim stands");
    let kept = repo.git(&["log", "-1", "--format=%s", "agent001/1-task"]);
    assert_eq!(kept, "Beta's work", "beta's commits stay on its branch");
    assert!(
        said.contains("alpha took the claim over meanwhile"),
        "{said}"
    );
    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001"])
        .success();
    assert!(
        history.stdout.contains("alpha took the claim over"),
        "{}",
        history.stdout
    );
}

/// The slot that holds a claim taking it again (its label edit failed after the claim was
/// written) goes on with the same attempt, not a second one.
#[tokio::test]
async fn a_slot_taking_again_the_claim_it_holds_goes_on_with_the_same_attempt() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let alpha = ledger(&workspace, "alpha");
    let start = at("2026-12-01T12:00:00Z");
    let first = alpha.take(7, "agent001", start).await.unwrap().unwrap();
    let again = alpha.take(7, "agent001", start).await.unwrap();
    assert_eq!(
        again,
        Some(first),
        "the slot that holds it goes on with its attempt"
    );
    let (record, length) = chain(&repo, 7);
    assert_eq!(
        (record.agent.as_str(), record.attempt, length),
        ("agent001", 1, 1)
    );
}
