//! The embedded local forge against real git repositories and a real SQLite file.

use std::sync::Arc;

use clambake::adapters::forge::local::{LocalForge, PreparedMerge};
use clambake::adapters::git::Git;
use clambake::ports::Forge;
use clambake::ports::SystemClock;
use clambake::ports::forge::{
    ForgeError, IssueFilter, IssueState, Label, LabelChange, NewIssue, NewPullRequest,
    PullRequestEdit, PullRequestFilter, PullRequestState,
};
use jiff::Timestamp;

use crate::support::TestRepo;

fn open(repo: &TestRepo) -> LocalForge {
    let dir = repo.path().join(".clambake");
    std::fs::create_dir_all(&dir).unwrap();
    LocalForge::open(
        &dir.join("forge.db"),
        Git::new(repo.path()),
        Arc::new(SystemClock),
        "tester",
        "main",
    )
    .unwrap()
}

/// Now, to the whole second (the forge may keep its times to the second).
fn whole_second_now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}

fn issue(title: &str, labels: &[&str]) -> NewIssue {
    NewIssue {
        title: title.to_owned(),
        body: String::new(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        assignees: Vec::new(),
    }
}

fn pull(head: &str, body: &str) -> NewPullRequest {
    NewPullRequest {
        title: format!("Merge {head}"),
        body: body.to_owned(),
        head: head.to_owned(),
        base: None,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn issues_are_created_listed_labelled_and_closed() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    let first = forge
        .create_issue(&issue("First", &["route:ready", "bug"]))
        .await
        .unwrap();
    let second = forge
        .create_issue(&issue("Second", &["route:ready"]))
        .await
        .unwrap();
    forge.create_issue(&issue("Third", &[])).await.unwrap();
    assert_eq!((first.number, second.number), (1, 2));
    assert_eq!(first.labels, ["bug", "route:ready"]);

    let ready = forge
        .issues(&IssueFilter {
            state: Some(IssueState::Open),
            labels: strings(&["route:ready"]),
        })
        .await
        .unwrap();
    assert_eq!(ready.iter().map(|i| i.number).collect::<Vec<_>>(), [1, 2]);
    let both = forge
        .issues(&IssueFilter {
            state: None,
            labels: strings(&["ROUTE:READY", "bug"]),
        })
        .await
        .unwrap();
    assert_eq!(
        both.len(),
        1,
        "labels match case-insensitively, all must be present"
    );

    let edited = forge
        .edit_labels(2, &strings(&["agent001"]), &strings(&["route:ready"]))
        .await
        .unwrap();
    assert_eq!(edited.labels, ["agent001"]);
    assert!(
        forge
            .labels()
            .await
            .unwrap()
            .iter()
            .any(|l| l.name == "agent001"),
        "added labels are created"
    );

    let closing = whole_second_now();
    let closed = forge.set_issue_state(1, IssueState::Closed).await.unwrap();
    assert_eq!(closed.state, IssueState::Closed);
    let closed_at = closed.closed_at.expect("a closing time");
    assert!(
        (closing..=Timestamp::now()).contains(&closed_at),
        "closed at {closed_at}, asked at {closing}"
    );
    let open_now = forge.issues(&IssueFilter::open()).await.unwrap();
    assert_eq!(
        open_now.iter().map(|i| i.number).collect::<Vec<_>>(),
        [2, 3]
    );
    let reopened = forge.set_issue_state(1, IssueState::Open).await.unwrap();
    assert_eq!(reopened.closed_at, None);

    assert_eq!(forge.issue(2).await.unwrap().comments, 0);
    forge.create_comment(2, "working on it").await.unwrap();
    let comments = forge.comments(2).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].author, "tester");
    let listed = forge.issues(&IssueFilter::open()).await.unwrap();
    let counts: Vec<(u64, u64)> = listed.iter().map(|i| (i.number, i.comments)).collect();
    assert!(counts.contains(&(2, 1)), "{counts:?}");

    assert!(matches!(
        forge.issue(99).await,
        Err(ForgeError::NotFound { number: 99, .. })
    ));
    assert!(matches!(
        forge.create_issue(&issue("  ", &[])).await,
        Err(ForgeError::Invalid(_))
    ));
    assert!(matches!(
        forge.edit_labels(99, &[], &[]).await,
        Err(ForgeError::NotFound { .. })
    ));
}

