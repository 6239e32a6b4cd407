//! With simulated agents (`agents.real_processes = false`), their work is marked as simulated
//! wherever a reviewer meets it, from the runtime recorded with each attempt: commits, landing
//! comments, pull request titles and bodies; and `run` says at its start that agents are
//! simulated. Work nobody simulated is not marked.

use rstest::rstest;

use crate::backend::Backend;
use crate::support::TestRepo;

fn simulated_repo(backend: Backend, bundling: bool) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "2"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("bundling.trigger", "manual"),
        ("bundling.enabled", if bundling { "true" } else { "false" }),
    ]);
    repo
}

#[rstest]
fn a_bundle_of_simulated_work_says_so_in_its_commits_comments_title_and_body(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, true);
    for title in ["First", "Second"] {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:ready",
        ])
        .success();
    }
    let run = repo.clambake(&["run", "--until-idle", "--no-view", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("agents are simulated"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["agents_simulated"], true);

    let subject = repo.git(&["log", "-1", "--format=%s", "agent001/1-first"]);
    assert_eq!(subject, "[simulated] Work on issue #1");
    let comments = repo.comments_on(1);
    assert!(
        comments.iter().any(|c| c.contains("**Simulated work:**")),
        "{comments:?}"
    );
    let prs = repo.pull_requests();
    let bundle = prs
        .iter()
        .find(|pr| pr["head"].as_str().unwrap().starts_with("clambake/bundle-"))
        .unwrap_or_else(|| panic!("no bundle: {prs:?}"));
    assert!(
        bundle["title"]
            .as_str()
            .unwrap()
            .starts_with("[simulated] Bundle"),
        "{bundle}"
    );
    let shown = repo
        .clambake(&["pr", "show", &bundle["number"].to_string(), "--json"])
        .success()
        .json();
    let body = shown["body"]
        .as_str()
        .or_else(|| shown["pull_request"]["body"].as_str())
        .unwrap_or_else(|| panic!("no body: {shown}"));
    assert!(
        body.starts_with("> **Simulated work.** The work on #1, #2 was made by"),
        "{body}"
    );
}

#[rstest]
fn an_individual_pull_request_of_simulated_work_is_marked_and_real_work_is_not(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend, false);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Alone",
        "--label",
        "route:ready",
    ])
    .success();
    repo.clambake(&["issue", "create", "--title", "By hand"])
        .success();
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    // Work a person made, landed by hand: nothing simulated about it.
    repo.clambake(&["issue", "label", "2", "--add", "agent002"])
        .success();
    repo.branch_with_file("agent002/2-by-hand", "main", "hand.txt", "hand\n");
    repo.clambake(&["land", "--agent", "agent002"]).success();

    let prs = repo.pull_requests();
    let title_of = |head: &str| {
        prs.iter()
            .find(|pr| pr["head"] == head)
            .unwrap_or_else(|| panic!("no pull request from {head}: {prs:?}"))["title"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(title_of("agent001/1-alone"), "[simulated] #1: `Alone`");
    assert_eq!(title_of("agent002/2-by-hand"), "#2: `By hand`");
    let comments = repo.comments_on(2);
    assert!(
        !comments.iter().any(|c| c.contains("Simulated")),
        "{comments:?}"
    );
}
