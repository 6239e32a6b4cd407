//! Actions without a runner: workflows read from the pushed files, dispatch and its refusals,
//! the run listings' filters and pages, and cancelling a run that no runner took.

use clambake_github_fake::{Faults, RunStatus};
use reqwest::Method;
use serde_json::{Value, json};

use crate::actions_support::{NEEDS_ISSUE, PUSH_ONLY, TEST_WORKFLOW};
use crate::support::{Harness, git};

#[tokio::test]
async fn a_pushed_workflow_is_served_by_id_and_by_file_name() {
    let harness = Harness::start().await;
    let by_name = harness.repo("/actions/workflows/test.yml");
    assert_eq!(harness.get(&by_name).await.status(), 404);
    harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    let workflow: Value = harness.get(&by_name).await.json().await.unwrap();
    assert_eq!(workflow["name"], "Test workflow");
    assert_eq!(workflow["path"], ".github/workflows/test.yml");
    assert_eq!(workflow["state"], "active");
    let by_id = harness.repo(&format!("/actions/workflows/{}", workflow["id"]));
    let again: Value = harness.get(&by_id).await.json().await.unwrap();
    assert_eq!(again["id"], workflow["id"]);

    let disable = harness.repo("/actions/workflows/test.yml/disable");
    let response = harness.send(Method::PUT, &disable, Value::Null).await;
    assert_eq!(response.status(), 204);
    let state = |workflow: Value| workflow["state"].as_str().unwrap().to_string();
    assert_eq!(
        state(harness.get(&by_id).await.json().await.unwrap()),
        "disabled_manually"
    );
    let enable = harness.repo(&format!("/actions/workflows/{}/enable", workflow["id"]));
    let response = harness.send(Method::PUT, &enable, Value::Null).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        state(harness.get(&by_id).await.json().await.unwrap()),
        "active"
    );
    harness.fake.disable_workflow("test.yml");
    assert_eq!(
        state(harness.get(&by_name).await.json().await.unwrap()),
        "disabled_manually"
    );
}

