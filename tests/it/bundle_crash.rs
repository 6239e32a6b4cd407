//! The train survives a crash between any two of its steps: a re-run converges on the state an
//! uninterrupted run reaches, with no duplicate branch, pull request, comment or label change.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clambake::adapters::forge::local::LocalForge;
use clambake::adapters::git::Git;
use clambake::adapters::journal::{JOURNAL_FILE, SqliteJournal};
use clambake::app::lifecycle::transitions::transition;
use clambake::app::trains::bundle::Bundler;
use clambake::core::config::BundlingConfig;
use clambake::core::lifecycle::machine::{Event, State};
use clambake::ports::Forge;
use clambake::ports::SystemClock;
use clambake::ports::forge::{
    ForgeError, IssueFilter, Number, PullRequestFilter, PullRequestState,
};
use clambake::ports::journal::Journal;
use jiff::Timestamp;

use crate::backend::Backend;
use crate::bundle_cli::five_landed;
use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::TestRepo;

/// The calls that change the forge.
const CHANGES: [&str; 8] = [
    "ensure_label",
    "create_issue",
    "edit_labels",
    "set_issue_state",
    "create_comment",
    "create_pull_request",
    "merge_pull_request",
    "close_pull_request",
];

/// Dies after `budget` changes: the process "crashes" mid-train.
struct Crashing {
    budget: AtomicUsize,
}

impl Hook for Crashing {
    fn before(&self, name: &'static str, _number: Option<Number>) -> Verdict {
        if !CHANGES.contains(&name) {
            return Verdict::Pass;
        }
        match self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            }) {
            Ok(_) => Verdict::Pass,
            Err(_) => Verdict::Refuse(ForgeError::Backend("injected crash".to_owned())),
        }
    }
}

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

fn now() -> Timestamp {
    "2026-11-21T06:17:00Z".parse().unwrap()
}

fn journal(repo: &TestRepo) -> SqliteJournal {
    SqliteJournal::open(&repo.path().join(".clambake").join(JOURNAL_FILE)).unwrap()
}

/// Puts each agent slot where landing leaves it: `Landed` with the issue of its branch.
/// Three slots for five issues: a slot's later landing replaces its earlier one.
fn land_all(repo: &TestRepo) {
    let journal = journal(repo);
    let at = now();
    for (agent, issue, branch) in [
        ("agent003", 3, "agent003/3-three"),
        ("agent001", 4, "agent001/4-four"),
        ("agent002", 5, "agent002/5-five"),
    ] {
        let assign = Event::Assign {
            agent_id: agent.to_owned(),
            issue,
            branch: branch.to_owned(),
        };
        for event in [
            assign,
            Event::StartWork { commits_ahead: 1 },
            Event::CompleteWork,
        ] {
            transition(&journal, agent, &event, "landed by the test", at).unwrap();
        }
    }
}

async fn train(repo: &TestRepo, forge: &dyn Forge) -> clambake::app::AppResult<()> {
    let config = BundlingConfig::default();
    let git = clambake::adapters::git::open(repo.path());
    let journal = journal(repo);
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
    bundler.run(now(), false, false).await.map(|_| ())
}

/// Everything a train changes, in a comparable form: commit ids differ between repositories
/// (their commits are made at different times), so they are blanked out.
async fn world(repo: &TestRepo, forge: &dyn Forge) -> Vec<String> {
    let sha = regex::Regex::new("[0-9a-f]{12,40}").unwrap();
    raw_world(repo, forge)
        .await
        .into_iter()
        .map(|line| sha.replace_all(&line, "<sha>").into_owned())
        .collect()
}

async fn raw_world(repo: &TestRepo, forge: &dyn Forge) -> Vec<String> {
    let mut lines = vec![repo.git(&[
        "for-each-ref",
        "--format=%(refname) %(objectname)",
        "refs/heads/",
    ])];
    for pr in forge
        .pull_requests(&PullRequestFilter::default())
        .await
        .unwrap()
    {
        lines.push(format!(
            "pr #{} {} {} {:?}",
            pr.number,
            pr.head,
            pr.state.as_str(),
            pr.title
        ));
        lines.push(pr.body);
    }
    for (agent, state) in journal(repo).current_states().unwrap() {
        lines.push(format!("{agent}: {state:?}"));
    }
    for issue in forge.issues(&IssueFilter::default()).await.unwrap() {
        let comments: Vec<String> = forge
            .comments(issue.number)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.body)
            .collect();
        lines.push(format!(
            "issue #{} {:?} {:?}",
            issue.number, issue.labels, comments
        ));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_then_a_rerun_converges_without_duplicates() {
    let reference = five_landed(Backend::Local);
    land_all(&reference);
    let forge = open_forge(&reference);
    train(&reference, &forge).await.unwrap();
    let expected = world(&reference, &forge).await;
    let open = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 2, "{expected:#?}");
    // The slots whose landed work rides in the bundle (#3 and #5) record `Bundle`; #4's slot,
    // set aside, stays `Landed`.
    let states = journal(&reference).current_states().unwrap();
    let bundle_pr = open[0].number;
    assert_eq!(
        states["agent003"],
        State::Bundled {
            issues: vec![3],
            bundle_pr
        }
    );
    assert_eq!(
        states["agent002"],
        State::Bundled {
            issues: vec![5],
            bundle_pr
        }
    );
    assert_eq!(states["agent001"], State::Landed { issue: 4 });
    // Running again changes nothing.
    train(&reference, &forge).await.unwrap();
    assert_eq!(world(&reference, &forge).await, expected);

    let mut crashes = 0;
    for budget in 0.. {
        let repo = five_landed(Backend::Local);
        land_all(&repo);
        let crashing = Hooked {
            inner: Arc::new(open_forge(&repo)),
            hook: Crashing {
                budget: AtomicUsize::new(budget),
            },
        };
        if train(&repo, &crashing).await.is_ok() {
            // The budget outlasted the train: every step has been interrupted once.
            break;
        }
        crashes += 1;
        let forge = open_forge(&repo);
        train(&repo, &forge).await.unwrap();
        let reached = world(&repo, &forge).await;
        // The same state as the uninterrupted run, step for step.
        assert_eq!(
            reached.len(),
            expected.len(),
            "crash after {budget} steps: {reached:#?}"
        );
        for (got, want) in reached.iter().zip(&expected) {
            assert_eq!(got, want, "crash after {budget} steps");
        }
    }
    // A pull request, four comments, four label moves, and a fallback pull request.
    assert_eq!(crashes, 10);

    // Once the bundle merges, the next train records `Merge` for its slots.
    forge.merge_pull_request(bundle_pr, None).await.unwrap();
    train(&reference, &forge).await.unwrap();
    let states = journal(&reference).current_states().unwrap();
    assert_eq!(states["agent003"], State::Merged { issues: vec![3] });
    assert_eq!(states["agent002"], State::Merged { issues: vec![5] });
    assert_eq!(states["agent001"], State::Landed { issue: 4 });
}
