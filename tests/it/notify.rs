//! `[notify] webhook_url` through the real binary and a real HTTP receiver on 127.0.0.1: a
//! failed issue, a bundle and the run's end are told; a receiver that is down, failing or
//! hanging is logged and the run still does its work; the URL's secret path never shows.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use rstest::rstest;
use serde_json::Value;

use crate::support::{CliOutput, TestRepo};

/// The secret part of the webhook's path, as a Slack-style token would be.
const SECRET: &str = "s3cr3tW3bh00kT0k3n";

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
enum Receiver {
    Accepting,
    Failing,
    Hanging,
    /// Nothing listens on the port.
    Down,
}

/// Starts a receiver; its URL and the messages it accepted.
async fn receiver(behaviour: Receiver) -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/T01/B02/{SECRET}",
        listener.local_addr().unwrap()
    );
    if let Receiver::Down = behaviour {
        drop(listener);
        return (url, received);
    }
    let app = Router::new()
        .route(
            "/hooks/T01/B02/{token}",
            post(
                move |State(received): State<Arc<Mutex<Vec<Value>>>>, body: String| async move {
                    match behaviour {
                        Receiver::Accepting => {
                            received
                                .lock()
                                .unwrap()
                                .push(serde_json::from_str(&body).unwrap());
                            StatusCode::NO_CONTENT
                        }
                        Receiver::Failing => StatusCode::INTERNAL_SERVER_ERROR,
                        Receiver::Hanging => std::future::pending().await,
                        Receiver::Down => unreachable!(),
                    }
                },
            ),
        )
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// A repository of simulated agents, one attempt each, notifying `url`, with two issues that
/// land and one that crashes.
fn repo_notifying(url: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.init(&["--agents", "2"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("agents.max_attempts", "1"),
        ("bundling.trigger", "manual"),
    ]);
    let set = repo
        .clambake(&["config", "set", "notify.webhook_url", url])
        .success();
    assert!(!set.stdout.contains(SECRET), "{}", set.stdout);
    for title in ["Lands one", "Lands two"] {
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
    let args = [
        "issue",
        "create",
        "--title",
        "Crashes <!channel> \"*now*\"",
        "--body",
        "simulate: outcome crash",
        "--label",
        "route:ready",
    ];
    repo.clambake(&args).success();
    repo
}

async fn run_until_idle(repo: TestRepo) -> (TestRepo, CliOutput) {
    tokio::task::spawn_blocking(move || {
        let run = repo.clambake(&["run", "--until-idle"]).success();
        (repo, run)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_issue_a_bundle_and_the_end_of_the_run_are_told() {
    let (url, received) = receiver(Receiver::Accepting).await;
    let (repo, run) = run_until_idle(repo_notifying(&url)).await;
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    let list = repo.clambake(&["config", "list", "--json"]).success();
    assert!(!list.stdout.contains(SECRET), "{}", list.stdout);
    let get = repo
        .clambake(&["config", "get", "notify.webhook_url"])
        .success();
    assert!(get.stdout.contains("/[redacted]"), "{}", get.stdout);

    let messages = received.lock().unwrap().clone();
    let events: Vec<&str> = messages
        .iter()
        .map(|m| m["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["issue_failed", "bundle_ready", "run_stopped"],
        "{messages:#?}"
    );
    for message in &messages {
        assert_eq!(message["version"], 1);
        assert!(message["at"].as_str().unwrap().ends_with('Z'), "{message}");
        assert!(message["repository"].as_str().is_some(), "{message}");
    }
    assert_eq!(messages[0]["issue"], 3);
    assert_eq!(messages[0]["title"], "Crashes <!channel> \"*now*\"");
    assert_eq!(messages[0]["reason"], "crashed");
    assert_eq!(messages[0]["attempts"], 1);
    assert_eq!(messages[1]["members"], serde_json::json!([1, 2]));
    let bundle = messages[1]["number"].as_u64().unwrap();
    let pulls = repo.pull_requests();
    assert!(pulls.iter().any(|p| p["number"] == bundle), "{pulls:#?}");
    assert_eq!(messages[2]["why"], "idle");
}

#[rstest]
#[case::failing(Receiver::Failing, "500 Internal Server Error")]
#[case::down(Receiver::Down, "could not deliver the issue_failed notification")]
#[case::hanging(Receiver::Hanging, "gave up on the notifications")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_is_logged_and_the_run_does_its_work(
    #[case] behaviour: Receiver,
    #[case] logged: &str,
) {
    let (url, _) = receiver(behaviour).await;
    let (repo, run) = run_until_idle(repo_notifying(&url)).await;
    assert!(run.stderr.contains(logged), "{behaviour:?}: {}", run.stderr);
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    assert_eq!(repo.labels_of(1), ["route:bundled"]);
    assert_eq!(repo.labels_of(2), ["route:bundled"]);
    assert_eq!(repo.labels_of(3), ["route:failed"]);
}
