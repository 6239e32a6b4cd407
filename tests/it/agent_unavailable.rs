//! A missing agent CLI is a configuration error, not an agent failure: `run` claims nothing
//! for it (or stops claiming when it disappears mid-run) and says how to fix it, and `doctor`
//! checks the CLI (found, its version) and the model key it needs.

use std::process::Command;
use std::sync::Arc;

use clambake::adapters::agents::ClaudeRuntime;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::app::{AppError, Workspace};
use clambake::ports::journal::AttemptLog;
use clambake::ports::{Clock, SystemClock};
use serde_json::Value;

use crate::support::{TestRepo, claude_binary, codex_binary};

fn repo_with_ready_issues(count: u64, settings: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    for (key, value) in settings {
        repo.clambake(&["config", "set", key, value]).success();
    }
    for n in 1..=count {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }
    repo
}

#[test]
fn run_claims_nothing_for_an_agent_cli_that_is_not_there() {
    let repo = repo_with_ready_issues(1, &[("agents.claude_code_path", "/nonexistent/claude")]);
    let out = repo.clambake(&["run", "--until-idle"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("the claude agent cannot be started")
            && out.stderr.contains("/nonexistent/claude does not exist"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("agents.claude_code_path"),
        "says how to fix it: {}",
        out.stderr
    );
    assert_eq!(repo.labels_of(1), ["route:ready"]);
    assert_eq!(repo.comments_on(1), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_cli_gone_mid_run_stops_claiming_and_counts_no_attempt() {
    let repo = repo_with_ready_issues(2, &[("agents.retry_backoff_seconds", "0")]);
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let mut config = workspace.load_config().unwrap().config;
    // The run's own check passed; then the CLI went away (an upgrade, a removed volume).
    config.agents.claude_code_path = repo.path().join("gone/claude").display().to_string();
    let runtime = ClaudeRuntime::new(config.agents.clone());
    let journal = Arc::new(open_journal(&workspace).unwrap());
    let forge = workspace.open_forge(config.forge.backend).await.unwrap();
    let settings = RunSettings::from_config(&config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut orchestrator = Orchestrator::new(
        workspace,
        config,
        forge,
        journal.clone(),
        Arc::new(runtime),
        clock,
        settings,
    )
    .await
    .unwrap();
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    let error = orchestrator
        .run(StopWhen::Idle, shutdown, false)
        .await
        .expect_err("the run stops with the configuration error");
    let AppError::AgentUnavailable {
        runtime, advice, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(runtime, "claude");
    assert!(advice.contains("agents.claude_code_path"), "{advice}");
    for issue in [1, 2] {
        assert_eq!(repo.labels_of(issue), ["route:ready"], "#{issue}");
        assert!(journal.attempts(issue).unwrap().is_empty(), "#{issue}");
        assert_eq!(repo.comments_on(issue), Vec::<String>::new(), "#{issue}");
    }
    assert!(
        !repo.path().join(".clambake/worktrees/agent001-1").exists(),
        "the empty worktree is removed"
    );
}

/// `clambake doctor --json` in `repo` with exactly `env` (and PATH).
fn doctor(repo: &TestRepo, env: &[(&str, &str)]) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["doctor", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
        .as_array()
        .unwrap()
        .clone()
}

/// Asserts that the check `name` has `health` and that its `field` says `says`.
fn assert_check(checks: &[Value], name: &str, health: &str, field: &str, says: &str) {
    let found = check(checks, name);
    assert_eq!(found["health"], health, "{found}");
    assert!(found[field].as_str().unwrap().contains(says), "{found}");
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {checks:#?}"))
}

#[test]
fn doctor_checks_the_agent_cli_and_its_key() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path().to_str().unwrap();
    let claude = claude_binary();
    let repo = repo_with_ready_issues(0, &[("agents.claude_code_path", claude.to_str().unwrap())]);

    let checks = doctor(&repo, &[("HOME", home), ("ANTHROPIC_API_KEY", "sk-test")]);
    let agent = check(&checks, "agent");
    assert_eq!(agent["health"], "ok", "{agent}");
    assert!(
        agent["detail"].as_str().unwrap().contains("(Claude Code)"),
        "the version: {agent}"
    );
    assert_check(&checks, "agent key", "ok", "detail", "ANTHROPIC_API_KEY");

    let checks = doctor(&repo, &[("HOME", home)]);
    assert_check(
        &checks,
        "agent key",
        "fail",
        "fix",
        "export ANTHROPIC_API_KEY",
    );

    // Claude Code's own keys reach it without the pass-through naming them.
    let checks = doctor(&repo, &[("HOME", home), ("CLAUDE_CODE_OAUTH_TOKEN", "t")]);
    assert_check(
        &checks,
        "agent key",
        "ok",
        "detail",
        "CLAUDE_CODE_OAUTH_TOKEN",
    );

    // As root (these tests' machine), bypassPermissions needs IS_SANDBOX=1.
    let as_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    repo.clambake(&[
        "config",
        "set",
        "agents.claude_permission_mode",
        "bypassPermissions",
    ])
    .success();
    let with_key = [("HOME", home), ("ANTHROPIC_API_KEY", "sk-test")];
    let mode = check(&doctor(&repo, &with_key), "agent mode").clone();
    assert_eq!(
        mode["health"],
        if as_root { "fail" } else { "ok" },
        "{mode}"
    );
    let sandboxed = [with_key[0], with_key[1], ("IS_SANDBOX", "1")];
    assert_eq!(
        check(&doctor(&repo, &sandboxed), "agent mode")["health"],
        "ok"
    );

    repo.clambake(&[
        "config",
        "set",
        "agents.claude_code_path",
        "/nonexistent/claude",
    ])
    .success();
    let checks = doctor(&repo, &[("HOME", home), ("ANTHROPIC_API_KEY", "sk-test")]);
    assert_check(&checks, "agent", "fail", "detail", "/nonexistent/claude");
    assert_check(&checks, "agent", "fail", "fix", "agents.claude_code_path");

    let codex = codex_binary();
    repo.configure(&[
        ("agents.runtime", "codex"),
        ("agents.codex_path", codex.to_str().unwrap()),
    ]);
    let checks = doctor(&repo, &[("HOME", home), ("OPENAI_API_KEY", "sk-test")]);
    assert_eq!(check(&checks, "agent")["health"], "ok", "{checks:#?}");
    assert_eq!(check(&checks, "agent key")["health"], "ok", "{checks:#?}");
    let checks = doctor(&repo, &[("HOME", home)]);
    assert_eq!(check(&checks, "agent key")["health"], "fail", "{checks:#?}");
}
