//! Check runs and commit statuses, and the scriptable CI that reports check runs on pushed
//! commits.

use std::sync::{Arc, Mutex};

use clambake_github_fake::CiVerdict;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Harness, git};

async fn check_runs(harness: &Harness, sha: &str) -> Value {
    let path = harness.repo(&format!("/commits/{sha}/check-runs?per_page=100"));
    let response = harness.get(&path).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_scripted_ci_reports_a_check_run_on_each_pushed_commit_pending_then_completed() {
    let harness = Harness::start().await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    harness.fake.set_ci(move |pushed| {
        let file = git(&pushed.repo, &["show", &format!("{}:verdict", pushed.sha)]);
        seen.lock()
            .unwrap()
            .push((pushed.sha.clone(), pushed.branches.clone()));
        (!pushed.branches.iter().any(|b| b == "skipped")).then(|| CiVerdict {
            title: "tests".to_string(),
            summary: format!("it says {file}"),
            text: "the whole output".to_string(),
            pending_reads: 2,
            ..CiVerdict::new("test", &file)
        })
    });
    let sha = harness.push_branch("clambake/checks/one", "verdict", "failure");

    let first = check_runs(&harness, &sha).await;
    assert_eq!(first["total_count"], 1);
    assert_eq!(first["check_runs"][0]["status"], "queued");
    assert_eq!(first["check_runs"][0]["conclusion"], Value::Null);
    let second = check_runs(&harness, &sha).await;
    assert_eq!(second["check_runs"][0]["status"], "in_progress");
    let done = check_runs(&harness, &sha).await;
    let run = &done["check_runs"][0];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "failure");
    assert_eq!(run["name"], "test");
    assert_eq!(run["output"]["summary"], "it says failure");
    assert_eq!(run["output"]["text"], "the whole output");
    let link = run["details_url"].as_str().unwrap();
    assert!(link.starts_with(&harness.fake.api_url()), "{link}");
    assert_eq!(
        asked.lock().unwrap().clone(),
        vec![(sha.clone(), vec!["clambake/checks/one".to_string()])],
        "asked once, with the branch"
    );

    let skipped = harness.push_branch("skipped", "verdict", "success");
    assert_eq!(check_runs(&harness, &skipped).await["total_count"], 0);
    assert_eq!(check_runs(&harness, &skipped).await["total_count"], 0);
    assert_eq!(
        asked.lock().unwrap().len(),
        2,
        "a commit is asked about once"
    );

    let unknown = harness.repo(&format!("/commits/{}/check-runs", "0".repeat(40)));
    assert_eq!(harness.get(&unknown).await.status(), 422);
    // As GitHub answers it, though its description documents only the 200.
    assert_eq!(harness.take_violations().len(), 1);
}

#[tokio::test]
async fn check_runs_and_statuses_can_be_created_and_are_read_back() {
    let harness = Harness::start().await;
    let sha = harness.push_branch("feature", "a", "1");
    let body = json!({
        "name": "lint",
        "head_sha": sha,
        "status": "completed",
        "conclusion": "success",
        "details_url": "https://ci.example/1",
        "output": { "title": "ok", "summary": "clean" },
    });
    let created = harness
        .expect(Method::POST, &harness.repo("/check-runs"), body, 201)
        .await;
    assert_eq!(created["conclusion"], "success");
    let listed = check_runs(&harness, "feature").await;
    assert_eq!(
        listed["check_runs"][0]["details_url"],
        "https://ci.example/1"
    );

    let status_path = harness.repo(&format!("/commits/{sha}/status"));
    let none: Value = harness.get(&status_path).await.json().await.unwrap();
    assert_eq!(none["state"], "pending");
    assert_eq!(none["total_count"], 0);
    for (context, state) in [("ci", "pending"), ("ci", "failure"), ("deploy", "success")] {
        let body =
            json!({ "state": state, "context": context, "target_url": "https://ci.example/s" });
        harness
            .expect(
                Method::POST,
                &harness.repo(&format!("/statuses/{sha}")),
                body,
                201,
            )
            .await;
    }
    let combined: Value = harness.get(&status_path).await.json().await.unwrap();
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["total_count"], 2, "the latest per context");
    assert_eq!(combined["sha"], sha.as_str());
    let bad = json!({ "state": "exploded" });
    harness
        .expect(
            Method::POST,
            &harness.repo(&format!("/statuses/{sha}")),
            bad,
            422,
        )
        .await;
    assert!(
        !harness.take_violations().is_empty(),
        "the bad state breaks the description"
    );
}
