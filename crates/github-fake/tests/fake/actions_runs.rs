//! Runs carried out by a runner (the tests' [`ScriptedRunner`]): what it is handed, how its
//! reports show in the run, its jobs, summaries, logs and artifacts, and cancelling it.

use std::sync::atomic::Ordering;

use clambake_github_fake::RunStatus;
use clambake_github_fake::runner_contract::Outcome;
use reqwest::Method;
use serde_json::{Value, json};

use crate::actions_support::{STEPS, TEST_WORKFLOW, unzip, with_runner};

#[tokio::test]
async fn a_dispatched_run_is_carried_out_by_the_runner_and_reported() {
    let (harness, runner) = with_runner().await;
    let id = harness
        .dispatch("test.yml", json!({ "dispatch_key": "k" }))
        .await;
    let run = harness.wait_for_completion(id).await;
    assert_eq!(run.conclusion, Some(Outcome::Success));

    let spec = runner.started.lock().unwrap()[0].clone();
    assert_eq!(spec.run_id, id);
    assert_eq!(spec.workflow_path, ".github/workflows/test.yml");
    assert_eq!(spec.workflow_yaml, TEST_WORKFLOW);
    assert_eq!(
        (spec.git_ref.as_str(), spec.sha.as_str()),
        ("main", run.head_sha.as_str())
    );
    assert_eq!(spec.inputs["dispatch_key"], "k");
    assert_eq!(spec.inputs["outcome"], "success");
    assert_eq!(spec.api_url, harness.fake.api_url());
    assert_eq!(spec.token, harness.fake.token());
    assert!(spec.bare_repo.join("HEAD").exists());

    let jobs = harness
        .get(&harness.repo(&format!("/actions/runs/{id}/jobs")))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(jobs["total_count"], 1);
    let job = &jobs["jobs"][0];
    assert_eq!(
        (&job["name"], &job["status"], &job["conclusion"]),
        (&json!("build"), &json!("completed"), &json!("success"))
    );
    assert_eq!(job["labels"], json!(["ubuntu-latest"]));
    let steps: Vec<(u64, &str, &str)> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["number"].as_u64().unwrap(),
                step["name"].as_str().unwrap(),
                step["conclusion"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, &str, &str)> = vec![
        (1, STEPS[0], "success"),
        (2, STEPS[1], "success"),
        (3, STEPS[2], "success"),
    ];
    assert_eq!(steps, expected);
    assert!(job["steps"][2]["completed_at"].is_string());

    let summaries = harness.fake.summaries(id);
    assert_eq!(
        summaries,
        vec![("build".to_string(), "## Plan\nbundle #1\n".to_string())]
    );
    let artifacts = harness
        .get(&harness.repo(&format!("/actions/runs/{id}/artifacts?name=out")))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(artifacts["total_count"], 1);
    assert_eq!(artifacts["artifacts"][0]["name"], "out");
    assert_eq!(harness.fake.artifacts(id)[0].files.len(), 2);
    let run: Value = harness
        .get(&harness.repo(&format!("/actions/runs/{id}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&run["status"], &run["conclusion"]),
        (&json!("completed"), &json!("success"))
    );
}

#[tokio::test]
async fn logs_and_artifacts_download_through_a_redirect_to_another_origin() {
    let (harness, _runner) = with_runner().await;
    let id = harness.dispatch("test.yml", json!({})).await;
    harness.wait_for_completion(id).await;

    // Followed as a client would: the token stays behind, the archive comes.
    let logs = harness
        .get(&harness.repo(&format!("/actions/runs/{id}/logs")))
        .await;
    assert_eq!(logs.status(), 200);
    assert!(
        logs.url().as_str().starts_with("http://localhost:"),
        "{}",
        logs.url()
    );
    let files = unzip(&logs.bytes().await.unwrap());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "1_build.txt",
            "build/1_Run actions_checkout@v5.txt",
            "build/2_Run clambake.txt",
            "build/3_Upload artifact.txt",
        ]
    );
    let step = &files["build/2_Run clambake.txt"];
    let (stamp, line) = step.trim_end().split_once(' ').unwrap();
    assert_eq!(line, "all good");
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
    assert!(files["1_build.txt"].contains(" ##[group]Run clambake\n"));
    assert!(files["1_build.txt"].contains(" HEAD is now at "));

    let artifact_id = harness.fake.artifacts(id)[0].id;
    let download = harness.repo(&format!("/actions/artifacts/{artifact_id}/zip"));
    let artifact = harness.get(&download).await;
    assert_eq!(artifact.status(), 200);
    let files = unzip(&artifact.bytes().await.unwrap());
    assert_eq!(files["exit.json"], "{\"code\":0}");
    assert_eq!(files["logs/events.jsonl"], "{}\n");
    assert_eq!(harness.take_violations(), Vec::<String>::new());

    // Not followed: the redirect points elsewhere, and a token sent there is a violation.
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = manual
        .get(format!("{}{download}", harness.fake.api_url()))
        .bearer_auth(harness.fake.token())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(!location.starts_with(&harness.fake.api_url()), "{location}");
    let leaked = manual
        .get(&location)
        .bearer_auth(harness.fake.token())
        .send()
        .await
        .unwrap();
    assert_eq!(leaked.status(), 200);
    let violations = harness.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("Authorization"), "{violations:?}");
    assert!(!violations[0].contains(&harness.fake.token()));
}

