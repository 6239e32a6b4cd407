//! The real Claude Code binary in Clambake's DEFAULT configuration (`acceptEdits`, the prompt as
//! Clambake writes it), driven by `clambake run` against the scripted model server: the work
//! of an agent that does what its prompt asks lands, and failures explain themselves in the
//! verdict and in the issue's comment (model API errors, denied tool calls).

use std::path::Path;

use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::model_server::{ModelServer, Reply};
use crate::support::{CliOutput, TestRepo, claude_binary};

/// A repository on a backend set up with `clambake init` and nothing else, plus `settings`.
pub struct Setup {
    pub repo: TestRepo,
    home: tempfile::TempDir,
    path: String,
    base_url: String,
}

impl Setup {
    pub fn new(backend: Backend, server: &ModelServer, settings: &[(&str, &str)]) -> Self {
        let bin = claude_binary()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let setup = Self {
            repo: TestRepo::on(backend),
            home: tempfile::tempdir().unwrap(),
            // `claude` is found on PATH, as for a user who installed it: agents.claude_code_path
            // keeps its default.
            path: format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            base_url: server.base_url(),
        };
        setup.repo.init(&["--agents", "1"]).success();
        for (key, value) in settings {
            setup.clambake(&["config", "set", key, value]).success();
        }
        setup
    }

    /// `clambake` with the environment a user would export: no IS_SANDBOX, nothing else.
    pub fn clambake(&self, args: &[&str]) -> CliOutput {
        let env = [
            ("PATH", self.path.as_str()),
            ("HOME", self.home.path().to_str().unwrap()),
            ("ANTHROPIC_BASE_URL", self.base_url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-scripted"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            // Claude Code retries API errors for minutes; the tests want its verdict.
            ("CLAUDE_CODE_MAX_RETRIES", "0"),
        ];
        self.repo.clambake_env(args, &env)
    }

    pub fn issue(&self, title: &str, body: &str) {
        self.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--body",
            body,
            "--label",
            "route:ready",
        ])
        .success();
    }

    pub fn run_until_idle(&self) -> Value {
        self.clambake(&["run", "--until-idle", "--json"])
            .success()
            .json()
    }
}

/// The run summary's `disposed` event: how the one attempt ended.
fn disposed_event(summary: &Value) -> &Value {
    summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "disposed")
        .unwrap_or_else(|| panic!("{summary:#}"))
}

/// Claude Code needs its passed-through retry setting; one attempt is enough to judge.
const ONE_ATTEMPT: &[(&str, &str)] = &[
    ("agents.max_attempts", "1"),
    (
        "agents.env_passthrough",
        "ANTHROPIC_API_KEY ANTHROPIC_BASE_URL CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC CLAUDE_CODE_MAX_RETRIES",
    ),
];

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn model_api_errors_are_named_in_the_verdict_and_the_failure_comment(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    for (status, kind, named, tail) in [(
        529,
        "overloaded_error",
        "the model API was overloaded (HTTP 529, overloaded_error)",
        "HTTP 529 overloaded_error, terminal_reason api_error",
    )] {
        let server = ModelServer::start(Vec::new(), Reply::error(status, kind)).await;
        let setup = Setup::new(backend, &server, ONE_ATTEMPT);
        setup.issue("Say hello", "Add hello.txt.");
        let summary = setup.run_until_idle();
        assert!(!server.requests().is_empty(), "Claude Code asked the model");
        let disposed = disposed_event(&summary);
        assert_eq!(disposed["outcome"], "agent_error", "{summary:#}");
        assert_eq!(disposed["disposition"]["kind"], "failed");
        let comments = setup.repo.comments_on(1);
        let failure = comments.last().unwrap();
        assert!(failure.contains(named), "HTTP {status}: {failure}");
        let (_, log) = failure.split_once("```").unwrap();
        assert!(
            log.contains(tail),
            "the quoted log keeps the line that explains it: {log}"
        );
        setup.repo.assert_no_violations();
    }
}

/// A key the model API refuses would fail every attempt alike, all night: the run gives the
/// issue back with no attempt counted, claims nothing more, and exits saying what to fix.
#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_stops_the_run_and_gives_the_issue_back(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let server = ModelServer::start(Vec::new(), Reply::error(401, "authentication_error")).await;
    let setup = Setup::new(backend, &server, ONE_ATTEMPT);
    setup.issue("Say hello", "Add hello.txt.");
    setup.issue("Say goodbye", "Add goodbye.txt.");
    let run = setup.clambake(&["run", "--until-idle", "--json"]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the model API refused the claude agent's key: the model API refused the agent's API key (HTTP 401, authentication_error)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("clambake doctor"), "{}", run.stderr);
    assert!(!server.requests().is_empty(), "Claude Code asked the model");
    let logs: Vec<String> = std::fs::read_dir(setup.repo.path().join(".clambake/logs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !logs.iter().any(|name| name.starts_with("agent001-2-")),
        "nothing more was claimed: {logs:?}"
    );
    for issue in [1, 2] {
        assert_eq!(setup.repo.labels_of(issue), ["route:ready"], "#{issue}");
        assert!(
            setup.repo.comments_on(issue).is_empty(),
            "no attempt is counted against #{issue}: {:?}",
            setup.repo.comments_on(issue)
        );
    }
    setup.repo.assert_no_violations();
}