#[tokio::test]
async fn labels_are_ensured_idempotently() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    let label = Label {
        name: "route:ready".to_owned(),
        color: "0e8a16".to_owned(),
        description: "Ready".to_owned(),
    };
    assert_eq!(
        forge.ensure_label(&label).await.unwrap(),
        LabelChange::Created
    );
    assert_eq!(
        forge.ensure_label(&label).await.unwrap(),
        LabelChange::Unchanged
    );
    let recoloured = Label {
        color: "ffffff".to_owned(),
        ..label
    };
    assert_eq!(
        forge.ensure_label(&recoloured).await.unwrap(),
        LabelChange::Updated
    );
    assert_eq!(forge.labels().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_database_persists_uses_wal_and_is_migrated() {
    let repo = TestRepo::new();
    {
        let forge = open(&repo);
        forge.create_issue(&issue("Kept", &[])).await.unwrap();
    }
    let forge = open(&repo);
    assert_eq!(forge.issue(1).await.unwrap().title, "Kept");
    let conn = rusqlite::Connection::open(repo.path().join(".clambake/forge.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version, 3,
        "the schema, the listing version and the reviews"
    );
}

#[tokio::test]
async fn pull_requests_are_validated_like_github() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.git(&["branch", "empty"]);
    repo.branch_with_file("feature", "main", "a.txt", "a\n");

    assert!(matches!(
        forge.create_pull_request(&pull("missing", "")).await,
        Err(ForgeError::NoSuchBranch(b)) if b == "missing"
    ));
    assert!(matches!(
        forge.create_pull_request(&pull("empty", "")).await,
        Err(ForgeError::Invalid(_))
    ));
    let same = NewPullRequest {
        base: Some("main".to_owned()),
        ..pull("main", "")
    };
    assert!(matches!(
        forge.create_pull_request(&same).await,
        Err(ForgeError::Invalid(_))
    ));

    let pr = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();
    assert_eq!(pr.base, "main");
    assert_eq!(pr.state, PullRequestState::Open);
    assert_eq!(
        pr.head_sha.as_deref(),
        Some(repo.git(&["rev-parse", "feature"]).as_str())
    );
    assert!(matches!(
        forge.create_pull_request(&pull("feature", "")).await,
        Err(ForgeError::DuplicatePullRequest { number, .. }) if number == pr.number
    ));

    let moved = repo.branch_with_file("feature", "feature", "b.txt", "b\n");
    assert_eq!(
        forge.pull_request(pr.number).await.unwrap().head_sha,
        Some(moved),
        "the head is live"
    );
    let listed = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: Some("feature".to_owned()),
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn merging_writes_a_merge_commit_and_closes_issues_by_keyword() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    for title in ["one", "two", "three"] {
        forge.create_issue(&issue(title, &[])).await.unwrap();
    }
    let base_before = repo.git(&["rev-parse", "main"]);
    let head = repo.branch_with_file("agent001/1-one", "main", "one.txt", "1\n");
    let pr = forge
        .create_pull_request(&pull("agent001/1-one", "Closes #1\nfixes: #2\nSee #3"))
        .await
        .unwrap();

    let merging = whole_second_now();
    let outcome = forge.merge_pull_request(pr.number, None).await.unwrap();
    assert_eq!(outcome.closed_issues, [1, 2]);
    let merged = outcome.pull_request;
    assert_eq!(merged.state, PullRequestState::Merged);
    let merged_at = merged.merged_at.expect("a merge time");
    assert!(
        (merging..=Timestamp::now()).contains(&merged_at),
        "merged at {merged_at}, asked at {merging}"
    );
    let merge = repo.git(&["rev-parse", "main"]);
    assert_eq!(merged.merge_commit_sha.as_deref(), Some(merge.as_str()));
    assert_eq!(repo.git(&["rev-parse", "main^1"]), base_before);
    assert_eq!(
        repo.git(&["rev-parse", "main^2"]),
        head,
        "the head's commit is kept as is"
    );
    assert_eq!(repo.git(&["show", "main:one.txt"]), "1");
    assert_eq!(
        repo.read("one.txt"),
        "1\n",
        "the clean checkout of main follows"
    );

    assert_eq!(forge.issue(1).await.unwrap().state, IssueState::Closed);
    assert_eq!(forge.issue(2).await.unwrap().state, IssueState::Closed);
    assert_eq!(forge.issue(3).await.unwrap().state, IssueState::Open);
    assert!(matches!(
        forge.merge_pull_request(pr.number, None).await,
        Err(ForgeError::NotOpen {
            state: "merged",
            ..
        })
    ));
}

#[tokio::test]
async fn a_merge_expecting_another_head_is_refused_and_changes_nothing() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    let base_before = repo.git(&["rev-parse", "main"]);
    let head = repo.branch_with_file("agent001/1-one", "main", "one.txt", "1\n");
    let pr = forge
        .create_pull_request(&pull("agent001/1-one", "One"))
        .await
        .unwrap();

    let error = forge
        .merge_pull_request(pr.number, Some(&base_before))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ForgeError::HeadMoved { number, .. } if number == pr.number),
        "{error}"
    );
    assert_eq!(repo.git(&["rev-parse", "main"]), base_before);
    assert_eq!(
        forge.pull_request(pr.number).await.unwrap().state,
        PullRequestState::Open
    );
    forge
        .merge_pull_request(pr.number, Some(&head))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_base_that_moved_underneath_is_refused_not_overwritten() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.git(&["checkout", "-q", "--detach"]);
    repo.branch_with_file("feature", "main", "feature.txt", "f\n");
    let pr = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();

    let PreparedMerge::Commit(prepared) = forge.prepare_merge(pr.number, None).await.unwrap()
    else {
        panic!("the feature is not in main yet");
    };
    let moved = repo.branch_with_file("main", "main", "other.txt", "o\n");
    let error = forge.finish_merge(prepared).await.unwrap_err();
    assert!(matches!(error, ForgeError::BaseMoved { .. }), "{error:?}");
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        moved,
        "main keeps the commit that moved it"
    );
    assert_eq!(
        forge.pull_request(pr.number).await.unwrap().state,
        PullRequestState::Open
    );

    forge.merge_pull_request(pr.number, None).await.unwrap();
    assert_eq!(
        repo.git(&["rev-parse", "main^1"]),
        moved,
        "the retry merges onto the new tip"
    );
}