#[tokio::test]
async fn a_failing_step_fails_the_job_and_the_run_and_skips_the_rest() {
    let (harness, _runner) = with_runner().await;
    let id = harness
        .dispatch("test.yml", json!({ "outcome": "failure" }))
        .await;
    let run = harness.wait_for_completion(id).await;
    assert_eq!(run.conclusion, Some(Outcome::Failure));
    let job = &harness.fake.jobs(id)[0];
    assert_eq!(job.conclusion, Some(Outcome::Failure));
    let conclusions: Vec<Option<Outcome>> = job.steps.iter().map(|s| s.conclusion).collect();
    let expected = [
        Some(Outcome::Success),
        Some(Outcome::Failure),
        Some(Outcome::Skipped),
    ];
    assert_eq!(conclusions, expected);
    assert!(job.steps[1].log.contains(" it broke\n"));
    assert!(harness.fake.artifacts(id).is_empty());
    assert_eq!(harness.fake.summaries(id)[0].1, "## Plan\n");
}

#[tokio::test]
async fn cancelling_a_running_run_has_its_runner_stop_it() {
    let (harness, runner) = with_runner().await;
    let id = harness
        .dispatch("test.yml", json!({ "outcome": "hang" }))
        .await;
    let running = harness
        .wait_for_run(id, |run| {
            run.jobs
                .first()
                .is_some_and(|job| job.steps[1].status == RunStatus::InProgress)
        })
        .await;
    assert_eq!(running.status, RunStatus::InProgress);
    let logs = harness.repo(&format!("/actions/runs/{id}/logs"));
    assert_eq!(harness.get(&logs).await.status(), 404);

    let cancel = harness.repo(&format!("/actions/runs/{id}/cancel"));
    harness
        .expect(Method::POST, &cancel, Value::Null, 202)
        .await;
    assert_eq!(
        runner.cancels.load(Ordering::SeqCst),
        1,
        "the runner was told"
    );
    let run = harness.wait_for_completion(id).await;
    assert_eq!(run.conclusion, Some(Outcome::Cancelled));
    let steps: Vec<Option<Outcome>> = run.jobs[0].steps.iter().map(|s| s.conclusion).collect();
    let expected = [
        Some(Outcome::Success),
        Some(Outcome::Cancelled),
        Some(Outcome::Skipped),
    ];
    assert_eq!(steps, expected);
    harness
        .expect(Method::POST, &cancel, Value::Null, 409)
        .await;
    assert_eq!(harness.get(&logs).await.status(), 200);
}

#[tokio::test]
async fn cancelling_a_run_its_runner_holds_in_the_queue_waits_for_the_runner() {
    let (harness, runner) = with_runner().await;
    let id = harness
        .dispatch("test.yml", json!({ "outcome": "stay-queued" }))
        .await;
    assert_eq!(runner.started.lock().unwrap().len(), 1);
    let cancel = harness.repo(&format!("/actions/runs/{id}/cancel"));
    harness
        .expect(Method::POST, &cancel, Value::Null, 202)
        .await;
    assert_eq!(
        runner.cancels.load(Ordering::SeqCst),
        1,
        "the runner was told"
    );
    let run = harness.wait_for_completion(id).await;
    assert_eq!(run.conclusion, Some(Outcome::Cancelled));
    assert!(run.jobs.is_empty());
}

#[tokio::test]
async fn a_scheduled_run_goes_to_the_runner_unless_the_workflow_is_disabled() {
    let (harness, runner) = with_runner().await;
    let id = harness.fake.schedule("test.yml").await.unwrap();
    let run = harness.wait_for_completion(id).await;
    assert_eq!(run.event, "schedule");
    assert_eq!(run.display_title, "Test  ()", "no inputs on a schedule");
    assert_eq!(runner.started.lock().unwrap()[0].run_id, id);
    let listed: Value = harness
        .get(&harness.repo("/actions/runs?event=schedule&status=success"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["workflow_runs"][0]["id"], id);

    harness.fake.disable_workflow("test.yml");
    assert_eq!(harness.fake.schedule("test.yml").await, None);
    assert_eq!(harness.fake.runs().len(), 1);
}
