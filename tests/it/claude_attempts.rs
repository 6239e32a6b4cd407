//! The real Claude Code binary run by Clambake itself: the `claude` runtime and the attempt
//! code, against the scripted model server. Success with a commit on the branch, the turn
//! limit, a stalled model (and a retry that continues its session), and a termination that
//! leaves nothing running.

use std::path::Path;
use std::time::Duration;

use clambake::adapters::agents::ClaudeRuntime;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{AttemptRequest, AttemptResult, never_stop, run_attempt};
use clambake::core::agents::outcome::{Outcome, Termination};
use clambake::core::config::AgentsConfig;
use clambake::ports::agent_host::Limits;
use tokio::sync::oneshot;

use crate::model_server::{ModelServer, Reply};
use crate::support::{TestRepo, claude_binary, processes, wait_for_async};

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(60),
    timeout: Duration::from_secs(120),
    grace: Duration::from_secs(5),
    budget: None,
};

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

/// Claude Code as a user would configure it to run unattended, pointed at `server`. Its
/// environment is the one a user would export, filtered by Clambake as usual.
fn claude(server: &ModelServer, home: &Path, max_turns: u32) -> ClaudeRuntime {
    let config = AgentsConfig {
        claude_code_path: claude_binary().display().to_string(),
        claude_permission_mode: "bypassPermissions".to_owned(),
        claude_max_turns: max_turns,
        ..AgentsConfig::default()
    };
    let inherited = [
        ("PATH", std::env::var("PATH").unwrap()),
        ("HOME", home.display().to_string()),
        ("IS_SANDBOX", "1".to_owned()),
        ("ANTHROPIC_BASE_URL", server.base_url()),
        ("ANTHROPIC_API_KEY", "sk-scripted".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    ClaudeRuntime::with_environment(config, inherited)
}

async fn attempt(
    repo: &TestRepo,
    runtime: &ClaudeRuntime,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> AttemptResult {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    run_attempt(&workspace, runtime, &request(), limits, stop)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_commits_through_bash_and_the_attempt_is_a_success() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::start(
        vec![Reply::bash(
            "echo hello > hello.txt && git add hello.txt && git commit -qm 'Add hello' && echo committed",
        )],
        Reply::text("Committed hello.txt."),
    )
    .await;
    let runtime = claude(&server, home.path(), 5);
    let result = attempt(&repo, &runtime, LIMITS, never_stop()).await;
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
    assert_eq!(
        repo.git(&["show", &format!("{}:hello.txt", result.branch)]),
        "hello"
    );
    assert_eq!(result.report.totals.turns, 2);
    assert!(result.report.totals.session_id.is_some());
    assert_eq!(server.requests().len(), 2);
    let prompt = server.requests()[0]["messages"][0].to_string();
    assert!(prompt.contains("Say hello"), "the issue reached the model");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_at_its_turn_limit_is_max_turns() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::start(Vec::new(), Reply::bash("true")).await;
    let runtime = claude(&server, home.path(), 2);
    let result = attempt(&repo, &runtime, LIMITS, never_stop()).await;
    assert_eq!(
        result.classification.outcome,
        Outcome::MaxTurns,
        "{:?}",
        result.classification
    );
    assert_eq!(result.report.terminated, None);
    assert_eq!(result.commits_ahead, 0);
    assert!(
        result
            .classification
            .reason
            .starts_with("the agent hit its turn limit after 3 turns"),
        "the verdict names the limit: {}",
        result.classification.reason
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_that_stops_answering_is_detected_as_a_stall() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::start(Vec::new(), Reply::Hang).await;
    let runtime = claude(&server, home.path(), 5);
    let limits = Limits {
        stall: Duration::from_secs(3),
        ..LIMITS
    };
    let result = attempt(&repo, &runtime, limits, never_stop()).await;
    assert_eq!(result.classification.outcome, Outcome::Stalled);
    assert_eq!(result.report.terminated, Some(Termination::Stall));
    let log = std::fs::read_to_string(&result.logs.stdout).unwrap();
    assert!(
        log.lines().next().unwrap().contains(r#""subtype":"init""#),
        "Claude Code had started before it went silent: {log}"
    );
    assert!(!log.contains(r#""type":"result""#));
    assert_eq!(server.requests().len(), 1, "the model was asked, then hung");
}

/// The command line the scripted model has Claude Code run in the termination test.
/// (Claude Code refuses a bare long `sleep`, so it is a `tail` that never ends.)
const LONG_SLEEP: &str = "tail -s 171 -f /dev/null";

#[tokio::test(flavor = "multi_thread")]
async fn terminating_claude_code_mid_run_leaves_nothing_running() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::start(vec![Reply::bash(LONG_SLEEP)], Reply::text("done")).await;
    let runtime = claude(&server, home.path(), 5);
    let (stop, stopped) = oneshot::channel();
    let run = tokio::spawn({
        let workspace = Workspace::discover(repo.path()).await.unwrap();
        async move {
            run_attempt(&workspace, &runtime, &request(), LIMITS, stopped)
                .await
                .unwrap()
        }
    });
    // Wait until Claude Code's Bash tool is running the command: a grandchild of the agent.
    let (sleeper_pid, group, _) =
        wait_for_async("Claude Code to run the tool command", async || {
            processes()
                .into_iter()
                .find(|(_, _, cmdline)| cmdline == LONG_SLEEP)
                .ok_or_else(|| {
                    let last = server.requests().last().map(|r| r["messages"].to_string());
                    format!("the model last saw {last:?}")
                })
        })
        .await;
    let group_members = || -> Vec<_> {
        processes()
            .into_iter()
            .filter(|(_, g, _)| *g == group)
            .collect()
    };
    assert!(group_members().len() >= 2, "{:?}", group_members());
    stop.send(()).unwrap();
    let result = run.await.unwrap();
    assert_eq!(result.classification.outcome, Outcome::Killed);
    assert_eq!(result.report.terminated, Some(Termination::Requested));
    assert_eq!(group_members(), [], "the agent's process group is empty");
    assert!(
        !Path::new(&format!("/proc/{sleeper_pid}")).exists(),
        "the tool's command died with the agent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_a_stall_continues_the_claude_code_session() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    // The first attempt looks around, then the model goes silent; the retry's first request
    // gets the edit, its second the closing words.
    let server = ModelServer::start(
        vec![
            Reply::bash("ls"),
            Reply::Hang,
            Reply::bash("echo hello > hello.txt"),
        ],
        Reply::text("Done."),
    )
    .await;
    let runtime = claude(&server, home.path(), 5);
    let limits = Limits {
        stall: Duration::from_secs(10),
        ..LIMITS
    };
    let first = attempt(&repo, &runtime, limits, never_stop()).await;
    assert_eq!(first.classification.outcome, Outcome::Stalled);
    let session = first
        .report
        .totals
        .session_id
        .clone()
        .expect("a session id");

    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let retry = AttemptRequest {
        attempt: 2,
        resume_session: Some(session.clone()),
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
        4,
        "two by the first attempt, two by the retry"
    );
    let continued = requests[2]["messages"].to_string();
    assert!(
        continued.contains("Say hello") && continued.contains(r#""command":"ls""#),
        "the retry's first request carries the first attempt's turns: {continued}"
    );
    assert!(continued.contains("Clambake stopped your earlier attempt at issue #4"));
    let log = std::fs::read_to_string(&second.logs.stdout).unwrap();
    assert!(log.contains(&format!(r#""session_id":"{session}""#)));
    assert_eq!(
        repo.git(&["show", &format!("{}:hello.txt", second.branch)]),
        "hello"
    );
}
