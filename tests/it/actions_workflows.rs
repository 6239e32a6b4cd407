//! The generated GitHub Actions workflows pass actionlint (with ShellCheck on their scripts),
//! for the default configuration and for those that change what they say.

use std::path::{Path, PathBuf};
use std::process::Command;

use clambake::core::config::{AgentRuntimeKind, BundlingExecutor, Config};
use clambake::core::workflows::{agent_workflow, bundling_workflow};

/// A binary `./scripts/test` installs into `.tools/actionlint/`. Missing, it fails the test.
fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/actionlint/bin")
        .join(name);
    assert!(
        path.exists(),
        "{name} is not installed at {}: run ./scripts/test (it installs the pinned actionlint \
         and ShellCheck)",
        path.display()
    );
    path
}

/// The configurations whose workflows differ in what actionlint checks.
fn configurations() -> Vec<(&'static str, Config)> {
    let mut scheduled = Config::default();
    scheduled.github_actions.enabled = true;
    scheduled.bundling.executor = BundlingExecutor::Actions;
    let mut seven = scheduled.clone();
    seven.bundling.schedule_minutes = 7;
    let mut two_hours = scheduled.clone();
    two_hours.bundling.schedule_minutes = 120;
    let mut three = scheduled.clone();
    three.bundling.schedule_minutes = 3;
    let mut codex = Config::default();
    codex.agents.runtime = AgentRuntimeKind::Codex;
    codex.agents.env_passthrough = "CODEX_HOME MY_TOOL_TOKEN".to_owned();
    let mut token = Config::default();
    token.github_actions.token_secret = "BOT_PAT".to_owned();
    token.github_actions.workflow_timeout_minutes = 90;
    token.github_actions.clambake_git = "https://example.com/it's/clambake.git".to_owned();
    let mut bare = Config::default();
    bare.github_actions.token_secret = String::new();
    bare.agents.runtime = AgentRuntimeKind::Simulated;
    vec![
        ("default", Config::default()),
        ("scheduled", scheduled),
        ("schedule-7", seven),
        ("schedule-120", two_hours),
        ("schedule-3", three),
        ("codex", codex),
        ("token-secret", token),
        ("github-token-only", bare),
    ]
}

#[test]
fn every_generated_workflow_passes_actionlint() {
    let actionlint = tool("actionlint");
    let shellcheck = tool("shellcheck");
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let mut files = Vec::new();
    for (name, config) in configurations() {
        for (kind, text) in [
            ("bundling", bundling_workflow(&config, "0.1.0")),
            ("agent", agent_workflow(&config, "0.1.0")),
        ] {
            let path = workflows.join(format!("{name}-{kind}.yml"));
            std::fs::write(&path, text).unwrap();
            files.push(path);
        }
    }
    let output = Command::new(&actionlint)
        .arg(format!("-shellcheck={}", shellcheck.display()))
        .arg("-pyflakes=")
        .arg("-oneline")
        .args(&files)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "actionlint refused a generated workflow:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// actionlint checks the scripts only with ShellCheck at hand (without it, it skips them and
/// says so only with -verbose), and flags what the workflows must never do: this proves both.
#[test]
fn actionlint_refuses_what_the_workflows_avoid() {
    let actionlint = tool("actionlint");
    let shellcheck = tool("shellcheck");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    let bad = bundling_workflow(&Config::default(), "0.1.0")
        .replace("actions/checkout@v5", "actions/checkout@v4")
        .replace(
            "clambake bundle --summary \"$GITHUB_STEP_SUMMARY\"",
            "clambake bundle --summary $GITHUB_STEP_SUMMARY",
        );
    std::fs::write(&path, bad).unwrap();
    let output = Command::new(&actionlint)
        .arg(format!("-shellcheck={}", shellcheck.display()))
        .arg("-pyflakes=")
        .arg("-oneline")
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("actions/checkout@v4"), "{report}");
    assert!(report.contains("SC2086"), "{report}");
}
