//! A repository with no commits is refused up front, with what to do, by `init`, `doctor` and
//! `run`: every agent branch starts from a commit.

use crate::support::{TestRepo, clambake_in};

const ADVICE: &str = "make a first commit";

#[test]
fn init_and_doctor_refuse_a_repository_with_no_commits() {
    let dir = tempfile::tempdir().unwrap();
    let git = std::process::Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(git.success());

    let init = clambake_in(dir.path(), &["init"]);
    assert_eq!(init.code, 3, "{}", init.stderr);
    assert!(
        init.stderr.contains("has no commits yet"),
        "{}",
        init.stderr
    );
    assert!(init.stderr.contains(ADVICE), "{}", init.stderr);
    assert!(
        !dir.path().join("clambake.toml").exists(),
        "nothing is set up"
    );

    let doctor = clambake_in(dir.path(), &["doctor", "--json"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    let checks = doctor.json();
    let commits = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "commits")
        .unwrap_or_else(|| panic!("no commits check: {checks}"));
    assert_eq!(commits["health"], "fail");
    assert!(
        commits["fix"].as_str().unwrap().contains(ADVICE),
        "{commits}"
    );
}

#[test]
fn run_refuses_a_repository_whose_branch_has_no_commits() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Work",
        "--label",
        "route:ready",
    ])
    .success();
    // The branch checked out is unborn: its only commit's ref is gone.
    repo.git(&["checkout", "-q", "--orphan", "fresh"]);
    repo.git(&["rm", "-rq", "--cached", "."]);
    let run = repo.clambake(&["run", "--once", "--no-view"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("has no commits yet"), "{}", run.stderr);
    assert!(run.stderr.contains(ADVICE), "{}", run.stderr);
    assert_eq!(repo.labels_of(1), ["route:ready"], "nothing was claimed");
}