/// A scripted model that does what its prompt asks, as a capable agent would: it edits a file
/// through Bash (`acceptEdits` allows that), commits if the prompt's rules say to commit, and
/// runs the git commands the rules name for reviewing its work, then stops.
fn obey(prompt: &str) -> Vec<Reply> {
    let rules = prompt.split("## How to work").nth(1).unwrap_or_default();
    let mut replies = vec![Reply::bash("echo hello > hello.txt")];
    if rules.contains("Commit your work") {
        replies.push(Reply::bash("git add -A && git commit -qm 'Say hello'"));
    }
    let named: Vec<&str> = rules
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("git "))
        .collect();
    if !named.is_empty() {
        replies.push(Reply::bash(&named.join(" && ")));
    }
    replies.push(Reply::text("Done: hello.txt says hello."));
    replies
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn in_the_default_configuration_an_agent_doing_what_its_prompt_asks_lands_its_work(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let server = ModelServer::per_conversation(obey, Reply::text("Nothing more.")).await;
    let setup = Setup::new(backend, &server, &[]);
    setup.issue("Say hello", "Add hello.txt saying hello.");
    let summary = setup.run_until_idle();
    let disposed = disposed_event(&summary);
    assert_eq!(disposed["outcome"], "success", "{summary:#}");
    assert_eq!(disposed["disposition"]["kind"], "landed", "{summary:#}");
    assert_eq!(disposed["attempt"], 1, "no retry was needed");
    assert_eq!(setup.repo.labels_of(1), ["route:review"]);
    let branch = "agent001/1-say-hello";
    assert_eq!(
        setup.repo.git(&["show", &format!("{branch}:hello.txt")]),
        "hello"
    );
    // The model ran what the prompt asked, and every tool call was allowed.
    let requests = server.requests();
    let prompt = requests[0]["messages"][0].to_string();
    let steps = obey(&prompt).len();
    assert!(steps >= 3, "the prompt named commands to run: {prompt}");
    assert_eq!(requests.len(), steps);
    let last = requests.last().unwrap()["messages"].to_string();
    assert!(!last.contains("requires approval"), "{last}");
    let log = std::fs::read_to_string(setup.repo.path().join(".clambake/logs/agent001-1-1.jsonl"))
        .unwrap();
    assert!(
        log.contains(r#""permission_denials":[]"#),
        "no tool call was denied: {log}"
    );
    assert!(log.contains(r#""permissionMode":"acceptEdits""#), "{log}");
    setup.repo.assert_no_violations();
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_tool_call_is_named_in_the_verdict(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let server = ModelServer::start(
        vec![Reply::bash("git add -A && git commit -qm 'Say hello'")],
        Reply::text("I could not commit."),
    )
    .await;
    let setup = Setup::new(backend, &server, ONE_ATTEMPT);
    setup.issue("Say hello", "Commit hello.txt.");
    let summary = setup.run_until_idle();
    let disposed = disposed_event(&summary);
    assert_eq!(disposed["outcome"], "agent_error", "{summary:#}");
    let failure = setup.repo.last_comment_on(1);
    assert!(
        failure.contains(
            "the agent's permission mode denied 1 tool call (Bash `git add -A && git commit -qm 'Say hello'`)"
        ),
        "{failure}"
    );
    assert!(
        failure.contains("agents.claude_permission_mode"),
        "{failure}"
    );
    setup.repo.assert_no_violations();
}

/// On the local forge only: GitHub refuses an issue body over 65,536 characters, so no issue
/// there carries a prompt past what one argument may hold.
#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_longer_than_one_argument_may_be_reaches_claude_code_whole() {
    let server = ModelServer::per_conversation(obey, Reply::text("Nothing more.")).await;
    let setup = Setup::new(Backend::Local, &server, &[]);
    // Past the 128 KiB Linux allows a single argument (MAX_ARG_STRLEN).
    let body = format!(
        "{}the last line of the issue",
        "Details of the issue.\n".repeat(9000)
    );
    assert!(body.len() > 192 * 1024);
    let file = setup.repo.path().join(".clambake/issue-body.md");
    std::fs::write(&file, &body).unwrap();
    setup
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Say hello",
            "--body-file",
            file.to_str().unwrap(),
            "--label",
            "route:ready",
        ])
        .success();
    let summary = setup.run_until_idle();
    let disposed = disposed_event(&summary);
    assert_eq!(disposed["outcome"], "success", "{summary:#}");
    let conversation = &server.received()[0].conversation;
    assert!(
        conversation.contains(&body),
        "the whole issue reached the model"
    );
    assert!(conversation.contains("## How to work"));
}