#[tokio::test]
async fn dispatch_answers_the_runs_details_when_asked_and_204_otherwise() {
    let harness = Harness::start().await;
    let sha = harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    let id = harness
        .dispatch("test.yml", json!({ "dispatch_key": "k-1" }))
        .await;
    let run = harness.fake.run(id).unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.event, "workflow_dispatch");
    assert_eq!(
        (run.head_branch.as_str(), run.head_sha.as_str()),
        ("main", sha.as_str())
    );
    assert_eq!(run.display_title, "Test k-1 (success)");
    assert_eq!(run.inputs["outcome"], "success", "the default is filled in");

    let path = harness.repo("/actions/workflows/test.yml/dispatches");
    let plain = json!({ "ref": "main", "inputs": { "dispatch_key": "k-2" } });
    let response = harness.send(Method::POST, &path, plain).await;
    assert_eq!(response.status(), 204);
    assert_eq!(harness.fake.runs().len(), 2);

    harness.fake.set_dispatch_without_details(true);
    let asking = json!({ "ref": "main", "return_run_details": true });
    let response = harness.send(Method::POST, &path, asking).await;
    assert_eq!(
        response.status(),
        204,
        "an older GitHub Enterprise ignores the question"
    );
    assert_eq!(harness.fake.runs().len(), 3);

    let run: Value = harness
        .get(&harness.repo(&format!("/actions/runs/{id}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "queued");
    assert_eq!(run["conclusion"], Value::Null);
    assert_eq!(run["display_title"], "Test k-1 (success)");
    assert_eq!(run["head_commit"]["id"], sha.as_str());
}

#[tokio::test]
async fn dispatch_refusals_are_githubs() {
    let harness = Harness::start().await;
    harness.push_workflows(&[
        ("test.yml", TEST_WORKFLOW),
        ("needs-issue.yaml", NEEDS_ISSUE),
        ("ci.yml", PUSH_ONLY),
    ]);
    let harness = &harness;
    let refused = |file: &str, body: Value| {
        let path = harness.repo(&format!("/actions/workflows/{file}/dispatches"));
        async move {
            let response = harness.send(Method::POST, &path, body).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["message"].as_str().unwrap().to_string())
        }
    };
    let main = json!({ "ref": "main" });
    assert_eq!(
        refused("missing.yml", main.clone()).await,
        (404, "Not Found".into())
    );
    let expected = "Workflow does not have 'workflow_dispatch' trigger";
    assert_eq!(
        refused("ci.yml", main.clone()).await,
        (422, expected.into())
    );
    let expected = "Required input 'issue' not provided";
    assert_eq!(
        refused("needs-issue.yaml", main.clone()).await,
        (422, expected.into())
    );
    let unexpected = json!({ "ref": "main", "inputs": { "issue": "1", "slot": "2", "a": "" } });
    let expected = r#"Unexpected inputs provided: ["a", "slot"]"#;
    assert_eq!(
        refused("test.yml", unexpected).await,
        (422, expected.into())
    );
    let unlisted = json!({ "ref": "main", "inputs": { "outcome": "maybe" } });
    let expected = "Provided value 'maybe' for input 'outcome' not in the list of allowed values";
    assert_eq!(refused("test.yml", unlisted).await, (422, expected.into()));
    let nowhere = json!({ "ref": "nowhere" });
    let expected = "No ref found for: nowhere";
    assert_eq!(refused("test.yml", nowhere).await, (422, expected.into()));
    harness.fake.disable_workflow("test.yml");
    let expected = "Cannot trigger a 'workflow_dispatch' on a disabled workflow";
    assert_eq!(refused("test.yml", main).await, (422, expected.into()));
    assert!(harness.fake.runs().is_empty());
}

#[tokio::test]
async fn run_listings_filter_and_page_like_githubs() {
    let harness = Harness::start().await;
    harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    git(
        &harness.work,
        &["push", "--quiet", "origin", "HEAD:refs/heads/topic"],
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(harness.dispatch("test.yml", json!({})).await);
    }
    let path = harness.repo("/actions/workflows/test.yml/dispatches");
    let topic = json!({ "ref": "topic", "return_run_details": true });
    let on_topic = harness.expect(Method::POST, &path, topic, 200).await;
    let scheduled = harness.fake.schedule("test.yml").await.unwrap();

    let harness = &harness;
    let listed = |query: &str| {
        let path = harness.repo(&format!("/actions/runs?{query}"));
        async move {
            let body: Value = harness.get(&path).await.json().await.unwrap();
            let ids: Vec<u64> = body["workflow_runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|run| run["id"].as_u64().unwrap())
                .collect();
            (body["total_count"].as_u64().unwrap(), ids)
        }
    };
    assert_eq!(listed("event=schedule").await, (1, vec![scheduled]));
    let topic_id = on_topic["workflow_run_id"].as_u64().unwrap();
    assert_eq!(listed("branch=topic").await, (1, vec![topic_id]));
    assert_eq!(listed("status=queued").await.0, 5);
    assert_eq!(listed("status=completed").await.0, 0);
    assert_eq!(listed("created=%3E%3D2000-01-01").await.0, 5);
    assert_eq!(listed("created=%3C2000-01-01").await.0, 0);
    assert_eq!(listed("created=2000-01-01..*").await.0, 5);
    let newest_first = vec![scheduled, topic_id, ids[2], ids[1], ids[0]];
    assert_eq!(listed("").await, (5, newest_first.clone()));

    let page = harness
        .get(&harness.repo("/actions/workflows/test.yml/runs?per_page=2&page=2"))
        .await;
    let link = page.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("page=3>; rel=\"next\""), "{link}");
    assert!(link.contains("page=1>; rel=\"prev\""), "{link}");
    let body: Value = page.json().await.unwrap();
    assert_eq!(body["total_count"], 5);
    let second: Vec<u64> = body["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_u64().unwrap())
        .collect();
    assert_eq!(second, newest_first[2..4]);
    let missing = harness
        .get(&harness.repo("/actions/workflows/nope.yml/runs"))
        .await;
    assert_eq!(missing.status(), 404);
    // These routes are checked against the description like every other.
    harness
        .get(&harness.repo("/actions/runs?sort=oldest"))
        .await;
    let violations = harness.take_violations();
    assert!(
        violations[0].contains("query parameter `sort`: unknown"),
        "{violations:?}"
    );
}

#[tokio::test]
async fn a_run_no_runner_took_is_cancelled_at_once_and_a_completed_one_conflicts() {
    let harness = Harness::start().await;
    harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    let id = harness.dispatch("test.yml", json!({})).await;
    let logs = harness.repo(&format!("/actions/runs/{id}/logs"));
    assert_eq!(
        harness.get(&logs).await.status(),
        404,
        "no logs before it completes"
    );

    let cancel = harness.repo(&format!("/actions/runs/{id}/cancel"));
    let answer = harness
        .expect(Method::POST, &cancel, Value::Null, 202)
        .await;
    assert_eq!(answer, json!({}));
    let run = harness.fake.run(id).unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.conclusion.map(|c| c.as_str()), Some("cancelled"));
    let again = harness
        .expect(Method::POST, &cancel, Value::Null, 409)
        .await;
    assert_eq!(
        again["message"],
        "Cannot cancel a workflow run that is completed."
    );
    let missing = harness.repo("/actions/runs/999/cancel");
    assert_eq!(
        harness
            .send(Method::POST, &missing, Value::Null)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn faults_fall_on_the_actions_endpoints_too() {
    let harness = Harness::start().await;
    harness.push_workflows(&[("test.yml", TEST_WORKFLOW)]);
    harness.fake.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let path = harness.repo("/actions/workflows/test.yml/dispatches");
    let response = harness
        .send(Method::POST, &path, json!({ "ref": "main" }))
        .await;
    assert_eq!(response.status(), 502);
    assert!(harness.fake.runs().is_empty(), "a 502 acts on nothing");
    let listing = harness.get(&harness.repo("/actions/runs")).await;
    assert_eq!(listing.status(), 502);

    harness.fake.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let body = json!({ "ref": "main", "return_run_details": true });
    let lost = harness
        .request(Method::POST, &path)
        .json(&body)
        .send()
        .await;
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(harness.fake.runs().len(), 1, "but the run was made");
}

#[tokio::test]
async fn run_name_is_evaluated_strictly_by_the_runners_evaluator() {
    let harness = Harness::start().await;
    let numbered = "name: Numbered\nrun-name: '#${{ github.run_number }} ${{ inputs.key }} \
                    ${{ github.event_name }}'\non:\n  workflow_dispatch:\n    inputs:\n      \
                    key:\n        default: k\njobs:\n  go:\n    runs-on: ubuntu-latest\n    \
                    steps:\n      - run: echo go\n";
    let leaking = "name: Leaking\nrun-name: 'with ${{ secrets.TOKEN }}'\non: workflow_dispatch\n\
                   jobs:\n  go:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo go\n";
    harness.push_workflows(&[("numbered.yml", numbered), ("leaking.yml", leaking)]);
    let id = harness.dispatch("numbered.yml", json!({})).await;
    assert_eq!(
        harness.fake.run(id).unwrap().display_title,
        "#1 k workflow_dispatch"
    );
    let path = harness.repo("/actions/workflows/leaking.yml/dispatches");
    let response = harness
        .send(Method::POST, &path, json!({ "ref": "main" }))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid workflow file") && message.contains("secrets"),
        "{message}"
    );
    assert_eq!(
        harness.fake.runs().len(),
        1,
        "no run for a refused dispatch"
    );
}
