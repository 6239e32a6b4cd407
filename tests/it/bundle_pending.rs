//! Trains in a row: a later train plans on top of the earlier trains' open pull requests, so
//! that every pull request the trains leave open can be merged, one after the other.

use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::bundle_cli::{numbers, waiting_issues};
use crate::support::TestRepo;

/// Opens an issue in review and its agent branch, which writes `file`; returns its number.
fn land(repo: &TestRepo, agent: &str, slug: &str, file: &str, contents: &str) -> u64 {
    let issue = repo
        .clambake(&[
            "issue",
            "create",
            "--title",
            slug,
            "--label",
            "route:review",
            "--json",
        ])
        .success()
        .json()["number"]
        .as_u64()
        .unwrap();
    repo.branch_with_file(&format!("{agent}/{issue}-{slug}"), "main", file, contents);
    issue
}

/// The first train has left and its bundle is still open; three more branches landed since.
struct SecondTrain {
    repo: TestRepo,
    /// The first train's bundle: one branch rewrites `shared.txt`, one adds a file.
    bundle: u64,
    /// Rewrites `shared.txt` too: clean on the base, not once the bundle is merged.
    clashing: u64,
    /// Add files of their own.
    others: Vec<u64>,
}

fn second_train(backend: Backend) -> SecondTrain {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.write("shared.txt", "base\n");
    repo.commit_all("a file to fight over");
    repo.publish("main");
    let first_riders = vec![
        land(&repo, "agent001", "one", "shared.txt", "one\n"),
        land(&repo, "agent002", "two", "two.txt", "2\n"),
    ];
    let first = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(numbers(&first["bundles"][0]["issues"]), first_riders);
    SecondTrain {
        bundle: first["bundles"][0]["number"].as_u64().unwrap(),
        clashing: land(&repo, "agent003", "three", "shared.txt", "three\n"),
        others: vec![
            land(&repo, "agent001", "four", "four.txt", "4\n"),
            land(&repo, "agent002", "five", "five.txt", "5\n"),
        ],
        repo,
    }
}

fn pull_request_heads(repo: &TestRepo) -> Vec<String> {
    repo.pull_requests()
        .iter()
        .map(|pr| pr["head"].as_str().unwrap().to_owned())
        .collect()
}

fn set_aside_of(plan: &Value, issue: u64) -> Value {
    plan["set_aside"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["candidate"]["issue"] == issue)
        .unwrap_or_else(|| panic!("#{issue} was not set aside: {plan}"))
        .clone()
}

