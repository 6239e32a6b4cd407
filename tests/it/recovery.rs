//! One test per inconsistency kind, on a real repository, each backend's forge (the local one,
//! and the GitHub fake reached in this process), the journal and real child processes: the drift is detected, its plan is the expected one, and one recovery
//! repairs it (and running it again changes nothing).

use clambake::app::recovery::repair::{StepOutcome, diagnose, execute, recover};
use clambake::core::lifecycle::machine::{Event, State};
use clambake::core::recovery::drift::{ARCHIVE_PREFIX, Inconsistency, archive_ref};
use clambake::core::recovery::plans::Step;
use clambake::ports::forge::{IssueState, NewPullRequest};
use jiff::{SignedDuration, Timestamp};

use rstest::rstest;

use crate::backend::Backend;
use crate::recovery_world::TestWorld;

const READY: &str = "route:ready";
const REVIEW: &str = "route:review";
const BUNDLED: &str = "route:bundled";

/// Detects exactly one inconsistency, of `kind`; returns its plan's steps, comments left out.
async fn detected(world: &TestWorld, kind: &str, now: Timestamp) -> Vec<Step> {
    let diagnosis = diagnose(&world.world(), None, now).await.unwrap();
    let kinds: Vec<&str> = diagnosis
        .plans
        .iter()
        .map(|p| p.inconsistency.kind())
        .collect();
    assert_eq!(kinds, [kind], "{:#?}", diagnosis.plans);
    diagnosis.plans[0]
        .steps
        .iter()
        .filter(|s| !matches!(s, Step::Comment { .. }))
        .cloned()
        .collect()
}

/// Recovers everything, then checks that nothing remains, nothing failed, that no commit
/// became unreachable, and that a second recovery has nothing to do.
async fn repaired(world: &TestWorld, now: Timestamp) {
    let before = world.reachable();
    let report = recover(&world.world(), None, now).await.unwrap();
    assert!(
        report.executed.iter().all(|p| !p.failed()),
        "{:#?}",
        report.executed
    );
    assert!(report.remaining.is_empty(), "{:#?}", report.remaining);
    assert!(world.reachable().is_superset(&before), "a commit was lost");
    let again = recover(&world.world(), None, now).await.unwrap();
    assert!(again.executed.is_empty() && again.remaining.is_empty());
    world.repo.assert_no_violations();
}

fn kinds(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .map(|s| match s {
            Step::StopProcess { .. } => "stop",
            Step::CommitLeftovers { .. } => "commit",
            Step::ArchiveBranch { .. } | Step::ArchiveHead { .. } => "archive",
            Step::RestoreBranch { .. } => "restore",
            Step::DeleteBranch { .. } => "delete",
            Step::RemoveWorktree { .. } => "remove-worktree",
            Step::EditLabels { .. } => "labels",
            Step::CloseIssue { .. } => "close",
            Step::Journal { .. } => "journal",
            Step::Comment { .. } => "comment",
            Step::LeaveForHuman { .. } => "human",
        })
        .collect()
}

#[rstest]
#[tokio::test]
async fn labeled_but_no_branch(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent001"]).await;
    world.working("agent001", issue, &format!("agent001/{issue}-fix"), 0);
    world.processes.spawn("agent001", issue, now);
    let steps = detected(&world, "LabeledButNoBranch", now).await;
    assert_eq!(kinds(&steps), ["stop", "journal", "labels"]);
    repaired(&world, now).await;
    assert_eq!(world.labels(issue).await, [READY]);
    assert_eq!(world.state("agent001"), State::Idle {});
    assert!(world.last_comment(issue).await.contains("has no branch"));
}

#[rstest]
#[tokio::test]
async fn branch_but_no_label(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[]).await;
    let branch = world.branch("agent001", issue, 2);
    world.working("agent001", issue, &branch, 2);
    world.processes.spawn("agent001", issue, now);
    let steps = detected(&world, "BranchButNoLabel", now).await;
    assert_eq!(kinds(&steps), ["labels"]);
    repaired(&world, now).await;
    assert_eq!(world.labels(issue).await, ["agent001"]);
    assert!(
        world
            .last_comment(issue)
            .await
            .contains("restored `agent001`")
    );
}

#[rstest]
#[tokio::test]
async fn working_but_no_commits(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 0);
    let tip = world.tip(&branch);
    world.working("agent001", issue, &branch, 0);
    world.processes.spawn("agent001", issue, now);
    world.processes.kill("agent001");
    let steps = detected(&world, "WorkingButNoCommits", now).await;
    assert_eq!(kinds(&steps), ["archive", "journal", "labels", "delete"]);
    repaired(&world, now).await;
    assert!(world.has_ref(&archive_ref(&branch, &tip)));
    assert!(!world.has_ref(&format!("refs/heads/{branch}")));
    assert_eq!(world.labels(issue).await, [READY]);
    assert_eq!(world.state("agent001"), State::Idle {});
}

