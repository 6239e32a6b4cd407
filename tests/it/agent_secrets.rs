//! Secrets and agents, with real child processes that print their environment: each runtime
//! receives only the keys it needs, and whatever an agent prints reaches no comment, pull
//! request or log line of Clambake's.

use std::path::Path;

use crate::support::{TestRepo, clambake_in_env, write_script};

const ANTHROPIC: &str = "sk-ant-Secret_ANTHROPIC_0123456789";
const OPENAI: &str = "sk-Secret_OPENAI_0123456789";
const FORGE: &str = "ghp_Secret_FORGE_0123456789";
const SERVICE: &str = "Secret_SERVICE_TOKEN_0123456789";

/// Everything under `dir`, concatenated.
fn read_all(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&read_all(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

/// Runs an agent of `runtime` (its executable a script that prints its environment and
/// fails) on one issue, with every secret in Clambake's environment and named in the
/// pass-through. Returns what the agent printed.
fn agent_prints_its_environment(runtime: &str) -> String {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(scripts.path(), "agent", "env\nenv >&2\nexit 1\n");
    let script = script.display().to_string();
    repo.clambake(&["init"]).success();
    let executable = match runtime {
        "command" => ("agents.command", format!("{script} {{issue}}")),
        "claude" => ("agents.claude_code_path", script),
        _ => ("agents.codex_path", script),
    };
    repo.configure(&[
        ("agents.runtime", runtime.to_owned()),
        (executable.0, executable.1),
        ("agents.max_attempts", "1".to_owned()),
        ("bundling.trigger", "manual".to_owned()),
        (
            "agents.env_passthrough",
            "ANTHROPIC_API_KEY OPENAI_API_KEY GH_TOKEN MY_SERVICE_TOKEN".to_owned(),
        ),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Print the environment",
        "--label",
        "route:ready",
    ])
    .success();
    let run = clambake_in_env(
        repo.path(),
        &["-vv", "run", "--until-idle", "--json"],
        &[
            ("ANTHROPIC_API_KEY", ANTHROPIC),
            ("OPENAI_API_KEY", OPENAI),
            ("GH_TOKEN", FORGE),
            ("MY_SERVICE_TOKEN", SERVICE),
        ],
    )
    .success();
    assert_eq!(repo.labels_of(1), ["route:failed"], "{}", run.stdout);

    let comments = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .stdout;
    assert!(
        comments.contains("The end of the last attempt") && comments.contains("PATH="),
        "the failure comment quotes no log: {comments}"
    );
    for secret in [ANTHROPIC, OPENAI, FORGE, SERVICE] {
        assert!(
            !comments.contains(secret),
            "{runtime}: a secret in a comment: {comments}"
        );
        assert!(
            !run.stderr.contains(secret),
            "{runtime}: a secret in the log: {}",
            run.stderr
        );
        let prs = serde_json::to_string(&repo.pull_requests()).unwrap();
        assert!(
            !prs.contains(secret),
            "{runtime}: a secret in a pull request"
        );
    }
    read_all(&repo.path().join(".clambake/logs"))
}

#[test]
fn claude_gets_the_anthropic_key_and_no_other() {
    let printed = agent_prints_its_environment("claude");
    assert!(printed.contains(&format!("ANTHROPIC_API_KEY={ANTHROPIC}")));
    assert!(!printed.contains(OPENAI) && !printed.contains(FORGE));
    assert!(
        printed.contains(SERVICE),
        "a variable the pass-through names is passed"
    );
}

#[test]
fn codex_gets_the_openai_key_and_no_other() {
    let printed = agent_prints_its_environment("codex");
    assert!(printed.contains(&format!("OPENAI_API_KEY={OPENAI}")));
    assert!(!printed.contains(ANTHROPIC) && !printed.contains(FORGE));
}

#[test]
fn a_command_agent_gets_what_the_pass_through_names_and_no_forge_token() {
    let printed = agent_prints_its_environment("command");
    assert!(printed.contains(ANTHROPIC) && printed.contains(OPENAI) && printed.contains(SERVICE));
    assert!(!printed.contains(FORGE));
}
