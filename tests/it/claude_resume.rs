//! A retry after the turn limit continues the same Claude Code session (`--resume`), so the
//! real Claude Code, run by `clambake run` against the scripted model server, picks up the
//! conversation where the first attempt stopped instead of starting over with the same limit.

use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::claude_failures::Setup;
use crate::model_server::{ModelServer, Reply};

/// The assistant turns a request carries: how far its conversation has got.
fn assistant_turns(request: &Value) -> usize {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count()
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_the_turn_limit_continues_the_session(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    // Two turns of looking around use up the first attempt's limit; a continued session is on
    // its third turn, where the work gets done.
    let server = ModelServer::per_conversation(
        |_| {
            vec![
                Reply::bash("git status --short"),
                Reply::bash("ls"),
                Reply::bash("echo hello > hello.txt"),
                Reply::text("Done: hello.txt says hello."),
            ]
        },
        Reply::text("Nothing more."),
    )
    .await;
    let setup = Setup::new(
        backend,
        &server,
        &[
            ("agents.claude_max_turns", "2"),
            ("agents.retry_backoff_seconds", "0"),
        ],
    );
    setup.issue("Say hello", "Add hello.txt saying hello.");
    let summary = setup.run_until_idle();
    let disposed: Vec<&Value> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "disposed")
        .collect();
    assert_eq!(disposed.len(), 2, "{summary:#}");
    assert_eq!(disposed[0]["outcome"], "max_turns", "{summary:#}");
    assert_eq!(disposed[1]["outcome"], "success", "{summary:#}");
    assert_eq!(disposed[1]["disposition"]["kind"], "landed");

    let requests = server.requests();
    let first_of_retry = requests
        .iter()
        .position(|r| assistant_turns(r) >= 2)
        .unwrap_or_else(|| panic!("no request continued the conversation: {requests:#?}"));
    assert_eq!(first_of_retry, 2, "the first attempt asked twice");
    let continued = requests[first_of_retry]["messages"].to_string();
    assert!(
        continued.contains("git status --short") && continued.contains("toolu_scripted_1"),
        "the retry's first request carries the first attempt's turns: {continued}"
    );
    assert!(
        continued.contains("Clambake stopped your earlier attempt at issue #1"),
        "{continued}"
    );
    let log = std::fs::read_to_string(setup.repo.path().join(".clambake/logs/agent001-1-1.jsonl"))
        .unwrap();
    let session = log
        .lines()
        .find_map(|line| {
            let event: Value = serde_json::from_str(line).ok()?;
            (event["type"] == "result").then(|| event["session_id"].as_str().unwrap().to_owned())
        })
        .unwrap();
    let retry_log =
        std::fs::read_to_string(setup.repo.path().join(".clambake/logs/agent001-1-2.jsonl"))
            .unwrap();
    assert!(
        retry_log.contains(&format!(r#""session_id":"{session}""#)),
        "the retry ran in the first attempt's session {session}"
    );
    assert_eq!(
        setup.repo.git(&["show", "agent001/1-say-hello:hello.txt"]),
        "hello"
    );
    setup.repo.assert_no_violations();
}