#[tokio::test]
async fn a_conflicting_pull_request_is_refused_with_its_paths() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.branch_with_file("left", "main", "shared.txt", "left\n");
    repo.branch_with_file("right", "main", "shared.txt", "right\n");
    let left = forge.create_pull_request(&pull("left", "")).await.unwrap();
    let right = forge.create_pull_request(&pull("right", "")).await.unwrap();
    forge.merge_pull_request(left.number, None).await.unwrap();
    let main = repo.git(&["rev-parse", "main"]);
    let error = forge
        .merge_pull_request(right.number, None)
        .await
        .unwrap_err();
    let ForgeError::MergeConflict { paths, .. } = error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_eq!(paths, ["shared.txt"]);
    assert_eq!(repo.git(&["rev-parse", "main"]), main, "nothing moved");
}

#[tokio::test]
async fn a_dirty_checkout_of_the_base_is_protected() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.branch_with_file("feature", "main", "feature.txt", "f\n");
    let pr = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();
    repo.write("README.md", "my unsaved edit\n");
    let main = repo.git(&["rev-parse", "main"]);
    let error = forge.merge_pull_request(pr.number, None).await.unwrap_err();
    assert!(error.to_string().contains("uncommitted changes"), "{error}");
    assert_eq!(repo.git(&["rev-parse", "main"]), main);
    assert_eq!(repo.read("README.md"), "my unsaved edit\n");
}

