//! `clambake pr review` on both backends: a person's verdict and text reach the forge as a
//! review the port reads back (oldest first, with its author and state), and a review that
//! requests changes without saying what is refused.

use std::sync::Arc;

use clambake::ports::SystemClock;
use clambake::ports::forge::ReviewState;
use rstest::rstest;

use crate::backend::Backend;
use crate::support::TestRepo;

#[rstest]
fn a_review_reaches_the_forge_and_reads_back(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.branch_with_file("greeting", "main", "hello.txt", "hi\n");
    let number = repo
        .clambake(&[
            "pr", "create", "--head", "greeting", "--title", "Greeting", "--json",
        ])
        .success()
        .json()["number"]
        .to_string();

    let refused = repo.clambake(&["pr", "review", &number, "--request-changes"]);
    assert_ne!(refused.code, 0, "changes requested without a body");
    assert!(
        refused.stderr.contains("needs --body"),
        "{}",
        refused.stderr
    );
    let requested = repo
        .clambake(&[
            "pr",
            "review",
            &number,
            "--request-changes",
            "--body",
            "#1 greets too loudly",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(requested["state"], "changes_requested", "{requested}");
    repo.clambake(&["pr", "review", &number, "--approve"])
        .success();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reviews = runtime.block_on(async {
        let forge = repo.open_forge(Arc::new(SystemClock)).await;
        forge.reviews(number.parse().unwrap()).await.unwrap()
    });
    let states: Vec<ReviewState> = reviews.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [ReviewState::ChangesRequested, ReviewState::Approved]
    );
    assert_eq!(reviews[0].body, "#1 greets too loudly");
    assert!(reviews[0].author_association.is_trusted());
    assert!(reviews[0].id < reviews[1].id);
    assert!(reviews[0].submitted_at.is_some());
    repo.assert_no_violations();
}
