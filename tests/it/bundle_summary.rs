//! `clambake bundle --summary FILE` in a fresh clone of a repository on the GitHub fake, as the
//! bundling workflow runs it: only the committed `clambake.toml` is there (no `.clambake/`, no
//! `init`), the state it needs is made on demand, and the train's report is appended to FILE
//! as Markdown.

use std::path::Path;

use crate::github_support::GithubRepo;
use crate::support::{CliOutput, clambake_in_env};

/// A fresh clone of `github`'s origin, as `actions/checkout` with `fetch-depth: 0` makes it.
fn fresh_clone(github: &GithubRepo, dir: &Path) {
    let status = std::process::Command::new("git")
        .args(["clone", "-q", &github.fake().origin_url()])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    // The checkout of a dispatched sha is on no branch.
    let status = std::process::Command::new("git")
        .args(["checkout", "-q", "--detach"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// `clambake` in `dir` as the workflow's step runs it: the token in `GH_TOKEN`, the commits
/// made as the Actions bot.
fn clambake_as_workflow(github: &GithubRepo, dir: &Path, args: &[&str]) -> CliOutput {
    let token = github.fake().token();
    let bot = "github-actions[bot]";
    let email = "41898282+github-actions[bot]@users.noreply.github.com";
    clambake_in_env(
        dir,
        args,
        &[
            ("GH_TOKEN", &token),
            ("GIT_AUTHOR_NAME", bot),
            ("GIT_COMMITTER_NAME", bot),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_COMMITTER_EMAIL", email),
        ],
    )
}

#[test]
fn a_fresh_clone_bundles_and_appends_its_report_to_the_summary() {
    let github = GithubRepo::start(2);
    let repo = &github.repo;
    // The user committed the configuration `init` wrote, and pushed it; nothing else.
    repo.git(&["add", "clambake.toml"]);
    repo.git(&["commit", "-q", "-m", "clambake"]);
    repo.git(&["push", "-q", "origin", "main"]);
    let one = repo.landed_issue("agent001", "one", "one.txt", "1\n");
    let two = repo.landed_issue("agent002", "two", "two.txt", "2\n");
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("checkout");
    fresh_clone(&github, &clone);
    assert!(!clone.join(".clambake").exists());
    let summary = work.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let summary_arg = summary.to_str().unwrap();

    let train = clambake_as_workflow(
        &github,
        &clone,
        &["bundle", "--force", "--summary", summary_arg, "--json"],
    )
    .success()
    .json();

    let bundles = train["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{train}");
    assert_eq!(
        bundles[0]["issues"],
        serde_json::json!([one, two]),
        "{train}"
    );
    let number = bundles[0]["number"].as_u64().unwrap();
    let head = bundles[0]["head"].as_str().unwrap();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n"), "appended: {text}");
    let link = format!("{}/clambake/demo/pull/{number}", github.fake().api_url());
    assert!(text.contains(&format!("[#{number}]({link})")), "{text}");
    assert!(text.contains(head), "{text}");
    assert!(
        text.contains(&format!("#{one}")) && text.contains(&format!("#{two}")),
        "{text}"
    );
    for issue in [one, two] {
        assert_eq!(repo.labels_of(issue), ["route:bundled"]);
    }

    // The next run has nothing to send, and says so.
    clambake_as_workflow(
        &github,
        &clone,
        &["bundle", "--force", "--summary", summary_arg],
    )
    .success();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("Nothing to send"), "{text}");
    github.assert_no_violations();
}
