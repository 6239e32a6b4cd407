//! `clambake logs`: the real Claude Code and Codex run by the loop against the scripted model
//! servers, their logs rendered for a person (tool calls with their commands and files,
//! results abridged, escapes neutralised, secrets redacted, the verdict last), `--raw` as
//! written, `--follow` on a running command agent, and clear errors for what does not exist.
//!
//! With `CLAMBAKE_CAPTURE_LOGS` naming a directory, the two real logs are copied there: that is
//! how the core's fixtures (`crates/clambake-core/testdata/logs/`) were captured.

use std::io::BufRead;
use std::process::Stdio;

use serde_json::json;

use crate::model_server::{ModelServer, Reply};
use crate::responses_server::{self, ResponsesServer};
use crate::support::{PATIENCE, TestRepo, claude_binary, codex_binary, write_script};

fn issue(repo: &TestRepo, env: &[(&str, &str)]) {
    repo.clambake_env(
        &[
            "issue",
            "create",
            "--title",
            "Say hello",
            "--body",
            "Add hello.txt.",
            "--label",
            "route:ready",
        ],
        env,
    )
    .success();
}

/// Keeps the log of issue 1's attempt 1 as a fixture, when asked to.
fn capture(repo: &TestRepo, name: &str) {
    if let Some(dir) = std::env::var_os("CLAMBAKE_CAPTURE_LOGS") {
        let log = repo.path().join(".clambake/logs/agent001-1-1.jsonl");
        std::fs::copy(log, std::path::Path::new(&dir).join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claude_code_log_reads_as_its_tool_calls_results_and_verdict() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let file = repo.path().join(".clambake/worktrees/agent001-1/hello.txt");
    let file = file.to_str().unwrap();
    let server = ModelServer::start(
        vec![
            Reply::Tool {
                name: "Write".to_owned(),
                input: json!({ "file_path": file, "content": "hello\n" }),
            },
            Reply::Tool {
                name: "Read".to_owned(),
                input: json!({ "file_path": file }),
            },
            Reply::Tool {
                name: "Edit".to_owned(),
                input: json!({ "file_path": file, "old_string": "hello", "new_string": "hello, world" }),
            },
            Reply::bash("seq 1 20 && git add hello.txt && git commit -qm 'Add hello'"),
        ],
        Reply::text("Committed \u{1b}[31mhello.txt\u{1b}[0m with the key sk-scripted-0123."),
    )
    .await;
    let base_url = server.base_url();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("IS_SANDBOX", "1"),
        ("ANTHROPIC_BASE_URL", base_url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-scripted-0123"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ];
    repo.init(&["--agents", "1"]).success();
    let claude = claude_binary();
    repo.configure(&[
        ("agents.runtime", "claude"),
        ("agents.claude_code_path", claude.to_str().unwrap()),
        ("agents.claude_permission_mode", "bypassPermissions"),
        ("agents.claude_max_turns", "8"),
        ("bundling.trigger", "manual"),
    ]);
    issue(&repo, &env);
    repo.clambake_env(&["run", "--until-idle"], &env).success();
    capture(&repo, "claude_code.jsonl");

    let shown = repo.clambake_env(&["logs", "1"], &env).success().stdout;
    for expected in [
        "issue #1, attempt 1 of 1, agent001 (claude), ended",
        &format!("→ Write: {file}"),
        &format!("→ Read: {file}"),
        &format!("→ Edit: {file}"),
        "→ Bash: seq 1 20 && git add hello.txt && git commit -qm 'Add hello'",
        "  ← 1",
        "… 17 more line(s)",
        "verdict: success",
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
    assert!(
        !shown.contains('\u{1b}'),
        "no escape reaches the terminal:\n{shown}"
    );
    assert!(shown.contains("\u{FFFD}[31mhello.txt"), "{shown}");
    assert!(!shown.contains("sk-scripted-0123"), "{shown}");
    assert!(shown.contains("the key [redacted]"), "{shown}");
    assert!(shown.contains("5 turn(s), cost $"), "{shown}");

    let raw = repo
        .clambake_env(&["logs", "1", "--raw"], &env)
        .success()
        .stdout;
    let written =
        std::fs::read_to_string(repo.path().join(".clambake/logs/agent001-1-1.jsonl")).unwrap();
    assert_eq!(
        raw.lines().count(),
        written.lines().count(),
        "every line as written"
    );
    for line in raw.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each raw line is its JSON");
    }
    assert!(!raw.contains("sk-scripted-0123"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_codex_log_reads_as_its_commands_patches_and_verdict() {
    let repo = TestRepo::new();
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(
        vec![
            responses_server::Reply::Shell(
                "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\nEOF\n"
                    .to_owned(),
            ),
            responses_server::Reply::Shell("seq 1 20; exit 3".to_owned()),
        ],
        responses_server::Reply::Text("Wrote hello.txt.".to_owned()),
    )
    .await;
    std::fs::write(home.path().join("config.toml"), server.codex_config()).unwrap();
    let home_dir = home.path().to_str().unwrap();
    let env = [
        ("HOME", home_dir),
        ("CODEX_HOME", home_dir),
        ("OPENAI_API_KEY", "sk-scripted"),
    ];
    repo.init(&["--agents", "1"]).success();
    let codex = codex_binary();
    repo.configure(&[
        ("agents.runtime", "codex"),
        ("agents.codex_path", codex.to_str().unwrap()),
        ("agents.max_attempts", "1"),
        ("bundling.trigger", "manual"),
    ]);
    issue(&repo, &env);
    repo.clambake_env(&["run", "--until-idle"], &env).success();
    capture(&repo, "codex.jsonl");

    let shown = repo.clambake_env(&["logs", "1"], &env).success().stdout;
    for expected in [
        "issue #1, attempt 1 of 1, agent001 (codex), ended",
        "→ patch: add ",
        "→ shell: /bin/bash -lc 'seq 1 20; exit 3'",
        "  ← exit 3: 1",
        "… 17 more line(s)",
        "assistant: Wrote hello.txt.",
        "result: success",
        "verdict: success",
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
}

/// A `command` agent that reports in, waits for the file `go` beside its script, then says a
/// damaged line and its result.
fn waiting_agent(repo: &TestRepo, scripts: &std::path::Path) -> std::path::PathBuf {
    let script = write_script(
        scripts,
        "agent.sh",
        r#"echo '{"type":"system","subtype":"init","session_id":"s-logs","model":"scripted"}'
echo '{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"make test"}}]}}'
while [ ! -e "$1" ]; do sleep 0.02; done
echo hi > greeting.txt && git add greeting.txt && git commit -qm 'Add greeting'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"cut sh'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.25}'
"#,
    );
    let go = scripts.join("go");
    repo.clambake(&[
        "config",
        "set",
        "agents.command",
        &format!("{} {}", script.display(), go.display()),
    ])
    .success();
    go
}

#[test]
fn logs_follow_a_running_attempt_to_its_verdict() {
    let repo = TestRepo::new();
    repo.init(&[]).success();
    repo.clambake(&["issue", "create", "--title", "Add greeting"])
        .success();
    let scripts = tempfile::tempdir().unwrap();
    let go = waiting_agent(&repo, scripts.path());
    let spawned = repo
        .clambake_command(&[])
        .args([
            "spawn",
            "--agent",
            "agent001",
            "--issue",
            "1",
            "--runtime",
            "command",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = repo.path().join(".clambake/logs/agent001-1-1.jsonl");
    crate::support::wait_for("the agent to report in", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|text| text.lines().count() >= 2)
    });
    // monitor renders its latest events the same way, the tool call with its command.
    let monitored = repo
        .clambake(&["monitor", "--agent", "agent001"])
        .success()
        .stdout;
    assert!(
        monitored.contains("      1  → Bash: make test"),
        "{monitored}"
    );
    let mut follower = repo
        .clambake_command(&[])
        .args(["logs", "1", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    let stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = sender.send(line.unwrap());
        }
    });
    let mut shown = Vec::new();
    while !shown.iter().any(|l: &String| l == "→ Bash: make test") {
        shown.push(lines.recv_timeout(PATIENCE).expect("the events so far"));
    }
    assert!(
        shown[0].contains("agent001 (command), running"),
        "{shown:#?}"
    );
    std::fs::write(&go, "").unwrap();
    assert!(follower.wait().unwrap().success());
    shown.extend(lines);
    let shown = shown.join("\n");
    assert!(
        shown.contains("[line 3 is damaged, not JSON: {\"type\":\"assistant\""),
        "{shown}"
    );
    assert!(shown.contains("result: success"), "{shown}");
    assert!(shown.contains("verdict: success"), "{shown}");
    assert!(shown.contains("2 turn(s), cost $0.2500"), "{shown}");
    let mut spawned = spawned;
    assert!(spawned.wait().unwrap().success());
}

#[test]
fn an_issue_or_attempt_without_a_log_is_a_clear_error() {
    let repo = TestRepo::new();
    repo.init(&[]).success();
    let unknown = repo.clambake(&["logs", "41"]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown.stderr.contains("issue #41 has no logged attempt"),
        "{}",
        unknown.stderr
    );
    let logs = repo.path().join(".clambake/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("agent002-41-1.jsonl"), "plain output\n").unwrap();
    let missing = repo.clambake(&["logs", "41", "--attempt", "3"]);
    assert!(
        missing
            .stderr
            .contains("issue #41 has no attempt 3; its attempts: 1"),
        "{}",
        missing.stderr
    );
    let shown = repo.clambake(&["logs", "41"]).success().stdout;
    assert!(
        shown.contains(
            "attempt 1 of 1, agent002 (runtime not recorded), ended, no verdict recorded"
        ),
        "{shown}"
    );
    assert!(shown.contains("plain output\n"), "{shown}");
    assert!(shown.contains("verdict: not recorded yet"), "{shown}");
}

/// Writes `name` under `.clambake/<dir>/`, last modified `days` days ago.
fn dated(repo: &TestRepo, dir: &str, name: &str, days: u64) -> std::path::PathBuf {
    let dir = repo.path().join(".clambake").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "{}\n").unwrap();
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(then)
        .unwrap();
    path
}

#[test]
fn run_prunes_logs_and_prompts_older_than_keep_days() {
    let repo = TestRepo::new();
    repo.init(&[]).success();
    repo.configure(&[("logs.keep_days", "10"), ("agents.runtime", "simulated")]);
    let old_log = dated(&repo, "logs", "agent001-7-1.jsonl", 11);
    let old_stderr = dated(&repo, "logs", "agent001-7-1.stderr.log", 11);
    let old_prompt = dated(&repo, "prompts", "agent001-7-1.md", 11);
    let recent = dated(&repo, "logs", "agent001-9-1.jsonl", 9);
    let not_an_attempt = dated(&repo, "logs", "notes.txt", 400);
    repo.clambake(&["run", "--until-idle"]).success();
    for gone in [&old_log, &old_stderr, &old_prompt] {
        assert!(!gone.exists(), "{} was pruned", gone.display());
    }
    assert!(recent.exists() && not_an_attempt.exists());
    let doctor = repo.clambake(&["doctor", "--json"]).json();
    let logs = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "logs")
        .unwrap_or_else(|| panic!("{doctor:#}"));
    assert_eq!(logs["health"], "ok");
    assert_eq!(
        logs["detail"],
        "2 file(s), 0.0 MiB under .clambake/logs/ and prompts/, kept 10 day(s) (logs.keep_days)",
        "{logs}"
    );
    let unpruned = repo.clambake(&["logs", "7"]);
    assert!(
        unpruned.stderr.contains("its logs were pruned"),
        "{}",
        unpruned.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pruning_spares_claimed_issues_and_keep_days_0_keeps_all() {
    use clambake::app::agents::prune::prune_attempt_files;
    let repo = TestRepo::new();
    repo.init(&[]).success();
    let claimed = dated(&repo, "logs", "agent002-8-3.jsonl", 90);
    let unclaimed = dated(&repo, "prompts", "agent002-6-1.md", 90);
    let workspace = clambake::app::Workspace::discover(repo.path())
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    let nothing = prune_attempt_files(&workspace, 0, now, &[8].into()).unwrap();
    assert_eq!(nothing.files, 0);
    let pruned = prune_attempt_files(&workspace, 30, now, &[8].into()).unwrap();
    assert_eq!((pruned.files, pruned.bytes), (1, 3));
    assert!(claimed.exists() && !unclaimed.exists());
}
