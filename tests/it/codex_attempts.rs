//! The real Codex CLI (`codex exec --json`) run by Clambake's `codex` runtime against the
//! scripted Responses API server: a commit made through its shell tool is a success with its
//! usage, work left uncommitted by the sandbox is committed by Clambake, every kind of step
//! Codex reports is read, a failing model is an agent error, a silent model is a stall (and
//! the retry continues its session), and a termination leaves nothing running. (Codex has no
//! turn limit, so no max-turns case.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use clambake::adapters::agents::CodexRuntime;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{
    AttemptRequest, AttemptResult, never_stop, run_attempt, worktree_path,
};
use clambake::core::agents::events::{AgentEvent, ResultSubtype, Usage, parse_line};
use clambake::core::agents::outcome::{Outcome, Termination};
use clambake::core::config::AgentsConfig;
use clambake::ports::agent_host::Limits;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::responses_server::{Reply, ResponsesServer};
use crate::support::{TestRepo, codex_binary, processes, wait_for_async, write_script};

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(60),
    timeout: Duration::from_secs(120),
    grace: Duration::from_secs(5),
    budget: None,
};

const COMMIT_HELLO: &str =
    "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello' && echo committed";

/// Codex as a user would configure it, its `CODEX_HOME` pointing at `server`.
fn codex(server: &ResponsesServer, home: &Path, sandbox: &str) -> CodexRuntime {
    codex_with(server, home, sandbox, "")
}

/// Codex as [`codex`] configures it, with `extra` appended to its `config.toml`.
fn codex_with(server: &ResponsesServer, home: &Path, sandbox: &str, extra: &str) -> CodexRuntime {
    let config = format!("{}{extra}", server.codex_config());
    std::fs::write(home.join("config.toml"), config).unwrap();
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

fn request() -> AttemptRequest {
    AttemptRequest {
        agent: "agent001".to_owned(),
        issue: 4,
        title: "Say hello".to_owned(),
        body: "Add hello.txt and commit it.".to_owned(),
        comments: Vec::new(),
        comments_left_out: None,
        attempt: 1,
        base: "main".to_owned(),
        pull_request_heads: Vec::new(),
        resume_session: None,
        checks_failure: None,
        review_feedback: Vec::new(),
    }
}

async fn attempt(repo: &TestRepo, runtime: &CodexRuntime) -> AttemptResult {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    run_attempt(&workspace, runtime, &request(), LIMITS, never_stop())
        .await
        .unwrap()
}

/// Starts an attempt in the background; also returns its worktree, which Codex's command line
/// names (`--cd`), so that its processes can be told from everyone else's.
async fn start_attempt(
    repo: &TestRepo,
    runtime: CodexRuntime,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> (JoinHandle<AttemptResult>, PathBuf) {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let worktree = worktree_path(&workspace, &request().agent, request().issue);
    let run = tokio::spawn(async move {
        run_attempt(&workspace, &runtime, &request(), limits, stop)
            .await
            .unwrap()
    });
    (run, worktree)
}

/// The live processes of the Codex CLI working in `worktree`: its Node launcher and its binary.
fn codex_processes(worktree: &Path) -> Vec<(u32, u32, String)> {
    let worktree = worktree.display().to_string();
    processes()
        .into_iter()
        .filter(|(_, _, cmdline)| cmdline.contains(&worktree))
        .collect()
}

/// What each line of an attempt's stdout reads as: the tools of a step, `message`, the result,
/// or the type of an event that is only activity.
fn readings(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| match parse_line(line) {
            AgentEvent::Init { .. } => "init".to_owned(),
            AgentEvent::Assistant { tool_uses, .. } if tool_uses.is_empty() => "message".to_owned(),
            AgentEvent::Assistant { tool_uses, .. } => tool_uses.join(","),
            AgentEvent::Result(result) => format!("result/{:?}", result.subtype),
            AgentEvent::Other { event_type } => event_type,
            other => panic!("{line} read as {other:?}"),
        })
        .collect()
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
        totals.usage,
        Usage {
            input_tokens: 160,
            output_tokens: 20,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 40,
        },
        "two requests of 100 input tokens, 20 of them cached, and 10 output tokens"
    );
    assert_eq!(totals.cost_usd, None, "Codex reports no cost");
    let verdict = totals.result.as_ref().expect("turn.completed");
    assert_eq!(verdict.subtype, ResultSubtype::Success);
    assert_eq!(verdict.usage, totals.usage);
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

/// An MCP server on stdin/stdout with one tool, `ping`, answering `pong`.
const PING_MCP_SERVER: &str = r#"while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/^{"jsonrpc":"2.0","id":\([0-9][0-9]*\),.*/\1/p')
  [ -n "$id" ] || continue
  case "$line" in
    *'"method":"initialize"'*) result='{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"probe","version":"1"}}' ;;
    *'"method":"tools/list"'*) result='{"tools":[{"name":"ping","description":"Answers pong","inputSchema":{"type":"object","properties":{}}}]}' ;;
    *'"method":"tools/call"'*) result='{"content":[{"type":"text","text":"pong"}],"isError":false}' ;;
    *) printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"unknown method"}}\n' "$id"; continue ;;
  esac
  printf '{"jsonrpc":"2.0","id":%s,"result":%s}\n' "$id" "$result"
