//! `clambake demo`: the README's first command, end to end.

use crate::support::clambake_in;

#[test]
fn the_demo_lands_ten_issues_in_one_bundle_and_two_explained_pull_requests() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("demo");
    let report = clambake_in(parent.path(), &["demo", dir.to_str().unwrap(), "--json"])
        .success()
        .json();
    let events = report["run"]["events"].as_array().unwrap();
    let landed = events
        .iter()
        .filter(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "landed")
        .count();
    assert_eq!(landed, 10);
    let failed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["issue"], 11);

    let trains: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "train_departed")
        .collect();
    assert_eq!(trains.len(), 1, "one train at the end");
    let bundle = &trains[0]["bundles"][0];
    assert_eq!(bundle["issues"].as_array().unwrap().len(), 8);
    let individual = trains[0]["individual"].as_array().unwrap();
    assert_eq!(individual.len(), 2);
    for pr in individual {
        let why = pr["why"].as_str().unwrap();
        assert!(why.starts_with("conflicts with #"), "{why}");
    }

    clambake_in(&dir, &["agent", "validate", "--all"]).success();
    let human = clambake_in(&dir, &["issue", "show", "12", "--json"])
        .success()
        .json();
    assert_eq!(human["issue"]["state"], "open");
    assert!(
        human["comments"].as_array().unwrap().is_empty(),
        "no agent touched it"
    );

    let number = bundle["number"].as_u64().unwrap().to_string();
    let merged = clambake_in(&dir, &["pr", "merge", &number, "--json"])
        .success()
        .json();
    let mut closed: Vec<u64> = merged["closed_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    closed.sort_unstable();
    let mut members: Vec<u64> = bundle["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    members.sort_unstable();
    assert_eq!(closed, members);
}

#[test]
fn the_demo_refuses_a_directory_in_use() {
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(parent.path().join("keep.txt"), "mine").unwrap();
    let out = clambake_in(parent.path(), &["demo", "."]);
    assert_eq!(out.code, 8);
    assert!(out.stderr.contains("is not empty"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(parent.path().join("keep.txt")).unwrap(),
        "mine"
    );
}