#[rstest]
#[tokio::test]
async fn an_empty_branch_goes_with_its_clean_worktree_and_never_from_under_a_dirty_one(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let clean_issue = world.issue(&["agent001"]).await;
    let clean = world.branch("agent001", clean_issue, 0);
    let clean_worktree = world.worktree("agent001", clean_issue, &clean);
    world.working("agent001", clean_issue, &clean, 0);
    let dirty_issue = world.issue(&["agent002"]).await;
    let dirty = world.branch("agent002", dirty_issue, 0);
    let dirty_worktree = world.worktree("agent002", dirty_issue, &dirty);
    std::fs::write(dirty_worktree.join("unsaved.txt"), "work\n").unwrap();
    world.working("agent002", dirty_issue, &dirty, 0);

    recover(&world.world(), None, now).await.unwrap();
    assert!(!world.has_ref(&format!("refs/heads/{clean}")));
    assert!(
        !clean_worktree.exists(),
        "the clean worktree went with its branch"
    );
    // Deleting the branch under the dirty worktree would leave it on an unborn HEAD, where
    // the next commit starts a history of its own: it stays, and the worktree's leftovers are
    // committed onto it once the worktree is an orphan.
    let files = world.repo.git(&["ls-tree", "--name-only", &dirty]);
    assert!(files.lines().any(|f| f == "unsaved.txt"), "{files}");
    world
        .repo
        .git(&["merge-base", "--is-ancestor", "main", &dirty]);
}

#[rstest]
#[tokio::test]
async fn landed_but_not_freed(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[REVIEW, "agent001"]).await;
    let branch = world.branch("agent001", issue, 1);
    world.working("agent001", issue, &branch, 1);
    world.journal_event("agent001", Event::CompleteWork);
    let steps = detected(&world, "LandedButNotFreed", now).await;
    assert_eq!(kinds(&steps), ["labels"]);
    repaired(&world, now).await;
    assert_eq!(world.labels(issue).await, [REVIEW]);
}

#[rstest]
#[tokio::test]
async fn process_dead_but_working(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 2);
    let tip = world.tip(&branch);
    world.working("agent001", issue, &branch, 1);
    world.processes.spawn("agent001", issue, now);
    world.processes.kill("agent001");
    let steps = detected(&world, "ProcessDeadButWorking", now).await;
    assert_eq!(kinds(&steps), ["archive", "journal", "labels"]);
    repaired(&world, now).await;
    assert!(world.has_ref(&archive_ref(&branch, &tip)));
    assert_eq!(world.tip(&branch), tip, "the branch stays for the retry");
    assert_eq!(world.state("agent001"), State::Idle {});
    assert_eq!(
        world.labels(issue).await,
        [READY],
        "requeued, not landed unjudged"
    );
}

#[rstest]
#[tokio::test]
async fn orphan_worktree_keeps_its_changes(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[REVIEW]).await;
    let branch = world.branch("agent002", issue, 1);
    let worktree = world.worktree("agent002", issue, &branch);
    std::fs::write(worktree.join("left-over.txt"), "unsaved\n").unwrap();
    let steps = detected(&world, "OrphanWorktree", now).await;
    assert_eq!(kinds(&steps), ["commit", "remove-worktree"]);
    let before = world.tip(&branch);
    repaired(&world, now).await;
    assert!(!worktree.exists());
    let after = world.tip(&branch);
    assert_ne!(after, before, "the leftovers were committed");
    let files = world.repo.git(&["ls-tree", "--name-only", &after]);
    assert!(files.lines().any(|f| f == "left-over.txt"), "{files}");
}

#[rstest]
#[tokio::test]
async fn duplicate_claim(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent001", "agent002"]).await;
    let branch = world.branch("agent001", issue, 1);
    world.working("agent001", issue, &branch, 1);
    world.processes.spawn("agent001", issue, now);
    let steps = detected(&world, "DuplicateClaim", now).await;
    assert_eq!(kinds(&steps), ["labels"]);
    repaired(&world, now).await;
    assert_eq!(world.labels(issue).await, ["agent001"]);
    assert!(
        world
            .last_comment(issue)
            .await
            .contains("one claim too many")
    );
}

#[rstest]
#[tokio::test]
async fn review_but_branch_missing_is_restored_from_its_archive(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[REVIEW]).await;
    let branch = world.branch("agent001", issue, 2);
    let tip = world.tip(&branch);
    world
        .repo
        .git(&["update-ref", &archive_ref(&branch, &tip), &tip]);
    world.repo.git(&["branch", "-D", &branch]);
    let steps = detected(&world, "ReviewButBranchMissing", now).await;
    assert_eq!(kinds(&steps), ["restore"]);
    repaired(&world, now).await;
    assert_eq!(world.tip(&branch), tip);
}

