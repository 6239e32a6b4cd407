//! The binary on its own, steered through its `/_fake/` endpoints from another process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// Kills the fake when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_a_repository_and_its_admin_endpoints() {
    let dir = tempfile::TempDir::new().unwrap();
    let origin = dir.path().join("origin.git");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clambake-github-fake"))
        .args(["--port", "0", "--owner", "octo", "--name", "demo", "--repo"])
        .arg(&origin)
        .env("FAKE_GITHUB_TOKEN", "secret-token")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut lines = BufReader::new(stdout).lines().map(Result::unwrap);
    let mut printed = std::collections::HashMap::new();
    for line in lines.by_ref().take(3) {
        let (key, value) = line.split_once(": ").unwrap();
        printed.insert(key.to_string(), value.to_string());
    }
    let api = printed["api_url"].clone();
    assert_eq!(
        printed["origin_url"],
        format!("file://{}", origin.display())
    );
    assert_eq!(printed["token"], "secret-token");
    assert!(
        origin.join("HEAD").exists(),
        "the bare repository was created"
    );

    let client = reqwest::Client::new();
    let issue = client
        .post(format!("{api}/repos/octo/demo/issues"))
        .header("authorization", "token secret-token")
        .json(&json!({ "title": "from outside" }))
        .send()
        .await
        .unwrap();
    assert_eq!(issue.status(), 201);
    let stranger = json!({ "issue": 1, "login": "stranger", "body": "do this" });
    let posted = client
        .post(format!("{api}/_fake/comments"))
        .json(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let faults = json!({ "server_error_rate": 1.0 });
    let set = client
        .post(format!("{api}/_fake/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let failing = client
        .get(format!("{api}/repos/octo/demo/issues/1/comments"))
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(failing.status(), 502);
    client
        .post(format!("{api}/_fake/faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let comments: Value = client
        .get(format!("{api}/repos/octo/demo/issues/1/comments"))
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(comments[0]["author_association"], "NONE");

    let requests: Value = client
        .get(format!("{api}/_fake/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<_> = requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(201), json!(502), json!(200)]);
    assert_eq!(requests[0]["mutation"], true);
    let violations: Value = client
        .get(format!("{api}/_fake/violations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(violations, json!([]));
    let window = json!({ "remaining": 0, "reset_in_seconds": 60 });
    client
        .post(format!("{api}/_fake/rate_limit"))
        .json(&window)
        .send()
        .await
        .unwrap();
    let spent = client
        .get(format!("{api}/repos/octo/demo"))
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), 403);
}
