//! The queue respects dependencies and reviewers, end to end through `clambake run` with the
//! simulated agent: a chain of blockers is worked link by link (on GitHub, a blocker recorded
//! only as one of GitHub's issue dependencies too), a cycle is reported and worked in number
//! order instead of deadlocking, and claiming pauses while reviewers are behind
//! (`agents.max_in_review`, `bundling.max_open_bundles`) and resumes once they catch up.
//! `status` shows why each waiting issue waits, as the run loop decides it.

use rstest::rstest;
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::support::TestRepo;

fn simulated_repo(backend: Backend) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        // Trains only when the run goes idle.
        ("bundling.trigger", "manual"),
    ]);
    repo
}

fn ready(repo: &TestRepo, title: &str, body: &str) -> u64 {
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        title,
        "--body",
        body,
        "--label",
        "route:ready",
        "--json",
    ])
    .success()
    .json()["number"]
        .as_u64()
        .unwrap()
}

/// One `run --until-idle`: the issues it claimed, in order, and its events.
fn run(repo: &TestRepo) -> (Vec<u64>, Vec<Value>) {
    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    let events = summary["events"].as_array().unwrap().clone();
    let claimed = events
        .iter()
        .filter(|e| e["event"] == "claimed")
        .map(|e| e["issue"].as_u64().unwrap())
        .collect();
    (claimed, events)
}

/// Merges every open pull request, as a reviewer would, closing the issues they carry.
fn merge_open(repo: &TestRepo) -> usize {
    let open: Vec<String> = repo
        .pull_requests()
        .into_iter()
        .filter(|pr| pr["state"] == "open")
        .map(|pr| pr["number"].to_string())
        .collect();
    for number in &open {
        repo.clambake(&["pr", "merge", number]).success();
    }
    open.len()
}

fn holds(repo: &TestRepo) -> Value {
    repo.clambake(&["status", "--json"]).success().json()["holds"].clone()
}

#[rstest]
fn a_chain_is_worked_in_order_and_a_cycle_is_reported_and_worked_in_number_order(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend);
    let first = ready(&repo, "First", "");
    let second = ready(&repo, "Second", &format!("Depends on #{first}"));
    // On GitHub the last link is one of GitHub's own issue dependencies, not in the body.
    let third_body = match backend {
        Backend::Local => format!("Blocked by #{second}"),
        Backend::Github => String::new(),
    };
    let third = ready(&repo, "Third", &third_body);
    if let Some(github) = repo.github() {
        github.fake.add_blocked_by(third, second);
    }
    // What is quoted or in code is no statement of its author's: #4 waits only on #5.
    let fourth = ready(
        &repo,
        "Fourth",
        &format!("Depends on #5\n\n> Depends on #{first}\n\n```\nBlocked by #{second}\n```"),
    );
    let fifth = ready(&repo, "Fifth", &format!("Depends on #{fourth}"));
    assert_eq!(fifth, 5);

    let (claimed, events) = run(&repo);
    assert_eq!(claimed, [first, fourth], "{events:?}");
    let cycles: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "dependency_cycle")
        .collect();
    assert_eq!(cycles.len(), 1, "{events:?}");
    assert_eq!(cycles[0]["issues"], json!([fourth, fifth]));
    for member in [fourth, fifth] {
        let told = repo.comments_on(member);
        let cycle = told
            .iter()
            .filter(|c| c.contains("Dependency cycle"))
            .count();
        assert_eq!(cycle, 1, "#{member}: {told:?}");
    }
    assert_eq!(
        holds(&repo),
        json!({
            "waiting": [
                { "number": second, "reasons": [{ "reason": "blockers", "issues": [first] }] },
                { "number": third, "reasons": [{ "reason": "blockers", "issues": [second] }] },
                {
                    "number": fifth,
                    "reasons": [{ "reason": "cycle", "cycle": [fourth, fifth], "after": fourth }]
                },
            ],
            "cycles": [[fourth, fifth]],
            "claiming_paused": null,
        })
    );
    let text = repo.clambake(&["status"]).success().stdout;
    assert!(
        text.contains(&format!("#{third} waits on #{second}\n")),
        "{text}"
    );
    assert!(
        text.contains(
            "dependency cycle: #4, #5 block each other; worked in number order, #4 first"
        ),
        "{text}"
    );

    assert_eq!(merge_open(&repo), 1, "one bundle");
    let (claimed, events) = run(&repo);
    assert_eq!(claimed, [second, fifth], "{events:?}");
    assert!(
        !events.iter().any(|e| e["event"] == "dependency_cycle"),
        "the cycle is gone with #4"
    );
    merge_open(&repo);
    assert_eq!(run(&repo).0, [third]);
    merge_open(&repo);
    assert_eq!(holds(&repo)["waiting"], json!([]));
    repo.assert_no_violations();
}

#[rstest]
fn claiming_pauses_while_reviewers_are_behind_and_resumes_when_they_merge(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = simulated_repo(backend);
    repo.configure(&[
        ("agents.max_in_review", "1"),
        ("bundling.max_open_bundles", "0"),
    ]);
    let first = ready(&repo, "First", "");
    let second = ready(&repo, "Second", "");

    // One issue waiting for review is the limit: the second is not claimed.
    let (claimed, events) = run(&repo);
    assert_eq!(claimed, [first], "{events:?}");
    let paused = events
        .iter()
        .find(|e| e["event"] == "claiming_paused")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(paused["why"]["pressure"]["limit"], "in_review", "{paused}");
    assert_eq!(repo.labels_of(second), ["route:ready"]);
    let paused_by = json!({
        "reason": "reviewers",
        "pressure": { "limit": "in_review", "waiting": 1, "max": 1 },
    });
    assert_eq!(holds(&repo)["claiming_paused"], paused_by);
    let text = repo.clambake(&["status"]).success().stdout;
    assert!(
        text.contains(
            "claiming paused: reviewers are behind: 1 issue waiting for review \
             (agents.max_in_review = 1)"
        ),
        "{text}"
    );

    // The reviewer merges: claiming resumes, and the second's work rides a bundle.
    assert_eq!(merge_open(&repo), 1);
    assert_eq!(holds(&repo)["claiming_paused"], Value::Null);
    assert_eq!(run(&repo).0, [second]);

    repo.assert_no_violations();
}
