//! The real Claude Code binary against the scripted model server: proof that the fixture
//! speaks the Messages API well enough for Claude Code to run tools and finish.

use std::process::Command;

use serde_json::Value;

use crate::model_server::{ModelServer, Reply};
use crate::support::{TestRepo, claude_binary};

/// Runs `claude -p` in `repo` against `server`, returning its stream-json events.
fn run_claude(repo: &TestRepo, server: &ModelServer, max_turns: u32) -> Vec<Value> {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(claude_binary())
        .current_dir(repo.path())
        .args([
            "-p",
            "Add a file and commit it",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .args([
            "--max-turns",
            &max_turns.to_string(),
            "--dangerously-skip-permissions",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home.path())
        .env("IS_SANDBOX", "1")
        .env("ANTHROPIC_BASE_URL", server.base_url())
        .env("ANTHROPIC_API_KEY", "sk-scripted")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("GIT_AUTHOR_NAME", "agent001")
        .env("GIT_AUTHOR_EMAIL", "agent001@clambake.invalid")
        .env("GIT_COMMITTER_NAME", "agent001")
        .env("GIT_COMMITTER_EMAIL", "agent001@clambake.invalid")
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn result_event(events: &[Value]) -> &Value {
    events
        .iter()
        .find(|e| e["type"] == "result")
        .expect("a result event")
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_commits_through_its_bash_tool() {
    let repo = TestRepo::new();
    let server = ModelServer::start(
        vec![Reply::bash(
            "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello' && echo committed",
        )],
        Reply::text("Committed hello.txt."),
    )
    .await;
    let events = tokio::task::block_in_place(|| run_claude(&repo, &server, 5));
    assert_eq!(events[0]["type"], "system");
    assert_eq!(events[0]["subtype"], "init");
    let result = result_event(&events);
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["num_turns"], 2);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s %an"]),
        "Add hello agent001"
    );
    assert_eq!(repo.read("hello.txt"), "hello\n");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let tool_result = &requests[1]["messages"].as_array().unwrap().last().unwrap()["content"][0];
    assert_eq!(tool_result["type"], "tool_result");
    assert!(
        tool_result["content"].to_string().contains("committed"),
        "{tool_result}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_stops_at_max_turns() {
    let repo = TestRepo::new();
    let server = ModelServer::start(Vec::new(), Reply::bash("true")).await;
    let events = tokio::task::block_in_place(|| run_claude(&repo, &server, 2));
    let result = result_event(&events);
    assert_eq!(result["subtype"], "error_max_turns");
    assert_eq!(result["is_error"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_model_leaves_claude_code_silent_after_init() {
    use std::io::{BufRead, BufReader};
    use std::time::Duration;

    let repo = TestRepo::new();
    let server = ModelServer::start(Vec::new(), Reply::Hang).await;
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(claude_binary())
        .current_dir(repo.path())
        .args([
            "-p",
            "anything",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", server.base_url())
        .env("ANTHROPIC_API_KEY", "sk-scripted")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = received
        .recv_timeout(Duration::from_secs(30))
        .expect("an init event");
    assert!(first.contains("\"subtype\":\"init\""), "{first}");
    // The request is in flight and the model says nothing more: neither does Claude Code.
    assert!(received.recv_timeout(Duration::from_secs(2)).is_err());
    assert!(
        child.try_wait().unwrap().is_none(),
        "still waiting on the model"
    );
    assert_eq!(server.requests().len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
}