#[rstest]
#[tokio::test]
async fn bundled_but_pr_closed_unmerged(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[BUNDLED]).await;
    let branch = world.branch("agent001", issue, 1);
    world
        .repo
        .git(&["branch", "clambake/bundle-20261121", &branch]);
    world.repo.publish("clambake/bundle-20261121");
    let bundle = world
        .forge
        .create_pull_request(&NewPullRequest {
            title: "Bundle".into(),
            body: format!("Closes #{issue}"),
            head: "clambake/bundle-20261121".into(),
            base: None,
        })
        .await
        .unwrap();
    world.working("agent001", issue, &branch, 1);
    world.journal_event("agent001", Event::CompleteWork);
    world.journal_event(
        "agent001",
        Event::Bundle {
            bundle_pr: bundle.number,
        },
    );
    world.forge.close_pull_request(bundle.number).await.unwrap();
    let steps = detected(&world, "BundledButPrClosedUnmerged", now).await;
    assert_eq!(kinds(&steps), ["archive", "journal", "labels"]);
    repaired(&world, now).await;
    assert_eq!(world.labels(issue).await, [REVIEW]);
    assert_eq!(world.state("agent001"), State::Idle {});
    assert!(
        world
            .last_comment(issue)
            .await
            .contains("closed without merging")
    );
}

#[rstest]
#[tokio::test]
async fn merged_but_issue_open(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&[BUNDLED]).await;
    let branch = world.branch("agent001", issue, 1);
    world.working("agent001", issue, &branch, 1);
    world.journal_event("agent001", Event::CompleteWork);
    world.journal_event("agent001", Event::Bundle { bundle_pr: 99 });
    world.journal_event("agent001", Event::Merge);
    let steps = detected(&world, "MergedButIssueOpen", now).await;
    assert_eq!(kinds(&steps), ["close", "labels"]);
    repaired(&world, now).await;
    let closed = world.forge.issue(issue).await.unwrap();
    assert_eq!(closed.state, IssueState::Closed);
    assert!(closed.labels.is_empty());
}

#[rstest]
#[tokio::test]
async fn stale_claim_is_stopped_and_requeued(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let started = Timestamp::now();
    let later = started + SignedDuration::from_mins(91);
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 0);
    world.working("agent001", issue, &branch, 0);
    world.processes.spawn("agent001", issue, started);
    assert_eq!(world.found(started).await, []);
    let steps = detected(&world, "StaleClaim", later).await;
    assert_eq!(
        kinds(&steps),
        ["stop", "archive", "journal", "labels", "delete"]
    );
    repaired(&world, later).await;
    let processes = clambake::ports::processes::AgentProcesses::processes(&world.processes)
        .await
        .unwrap();
    assert!(
        processes.iter().all(|p| !p.alive),
        "the process was stopped"
    );
    assert_eq!(world.labels(issue).await, [READY]);
}

#[rstest]
#[tokio::test]
async fn unjournaled_claim_is_adopted(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent003"]).await;
    let branch = world.branch("agent003", issue, 1);
    world.processes.spawn("agent003", issue, now);
    let steps = detected(&world, "UnjournaledClaim", now).await;
    assert_eq!(kinds(&steps), ["journal", "journal"]);
    repaired(&world, now).await;
    assert!(matches!(
        world.state("agent003"),
        State::Working { issue: i, commits_ahead: 1, .. } if i == issue
    ));
    assert_eq!(world.tip(&branch).len(), 40);
}

#[rstest]
#[tokio::test]
async fn executing_a_plan_twice_is_harmless(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let world = TestWorld::on(backend).await;
    let now = Timestamp::now();
    let issue = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", issue, 2);
    world.working("agent001", issue, &branch, 2);
    world.processes.spawn("agent001", issue, now);
    world.processes.kill("agent001");
    let diagnosis = diagnose(&world.world(), None, now).await.unwrap();
    let plan = &diagnosis.plans[0];
    assert!(matches!(
        plan.inconsistency,
        Inconsistency::ProcessDeadButWorking { .. }
    ));
    let first = execute(&world.world(), plan, &diagnosis.believed, now).await;
    assert!(first.steps.iter().all(|s| s.outcome == StepOutcome::Done));
    let second = execute(&world.world(), plan, &diagnosis.believed, now).await;
    assert!(
        second
            .steps
            .iter()
            .all(|s| s.outcome == StepOutcome::AlreadyDone),
        "{:#?}",
        second.steps
    );
    let comments = world.forge.comments(issue).await.unwrap();
    assert_eq!(comments.len(), 1, "one comment, not two");
    assert_eq!(
        clambake::ports::journal::Journal::history(world.journal.as_ref(), "agent001")
            .unwrap()
            .len(),
        3,
        "assigned, working, abandoned once"
    );
    let archives = world
        .repo
        .git(&["for-each-ref", "--format=%(refname)", ARCHIVE_PREFIX]);
    assert_eq!(archives.lines().count(), 1);
}
