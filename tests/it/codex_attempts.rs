//! The real Codex CLI (`codex exec --json`) run by Clambake's `codex` runtime against the
//! scripted Responses API server: a commit made through its shell tool is a success, work left
//! uncommitted by the sandbox is committed by Clambake, and a failing model is an agent error.

use std::path::Path;
use std::time::Duration;

use clambake::adapters::agents::CodexRuntime;
use clambake::adapters::agents::supervisor::Limits;
use clambake::app::Workspace;
use clambake::app::attempt::{AttemptRequest, AttemptResult, never_stop, run_attempt};
use clambake::core::config::AgentsConfig;
use clambake::core::outcome::Outcome;

use crate::responses_server::{Reply, ResponsesServer};
use crate::support::{TestRepo, codex_binary};

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(60),
    timeout: Duration::from_secs(120),
    grace: Duration::from_secs(5),
};

const COMMIT_HELLO: &str =
    "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello' && echo committed";

/// Codex as a user would configure it, its `CODEX_HOME` pointing at `server`.
fn codex(server: &ResponsesServer, home: &Path, sandbox: &str) -> CodexRuntime {
    std::fs::write(home.join("config.toml"), server.codex_config()).unwrap();
    let config = AgentsConfig {
        codex_path: codex_binary().display().to_string(),
        codex_sandbox: sandbox.to_owned(),
        ..AgentsConfig::default()
    };
    let inherited = [
        ("PATH", std::env::var("PATH").unwrap()),
        ("HOME", home.display().to_string()),
        ("CODEX_HOME", home.display().to_string()),
        ("OPENAI_API_KEY", "sk-scripted".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    CodexRuntime::with_environment(config, inherited)
}

async fn attempt(repo: &TestRepo, runtime: &CodexRuntime) -> AttemptResult {
    let request = AttemptRequest {
        agent: "agent001".to_owned(),
        issue: 4,
        title: "Say hello".to_owned(),
        body: "Add hello.txt and commit it.".to_owned(),
        comments: Vec::new(),
        attempt: 1,
        base: "main".to_owned(),
    };
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    run_attempt(&workspace, runtime, &request, LIMITS, never_stop())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_commits_through_its_shell_and_the_attempt_is_a_success() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(
        vec![Reply::Shell(COMMIT_HELLO.to_owned())],
        Reply::Text("Committed hello.txt.".to_owned()),
    )
    .await;
    let runtime = codex(&server, home.path(), "danger-full-access");
    let result = attempt(&repo, &runtime).await;
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
    assert_eq!(result.commits_ahead, 1);
    assert!(!result.committed_leftovers, "the agent committed itself");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an|%s", &result.branch]),
        "agent001|Add hello"
    );
    let totals = &result.report.totals;
    assert_eq!(totals.turns, 2, "the command and the closing message");
    assert_eq!(
        totals.usage.input_tokens, 160,
        "the fresh input: 200 less 40 cached"
    );
    assert_eq!(totals.usage.cache_read_input_tokens, 40);
    assert!(totals.session_id.is_some());
    assert_eq!(server.requests().len(), 2);
    let prompt = server.requests()[0]["input"].to_string();
    assert!(prompt.contains("Say hello"), "the issue reached the model");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_the_workspace_sandbox_clambake_commits_what_codex_wrote() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(
        vec![Reply::Shell(COMMIT_HELLO.to_owned())],
        Reply::Text("Wrote hello.txt.".to_owned()),
    )
    .await;
    let runtime = codex(&server, home.path(), "workspace-write");
    let result = attempt(&repo, &runtime).await;
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
    assert!(result.committed_leftovers, "git's metadata is read-only");
    assert_eq!(
        repo.git(&["show", &format!("{}:hello.txt", result.branch)]),
        "hello"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_model_is_an_agent_error() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(Vec::new(), Reply::ServerError).await;
    let runtime = codex(&server, home.path(), "workspace-write");
    let result = attempt(&repo, &runtime).await;
    assert_eq!(
        result.classification.outcome,
        Outcome::AgentError,
        "{:?}",
        result.classification
    );
    let log = std::fs::read_to_string(&result.logs.stdout).unwrap();
    assert!(log.contains(r#""type":"turn.failed""#), "{log}");
    assert_eq!(result.commits_ahead, 0);
}
