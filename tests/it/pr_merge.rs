//! `clambake pr merge` run again on a pull request it (or anyone) already merged: it says so,
//! with the merge commit, and succeeds, so that a re-run after a lost answer is safe. On both
//! backends; a closed pull request is still refused.

use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::support::{CliOutput, TestRepo};

/// Opens a pull request from `branch` (closing issue #1) and merges it twice through `clambake`,
/// then closes another and tries to merge that; returns the merges' JSON and the refusal.
fn merge_twice(clambake: impl Fn(&[&str]) -> CliOutput, branch: &str) -> (Value, Value, CliOutput) {
    clambake(&["issue", "create", "--title", "Greeting"]).success();
    let create = |head: &str| {
        clambake(&[
            "pr",
            "create",
            "--head",
            head,
            "--title",
            "Greeting",
            "--body",
            "Closes #1",
            "--json",
        ])
        .success()
        .json()["number"]
            .to_string()
    };
    let number = create(branch);
    let first = clambake(&["pr", "merge", &number, "--json"])
        .success()
        .json();
    let again = clambake(&["pr", "merge", &number, "--json"])
        .success()
        .json();
    let text = clambake(&["pr", "merge", &number]).success().stdout;
    let sha = first["pull_request"]["merge_commit_sha"].as_str().unwrap();
    assert_eq!(
        text.trim(),
        format!("Already merged: pull request #{number} into main ({sha})")
    );
    let closed = create("closed");
    clambake(&["pr", "close", &closed]).success();
    let refused = clambake(&["pr", "merge", &closed]);
    (first, again, refused)
}

fn assert_reported_once(first: &Value, again: &Value, refused: &CliOutput) {
    assert_eq!(first["outcome"], "merged", "{first}");
    assert_eq!(first["closed_issues"], serde_json::json!([1]));
    assert_eq!(again["outcome"], "already_merged", "{again}");
    assert_eq!(
        again["closed_issues"],
        serde_json::json!([]),
        "none closed now"
    );
    assert_eq!(again["pull_request"]["state"], "merged");
    assert_eq!(
        again["pull_request"]["merge_commit_sha"],
        first["pull_request"]["merge_commit_sha"]
    );
    assert_ne!(
        refused.code, 0,
        "a closed pull request is not merged: {}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("closed, not open"),
        "{}",
        refused.stderr
    );
}

#[rstest]
fn merging_a_merged_pull_request_again_reports_it(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.branch_with_file("greeting", "main", "hello.txt", "hi\n");
    repo.branch_with_file("closed", "main", "other.txt", "no\n");

    let (first, again, refused) = merge_twice(|args| repo.clambake(args), "greeting");

    assert_reported_once(&first, &again, &refused);
    assert_eq!(
        repo.forge_git(&["rev-parse", "main"]),
        first["pull_request"]["merge_commit_sha"].as_str().unwrap(),
        "merged once"
    );
    repo.assert_no_violations();
}
