//! The shared rebuild: an open bundle rebuilt in place without some members, its record and
//! branch agreeing, the members taken out sent back and not boarded again by the next train;
//! a bundle left with none is closed.

use std::sync::Arc;

use clambake::adapters::forge::local::LocalForge;
use clambake::adapters::git::Git;
use clambake::adapters::journal::{JOURNAL_FILE, SqliteJournal};
use clambake::app::trains::bundle::{Bundler, Rebuilt, SentBack, TakeOut};
use clambake::core::config::{BundleTrigger, BundlingConfig};
use clambake::core::queue::labels;
use clambake::core::text::closing::closed_issues;
use clambake::core::trains::pull_request::read_record;
use clambake::ports::Forge;
use clambake::ports::SystemClock;
use clambake::ports::forge::{Number, PullRequest, PullRequestFilter, PullRequestState};
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

struct Train {
    git: clambake::ports::git::Repository,
    journal: SqliteJournal,
    config: BundlingConfig,
    state_dir: std::path::PathBuf,
}

impl Train {
    fn new(repo: &TestRepo) -> Self {
        Self {
            git: clambake::adapters::git::open(repo.path()),
            journal: SqliteJournal::open(&repo.path().join(".clambake").join(JOURNAL_FILE))
                .unwrap(),
            config: BundlingConfig {
                trigger: BundleTrigger::OnLand,
                ..BundlingConfig::default()
            },
            state_dir: repo.path().join(".clambake"),
        }
    }

    fn bundler<'a>(&'a self, forge: &'a dyn Forge) -> Bundler<'a> {
        Bundler {
            git: &self.git,
            forge,
            config: &self.config,
            journal: Some(&self.journal),
            train_log: &self.journal,
            state_dir: self.state_dir.clone(),
        }
    }
}

async fn open_bundles(forge: &dyn Forge) -> Vec<PullRequest> {
    forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|pr| pr.head.starts_with("clambake/bundle-"))
        .collect()
}

fn take_out(issue: Number) -> TakeOut {
    TakeOut {
        issue,
        why: "its checks failed".to_owned(),
        link: Some("https://ci.example/log/1".to_owned()),
        tail: Some("test parser ... FAILED".to_owned()),
        sent_back: SentBack::Ready,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_rebuilt_in_place_without_a_member_and_stays_consistent() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issues = [
        repo.landed_issue("agent001", "one", "one.txt", "1\n"),
        repo.landed_issue("agent002", "two", "two.txt", "2\n"),
        repo.landed_issue("agent003", "three", "three.txt", "3\n"),
    ];
    let forge = open_forge(&repo);
    let train = Train::new(&repo);
    let now: Timestamp = "2026-11-21T06:17:00Z".parse().unwrap();
    train.bundler(&forge).run(now, false, false).await.unwrap();
    let bundle = open_bundles(&forge).await;
    assert_eq!(bundle.len(), 1);
    let number = bundle[0].number;

    let rebuilt = train
        .bundler(&forge)
        .rebuild_without(number, &[take_out(issues[1])])
        .await
        .unwrap();
    let Rebuilt::InPlace { tip, members } = rebuilt else {
        panic!("{rebuilt:?}");
    };
    assert_eq!(members, [issues[0], issues[2]]);

    let pr = forge.pull_request(number).await.unwrap();
    assert_eq!(pr.state, PullRequestState::Open);
    assert_eq!(
        closed_issues(&pr.body),
        [issues[0], issues[2]],
        "{}",
        pr.body
    );
    assert!(pr.body.contains("its checks failed"), "{}", pr.body);
    assert!(pr.body.contains("test parser ... FAILED"), "{}", pr.body);
    let record = read_record(&pr.body, &pr.head, "main").unwrap();
    assert_eq!(record.tip, tip);
    assert_eq!(record.taken_out[0].issue, issues[1]);
    assert_eq!(
        train.git.remote.tip(&pr.head).await.unwrap().as_deref(),
        Some(tip.as_str()),
        "the branch is where the record says"
    );
    assert!(
        !train
            .git
            .refs
            .is_ancestor(&record.taken_out[0].head, &tip)
            .await
            .unwrap()
    );
    assert_eq!(repo.labels_of(issues[1]), [labels::READY]);
    assert_eq!(repo.labels_of(issues[0]), [labels::BUNDLED]);

    // The member goes back for rework: the next train neither closes the bundle to rebuild it
    // nor boards the member again.
    let later: Timestamp = "2026-11-21T07:17:00Z".parse().unwrap();
    let report = train.bundler(&forge).run(later, true, false).await.unwrap();
    assert!(report.repairs.is_empty(), "{:?}", report.repairs);
    assert!(
        report.bundles.is_empty() && report.individual.is_empty(),
        "{report:#?}"
    );
    let still = open_bundles(&forge).await;
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].number, number);
    assert_eq!(repo.labels_of(issues[1]), [labels::READY]);

    // Repeated (a crash before the caller recorded it): nothing changes.
    let again = train
        .bundler(&forge)
        .rebuild_without(number, &[take_out(issues[1])])
        .await
        .unwrap();
    assert_eq!(again, Rebuilt::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_left_with_no_members_is_closed_with_a_comment() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issues = [
        repo.landed_issue("agent001", "one", "one.txt", "1\n"),
        repo.landed_issue("agent002", "two", "two.txt", "2\n"),
    ];
    let forge = open_forge(&repo);
    let train = Train::new(&repo);
    let now: Timestamp = "2026-11-21T06:17:00Z".parse().unwrap();
    train.bundler(&forge).run(now, false, false).await.unwrap();
    let number = open_bundles(&forge).await[0].number;

    let mut failed = take_out(issues[1]);
    failed.sent_back = SentBack::Failed;
    let rebuilt = train
        .bundler(&forge)
        .rebuild_without(number, &[take_out(issues[0]), failed])
        .await
        .unwrap();
    assert_eq!(rebuilt, Rebuilt::Closed);
    let pr = forge.pull_request(number).await.unwrap();
    assert_eq!(pr.state, PullRequestState::Closed);
    assert!(
        forge
            .comments(number)
            .await
            .unwrap()
            .iter()
            .any(|c| c.body.contains("Every member of this bundle was taken out")),
    );
    assert_eq!(repo.labels_of(issues[0]), [labels::READY]);
    assert_eq!(repo.labels_of(issues[1]), [labels::FAILED]);

    let later: Timestamp = "2026-11-21T07:17:00Z".parse().unwrap();
    train.bundler(&forge).run(later, true, false).await.unwrap();
    assert_eq!(
        repo.labels_of(issues[0]),
        [labels::READY],
        "not sent back to review"
    );
    assert!(open_bundles(&forge).await.is_empty());
}