done
"#;

/// Codex's shell tool runs `apply_patch` itself, and reports it as a `file_change`.
const ADD_HELLO_PATCH: &str =
    "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\nEOF\n";

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_step_codex_reports_is_read() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let mcp_server = write_script(home.path(), "ping-mcp", PING_MCP_SERVER);
    let server = ResponsesServer::start(
        vec![
            Reply::Items(vec![
                json!({ "type": "reasoning", "id": "rs_1", "content": null,
                        "summary": [{ "type": "summary_text", "text": "Look it up first." }] }),
                json!({ "type": "web_search_call", "id": "ws_1", "status": "completed",
                        "action": { "type": "search", "query": "hello.txt" } }),
                json!({ "type": "function_call", "id": "fc_1", "call_id": "call_1",
                        "namespace": "mcp__probe", "name": "ping", "arguments": "{}" }),
            ]),
            Reply::Shell(ADD_HELLO_PATCH.to_owned()),
            Reply::Shell("echo oops; exit 3".to_owned()),
        ],
        Reply::Text("Wrote hello.txt.".to_owned()),
    )
    .await;
    // Unattended (`approval_policy = "never"`) in the workspace sandbox, Codex refuses MCP
    // calls unless the server's tools are approved in advance.
    let extra = format!(
        "\n[mcp_servers.probe]\ncommand = \"{}\"\ndefault_tools_approval_mode = \"approve\"\n",
        mcp_server.display()
    );
    let runtime = codex_with(&server, home.path(), "workspace-write", &extra);
    let result = attempt(&repo, &runtime).await;
    let log = std::fs::read_to_string(&result.logs.stdout).unwrap();
    let steps: Vec<String> = readings(&log)
        .into_iter()
        .filter(|reading| !reading.contains('.'))
        .collect();
    assert_eq!(
        steps,
        [
            "init",
            "web_search",
            "mcp_tool_call",
            "file_change",
            "command_execution",
            "message",
            "result/Success"
        ],
        "{log}"
    );
    let activity = readings(&log);
    for started in [
        "item.started/web_search",
        "item.started/mcp_tool_call",
        "item.started/file_change",
        "item.started/command_execution",
    ] {
        assert!(activity.iter().any(|r| r == started), "{started}: {log}");
    }
    assert!(
        activity.iter().any(|r| r == "item.completed/reasoning"),
        "{log}"
    );
    let answer = server.requests()[1]["input"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        answer.to_string().contains("pong"),
        "the MCP tool answered: {answer}"
    );
    let totals = &result.report.totals;
    assert_eq!(totals.turns, 5);
    assert_eq!(totals.events, log.lines().count() as u64);
    assert_eq!(totals.usage.input_tokens, 320, "four requests");
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
    assert!(result.committed_leftovers);
    assert_eq!(
        repo.git(&["show", &format!("{}:hello.txt", result.branch)]),
        "hello"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_that_stops_answering_is_detected_as_a_stall() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(Vec::new(), Reply::Hang).await;
    let runtime = codex(&server, home.path(), "workspace-write");
    let limits = Limits {
        stall: Duration::from_secs(3),
        ..LIMITS
    };
    let (run, worktree) = start_attempt(&repo, runtime, limits, never_stop()).await;
    let running = wait_for_async("Codex to start", async || {
        Some(codex_processes(&worktree)).filter(|found| !found.is_empty())
    })
    .await;
    let result = run.await.unwrap();
    assert_eq!(
        result.classification.outcome,
        Outcome::Stalled,
        "{:?}",
        result.classification
    );
    assert_eq!(result.report.terminated, Some(Termination::Stall));
    let log = std::fs::read_to_string(&result.logs.stdout).unwrap();
    assert!(
        log.contains(r#""type":"turn.started""#),
        "Codex had started its turn before it went silent: {log}"
    );
    for verdict in [r#""type":"turn.completed""#, r#""type":"turn.failed""#] {
        assert!(!log.contains(verdict), "{log}");
    }
    assert_eq!(result.report.totals.result, None, "{log}");
    assert_eq!(server.requests().len(), 1, "the model was asked, then hung");
    assert_eq!(codex_processes(&worktree), [], "were running: {running:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn terminating_codex_mid_run_leaves_nothing_running() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    // The command the model has Codex run: one no earlier test run can have left behind.
    let long_sleep = format!("sleep {}", 100_000 + std::process::id());
    let server = ResponsesServer::start(
        vec![Reply::Shell(long_sleep.clone())],
        Reply::Text("done".to_owned()),
    )
    .await;
    let runtime = codex(&server, home.path(), "workspace-write");
    let (stop, stopped) = oneshot::channel();
    let (run, worktree) = start_attempt(&repo, runtime, LIMITS, stopped).await;
    // Codex runs its shell tool's commands in sessions of their own (in the workspace sandbox,
    // inside bubblewrap's), so killing the agent's group alone would leave them running.
    let (sleeper, group, _) = wait_for_async("Codex to run the tool command", async || {
        processes()
            .into_iter()
            .find(|(_, _, cmdline)| *cmdline == long_sleep)
    })
    .await;
    let group_members = || -> Vec<_> {
        processes()
            .into_iter()
            .filter(|(_, g, _)| *g == group)
            .collect()
    };
    assert!(!group_members().is_empty());
    let agent = codex_processes(&worktree);
    assert!(!agent.is_empty(), "Codex itself is running");
    stop.send(()).unwrap();
    let result = run.await.unwrap();
    assert_eq!(
        result.classification.outcome,
        Outcome::Killed,
        "{:?}",
        result.classification
    );
    assert_eq!(result.report.terminated, Some(Termination::Requested));
    assert_eq!(group_members(), [], "the tool's process group is empty");
    assert!(
        !Path::new(&format!("/proc/{sleeper}")).exists(),
        "the tool's command died with the agent"
    );
    assert_eq!(codex_processes(&worktree), [], "were running: {agent:?}");
    assert_eq!(result.commits_ahead, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_a_stall_continues_the_codex_session() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(
        vec![
            Reply::Shell("echo hello > hello.txt".to_owned()),
            Reply::Hang,
        ],
        Reply::Text("Done.".to_owned()),
    )
    .await;
    let runtime = codex(&server, home.path(), "workspace-write");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let limits = Limits {
        stall: Duration::from_secs(10),
        ..LIMITS
    };
    let first = run_attempt(&workspace, &runtime, &request(), limits, never_stop())
        .await
        .unwrap();
    assert_eq!(first.classification.outcome, Outcome::Stalled);
    let thread = first.report.totals.session_id.clone().expect("a thread id");

    let retry = AttemptRequest {
        attempt: 2,
        resume_session: Some(thread.clone()),
        checks_failure: None,
        review_feedback: Vec::new(),
        ..request()
    };
    let second = run_attempt(&workspace, &runtime, &retry, LIMITS, never_stop())
        .await
        .unwrap();
    assert_eq!(
        second.classification.outcome,
        Outcome::Success,
        "{:?}",
        second.classification
    );
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        3,
        "two by the first attempt, one by the retry"
    );
    let continued = requests[2].to_string();
    assert!(
        continued.contains("echo hello > hello.txt") && continued.contains("Say hello"),
        "the retry's request carries the first attempt's conversation: {continued}"
    );
    assert!(continued.contains("Clambake stopped your earlier attempt at issue #4"));
    let log = std::fs::read_to_string(&second.logs.stdout).unwrap();
    assert!(
        log.contains(&format!(r#""thread_id":"{thread}""#)),
        "the retry ran in thread {thread}: {log}"
    );
}
