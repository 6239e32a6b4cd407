//! `clambake land` lands work as the run loop does: the same labels, comment, pull request
//! (without bundling) and journal steps.

use rstest::rstest;

use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::{open_journal, transition};
use clambake::core::lifecycle::machine::{Event, State};
use clambake::core::queue::labels;
use clambake::ports::journal::Journal;

use crate::backend::Backend;
use crate::support::TestRepo;

const BRANCH: &str = "agent001/1-add-greeting";

#[rstest]
#[tokio::test]
async fn land_by_hand_labels_comments_opens_the_pull_request_and_journals_the_landing(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    repo.clambake(&["config", "set", "bundling.enabled", "false"])
        .success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "agent001",
    ])
    .success();
    repo.branch_with_file(BRANCH, "main", "greeting.txt", "hi\n");
    // The slot holds the issue in the journal, as the run loop left it when it was stopped.
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let journal = open_journal(&workspace).unwrap();
    let now = jiff::Timestamp::now();
    let assign = Event::Assign {
        agent_id: "agent001".to_owned(),
        issue: 1,
        branch: BRANCH.to_owned(),
    };
    transition(
        &journal,
        "agent001",
        &assign,
        "claimed by the run loop",
        now,
    )
    .unwrap();

    let landed = repo
        .clambake(&["land", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(landed["labels"], serde_json::json!([labels::REVIEW]));
    let number = landed["pull_request"].as_u64().expect("a pull request");
    assert!(landed["train"].is_null(), "{landed}");

    let comments = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json()
        .to_string();
    let said = format!(
        "Landed by agent001: `{BRANCH}` is 1 commit ahead. Pull request #{number} carries it."
    );
    assert!(comments.contains(&said), "{comments}");
    assert_eq!(
        journal.current_state("agent001").unwrap(),
        State::Landed { issue: 1 }
    );
    let last = journal.history("agent001").unwrap().pop().unwrap();
    assert_eq!(last.event, Event::CompleteWork);
    assert_eq!(last.cause, "landed by `clambake land`");
}

#[rstest]
fn land_finds_the_slots_branch_made_under_an_older_title(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "agent001",
    ])
    .success();
    // The attempt ran while the issue was still called "Greet people".
    repo.branch_with_file("agent001/1-greet-people", "main", "greeting.txt", "hi\n");
    let landed = repo
        .clambake(&["land", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(landed["branch"], "agent001/1-greet-people");
    assert_eq!(landed["commits_ahead"], 1);
    assert_eq!(landed["labels"], serde_json::json!([labels::REVIEW]));
}