#[tokio::test]
async fn an_untracked_file_the_merge_would_overwrite_stops_it_before_the_base_moves() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.branch_with_file("feature", "main", "feature.txt", "f\n");
    let pr = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();
    repo.write("feature.txt", "my own, untracked\n");
    let main = repo.git(&["rev-parse", "main"]);
    let error = forge.merge_pull_request(pr.number, None).await.unwrap_err();
    assert!(error.to_string().contains("feature.txt"), "{error}");
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        main,
        "the base did not move"
    );
    assert_eq!(repo.read("feature.txt"), "my own, untracked\n");
    assert_eq!(
        forge.pull_request(pr.number).await.unwrap().state,
        PullRequestState::Open
    );

    std::fs::remove_file(repo.path().join("feature.txt")).unwrap();
    forge.merge_pull_request(pr.number, None).await.unwrap();
    assert_eq!(repo.read("feature.txt"), "f\n", "the checkout followed");
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
}

#[tokio::test]
async fn a_head_already_in_the_base_is_recorded_as_merged() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    forge
        .create_issue(&issue("done by hand", &[]))
        .await
        .unwrap();
    repo.branch_with_file("feature", "main", "f.txt", "f\n");
    let pr = forge
        .create_pull_request(&pull("feature", "Closes #1"))
        .await
        .unwrap();
    repo.git(&["merge", "-q", "--ff-only", "feature"]);
    let outcome = forge.merge_pull_request(pr.number, None).await.unwrap();
    assert_eq!(outcome.pull_request.state, PullRequestState::Merged);
    assert_eq!(outcome.closed_issues, [1]);
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        repo.git(&["rev-parse", "feature"]),
        "no extra commit"
    );
}

#[tokio::test]
async fn closing_keywords_only_act_on_the_default_branch() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    forge.create_issue(&issue("x", &[])).await.unwrap();
    repo.git(&["branch", "develop"]);
    repo.branch_with_file("feature", "main", "f.txt", "f\n");
    let pr = forge
        .create_pull_request(&NewPullRequest {
            base: Some("develop".to_owned()),
            ..pull("feature", "Closes #1")
        })
        .await
        .unwrap();
    let outcome = forge.merge_pull_request(pr.number, None).await.unwrap();
    assert!(outcome.closed_issues.is_empty());
    assert_eq!(forge.issue(1).await.unwrap().state, IssueState::Open);
}

#[tokio::test]
async fn closed_pull_requests_stay_closed() {
    let repo = TestRepo::new();
    let forge = open(&repo);
    repo.branch_with_file("feature", "main", "f.txt", "f\n");
    let pr = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();
    let edit = PullRequestEdit {
        title: "Rebuilt".to_owned(),
        body: "Now without #9".to_owned(),
    };
    let edited = forge.edit_pull_request(pr.number, &edit).await.unwrap();
    assert_eq!(
        (edited.title.as_str(), edited.body.as_str()),
        ("Rebuilt", "Now without #9")
    );
    let closed = forge.close_pull_request(pr.number).await.unwrap();
    assert_eq!(closed.state, PullRequestState::Closed);
    assert_eq!(closed.body, "Now without #9");
    assert!(matches!(
        forge.edit_pull_request(pr.number, &edit).await,
        Err(ForgeError::NotOpen {
            state: "closed",
            ..
        })
    ));
    assert!(matches!(
        forge.merge_pull_request(pr.number, None).await,
        Err(ForgeError::NotOpen { .. })
    ));
    let again = forge
        .create_pull_request(&pull("feature", ""))
        .await
        .unwrap();
    assert_ne!(
        again.number, pr.number,
        "a closed pull request does not block a new one"
    );
}