#[rstest]
fn a_branch_that_conflicts_with_an_open_bundle_waits_for_it_to_merge(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let SecondTrain {
        repo,
        bundle,
        clashing,
        others,
    } = second_train(backend);
    let clashing_branch = format!("agent003/{clashing}-three");
    let waits = format!("waits for #{bundle} to merge: conflicts with it in shared.txt");

    let dry = repo
        .clambake(&["bundle", "--force", "--dry-run", "--json"])
        .success()
        .json();
    assert_eq!(numbers(&dry["pending"]), vec![bundle]);
    let set_aside = set_aside_of(&dry["plan"], clashing);
    assert_eq!(set_aside["reason"], "waits_for_pull_request", "{set_aside}");
    assert_eq!(set_aside["pull_request"], bundle);
    assert_eq!(set_aside["paths"], serde_json::json!(["shared.txt"]));
    let text = repo
        .clambake(&["bundle", "--force", "--dry-run"])
        .success()
        .stdout;
    assert!(text.contains(&waits), "{text}");
    assert!(
        text.contains(&format!(
            "planned on top of the open pull requests #{bundle}"
        )),
        "{text}"
    );

    let diagnosis = repo
        .clambake(&["bundle", "--diagnose", "--json"])
        .success()
        .json();
    let diagnosed = diagnosis
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["issue"] == clashing)
        .unwrap();
    assert_eq!(diagnosed["in_next_train"], false);
    assert_eq!(diagnosed["why"], waits.as_str());

    // The second train: the others leave; the clashing branch waits, with no pull request of
    // its own even under `individual_fallback`, as that one could not be merged after the
    // bundle either.
    let second = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(numbers(&second["bundles"][0]["issues"]), others);
    assert!(second["individual"].as_array().unwrap().is_empty());
    assert_eq!(waiting_issues(&second), vec![clashing]);
    let heads = pull_request_heads(&repo);
    assert!(!heads.contains(&clashing_branch), "{heads:?}");
    let labels = repo.labels_of(clashing);
    assert!(labels.contains(&"route:review".to_owned()), "{labels:?}");
    let second_bundle = second["bundles"][0]["number"].as_u64().unwrap().to_string();
    let shown = repo
        .clambake(&["pr", "show", &second_bundle, "--json"])
        .success()
        .stdout;
    // In the pull request the path, which an agent chose, is a code span.
    let waits_inert = waits.replace("shared.txt", "`shared.txt`");
    assert!(shown.contains(&waits_inert), "{shown}");

    // Once the first bundle is merged, the conflict is with the base: the branch is planned as
    // any other, and gets its own pull request.
    repo.clambake(&["pr", "merge", &bundle.to_string()])
        .success();
    let third = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let set_aside = set_aside_of(&third["plan"], clashing);
    assert_eq!(set_aside["reason"], "conflict", "{set_aside}");
    assert_eq!(set_aside["with"]["kind"], "base", "{set_aside}");
    assert_eq!(numbers(&third["individual"][0]["issues"]), vec![clashing]);
    assert!(third["waiting"].as_array().unwrap().is_empty());
    assert!(pull_request_heads(&repo).contains(&clashing_branch));
}

#[rstest]
fn a_branch_waiting_for_a_closed_bundle_is_planned_in_the_next_train(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let SecondTrain {
        repo,
        bundle,
        clashing,
        ..
    } = second_train(backend);
    repo.clambake(&[
        "config",
        "set",
        "bundling.conflict_strategy",
        "skip_conflicts",
    ])
    .success();
    let second = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(waiting_issues(&second), vec![clashing]);
    let second_bundle = second["bundles"][0]["number"].as_u64().unwrap();

    // The first bundle is closed unmerged: its issues come back to review, and nothing holds
    // the clashing branch any more; it now competes for `shared.txt` with the first bundle's
    // branch, which boards first.
    repo.clambake(&["pr", "close", &bundle.to_string()])
        .success();
    let third = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(numbers(&third["pending"]), vec![second_bundle]);
    let set_aside = set_aside_of(&third["plan"], clashing);
    assert_eq!(set_aside["reason"], "conflict", "{set_aside}");
    assert_eq!(set_aside["with"]["branch"], "agent001/1-one", "{set_aside}");
    assert_eq!(numbers(&third["bundles"][0]["issues"]), vec![1, 2]);
}

#[rstest]
fn an_open_bundle_that_no_longer_merges_does_not_hold_the_train_back(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let SecondTrain {
        repo,
        bundle,
        clashing,
        others,
    } = second_train(backend);
    // Someone moves the base under the open bundle: it now conflicts with it in `two.txt`.
    repo.write("two.txt", "moved\n");
    repo.commit_all("the base moves");
    repo.publish("main");
    repo.publish("main");

    let dry = repo
        .clambake(&["bundle", "--force", "--dry-run", "--json"])
        .success()
        .json();

    assert!(dry["pending"].as_array().unwrap().is_empty(), "{dry}");
    assert_eq!(dry["left_out"][0]["pull_request"], bundle, "{dry}");
    let why = dry["left_out"][0]["why"].as_str().unwrap();
    assert!(why.contains("the base") && why.contains("two.txt"), "{why}");
    let riders: Vec<u64> = dry["plan"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["candidate"]["issue"].as_u64().unwrap())
        .collect();
    assert_eq!(riders, [vec![clashing], others].concat());
    let text = repo
        .clambake(&["bundle", "--force", "--dry-run"])
        .success()
        .stdout;
    assert!(
        text.contains(&format!("left out open pull request #{bundle}")),
        "{text}"
    );
}
