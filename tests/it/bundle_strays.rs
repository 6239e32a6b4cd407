//! No issue is left `route:bundled` with no open bundle to carry it: a departure never boards a
//! bundle pull request that has merged or closed, and the train repairs an issue it finds so.

use std::sync::Arc;

use clambake::adapters::forge::local::LocalForge;
use clambake::adapters::git::Git;
use clambake::adapters::journal::{JOURNAL_FILE, SqliteJournal};
use clambake::app::trains::bundle::Bundler;
use clambake::core::config::{BundleTrigger, BundlingConfig};
use clambake::core::queue::labels;
use clambake::core::text::closing::closed_issues;
use clambake::ports::Forge;
use clambake::ports::SystemClock;
use clambake::ports::forge::{
    IssueState, Number, PullRequest, PullRequestFilter, PullRequestState,
};
use jiff::Timestamp;

use crate::support::TestRepo;

fn open_forge(repo: &TestRepo) -> LocalForge {
    LocalForge::open(
        &repo.path().join(".clambake/forge.db"),
        Git::new(repo.path()),
        Arc::new(SystemClock),
        "tester",
        "main",
    )
    .unwrap()
}

/// Runs the `on_land` train at `now`, as the run loop does at the end of a pass.
async fn train(repo: &TestRepo, forge: &dyn Forge, now: Timestamp) {
    let config = BundlingConfig {
        trigger: BundleTrigger::OnLand,
        ..BundlingConfig::default()
    };
    let git = clambake::adapters::git::open(repo.path());
    let journal = SqliteJournal::open(&repo.path().join(".clambake").join(JOURNAL_FILE)).unwrap();
    let bundler = Bundler {
        git: &git,
        forge,
        config: &config,
        journal: Some(&journal),
        train_log: &journal,
        state_dir: repo.path().join(".clambake"),
        verification: None,
        rework: None,
    };
    bundler.run(now, false, false).await.unwrap();
}

async fn all_pull_requests(forge: &dyn Forge) -> Vec<PullRequest> {
    forge
        .pull_requests(&PullRequestFilter::default())
        .await
        .unwrap()
}

/// The open pull requests whose body closes `issue`.
async fn open_closing(forge: &dyn Forge, issue: Number) -> Vec<Number> {
    all_pull_requests(forge)
        .await
        .into_iter()
        .filter(|pr| pr.state == PullRequestState::Open && closed_issues(&pr.body).contains(&issue))
        .map(|pr| pr.number)
        .collect()
}

/// The sequence the chaos test met: a bundle leaves and is merged within one second, and the
/// next departure in that second (work landed since) was named as the merged bundle was. It
/// rebuilt the branch, found the merged pull request on it and boarded its new members onto it:
/// they stayed `route:bundled` with nothing left to merge them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departure_in_the_second_a_bundle_merged_opens_a_bundle_of_its_own() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let first = [
        repo.landed_issue("agent001", "one", "one.txt", "1\n"),
        repo.landed_issue("agent002", "two", "two.txt", "2\n"),
    ];
    let forge = open_forge(&repo);
    let now: Timestamp = "2026-11-21T06:17:00.2Z".parse().unwrap();
    train(&repo, &forge, now).await;
    let bundle = open_closing(&forge, first[0]).await;
    assert_eq!(bundle.len(), 1, "{:#?}", all_pull_requests(&forge).await);
    forge.merge_pull_request(bundle[0], None).await.unwrap();

    let later = [
        repo.landed_issue("agent001", "three", "three.txt", "3\n"),
        repo.landed_issue("agent002", "four", "four.txt", "4\n"),
    ];
    let in_that_second: Timestamp = "2026-11-21T06:17:00.7Z".parse().unwrap();
    train(&repo, &forge, in_that_second).await;

    for issue in later {
        assert_eq!(
            open_closing(&forge, issue).await.len(),
            1,
            "#{issue} rides no open bundle: {:?} {:#?}",
            repo.labels_of(issue),
            all_pull_requests(&forge).await
        );
        assert_eq!(repo.labels_of(issue), [labels::BUNDLED]);
    }
    let prs = all_pull_requests(&forge).await;
    let mut heads: Vec<&str> = prs.iter().map(|pr| pr.head.as_str()).collect();
    heads.sort_unstable();
    heads.dedup();
    assert_eq!(heads.len(), prs.len(), "two pull requests from one head");
}

/// An issue labelled `route:bundled` by hand (or left so by an interrupted or older train),
/// with its work landed on its branch and no pull request: the next train sends it again.
#[test]
fn a_bundled_issue_no_open_bundle_carries_leaves_with_the_next_train() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issue = repo.create_issue("Stray", labels::BUNDLED);
    repo.branch_with_file(
        &format!("agent001/{issue}-stray"),
        "main",
        "stray.txt",
        "s\n",
    );

    repo.clambake(&["bundle"]).success();

    let carried: Vec<_> = repo
        .pull_requests()
        .into_iter()
        .filter(|pr| pr["state"] == "open")
        .filter(|pr| closed_issues(pr["body"].as_str().unwrap()).contains(&issue))
        .collect();
    assert_eq!(carried.len(), 1, "{:#?}", repo.pull_requests());
    assert!(!repo.labels_of(issue).contains(&labels::BUNDLED.to_owned()));
    assert!(
        repo.comments_on(issue)
            .iter()
            .any(|c| c.contains("no open bundle")),
        "{:?}",
        repo.comments_on(issue)
    );
}

/// An issue a merged bundle carried, its work in the base, but still open and `route:bundled`:
/// the train closes it rather than sending merged work round again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundled_issue_whose_merged_bundle_holds_its_work_is_closed() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issues = [
        repo.landed_issue("agent001", "one", "one.txt", "1\n"),
        repo.landed_issue("agent002", "two", "two.txt", "2\n"),
    ];
    let forge = open_forge(&repo);
    let now: Timestamp = "2026-11-21T06:17:00Z".parse().unwrap();
    train(&repo, &forge, now).await;
    let bundle = open_closing(&forge, issues[0]).await;
    forge.merge_pull_request(bundle[0], None).await.unwrap();
    // Reopened, as a merge that closed only some of its issues would leave it.
    forge
        .set_issue_state(issues[1], IssueState::Open)
        .await
        .unwrap();
    assert_eq!(repo.labels_of(issues[1]), [labels::BUNDLED]);

    train(&repo, &forge, "2026-11-21T06:30:00Z".parse().unwrap()).await;

    assert_eq!(
        forge.issue(issues[1]).await.unwrap().state,
        IssueState::Closed
    );
    assert!(
        repo.last_comment_on(issues[1])
            .contains(&format!("#{}", bundle[0])),
        "{}",
        repo.last_comment_on(issues[1])
    );
    assert!(open_closing(&forge, issues[1]).await.is_empty());
}
