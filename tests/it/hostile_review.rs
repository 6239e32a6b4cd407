//! Untrusted text and secrets, as an adversary found them reaching where they must not:
//! each test is one way that was closed.

use crate::backend::Backend;
use crate::bundle_cli::five_landed;
use crate::support::{TestRepo, clambake_in_env, write_script};

/// A GitHub token of the new format: `ghp_` + 30 random characters + a 6-character checksum.
const TOKEN: &str = "ghp_R3v1ewS3cretAbCdEfGhIjKlMnOpQrStUv";

/// The failure comment's log tail cuts long lines: a secret straddling the cut must not reach
/// the comment in part (all but a token's checksum is enough to rebuild it).
#[test]
fn a_secret_cut_by_the_log_tail_never_reaches_the_comment_in_part() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    // A long line (as stream-json lines are) with the token at column 266.
    let script = write_script(
        scripts.path(),
        "agent",
        "printf '%0266d%s\\n' 0 \"$MY_SERVICE_TOKEN\"\nexit 1\n",
    );
    repo.clambake(&["init"]).success();
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        ("agents.command", format!("{} {{issue}}", script.display())),
        ("agents.max_attempts", "1".to_owned()),
        ("bundling.trigger", "manual".to_owned()),
        ("agents.env_passthrough", "MY_SERVICE_TOKEN".to_owned()),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Print",
        "--label",
        "route:ready",
    ])
    .success();
    clambake_in_env(
        repo.path(),
        &["run", "--until-idle"],
        &[("MY_SERVICE_TOKEN", TOKEN)],
    )
    .success();
    let shown = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .stdout;
    assert!(shown.contains("The end of the last attempt"), "{shown}");
    assert!(
        shown.contains(&"0".repeat(200)),
        "the line holding the token is quoted: {shown}"
    );
    // No piece of the token, however the line was cut: all but its checksum would let it be
    // rebuilt.
    assert!(
        !shown.contains(&TOKEN[..12]),
        "a piece of the token reached the forge: {shown}"
    );
}

/// GitHub reads closing keywords in the commit messages that reach the default branch, where a
/// code span means nothing: the merge commit of an individual pull request carries no title.
#[test]
fn a_title_never_reaches_the_default_branch_as_a_commit_message() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.clambake(&["issue", "create", "--title", "Victim"])
        .success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Fixes #1",
        "--label",
        "route:review",
    ])
    .success();
    repo.branch_with_file("agent001/2-fixes-1", "main", "two.txt", "2\n");
    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let number = train["individual"][0]["number"].as_u64().unwrap();
    repo.clambake(&["pr", "merge", &number.to_string()])
        .success();
    let message = repo.git(&["log", "-1", "--format=%B", "main"]);
    assert!(
        !message.to_lowercase().contains("fixes #1"),
        "a closing keyword from a title is in the default branch's history: {message}"
    );
}

/// A bundle-shaped branch that no train made (here stamped in the future) is not taken for an
/// interrupted train's, and the commit someone put on it stays on a reference.
#[test]
fn a_bundle_shaped_branch_keeps_its_commits() {
    let repo = five_landed(Backend::Local);
    let tip = repo.branch_with_file(
        "clambake/bundle-20991231T2359Z",
        "main",
        "mine.txt",
        "a person's commit\n",
    );
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    eprintln!("{}", train["departure"]);
    let holding = repo.git(&["for-each-ref", "--contains", &tip, "--format=%(refname)"]);
    assert!(
        !holding.is_empty(),
        "commit {tip} on `clambake/bundle-20991231T2359Z` is on no ref any more; train: {train}"
    );
}
