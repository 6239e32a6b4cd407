//! The agent workflow: one attempt at an issue per run, dispatched by the orchestrator. The
//! runner's side (`clambake agent remote-run`) runs the configured runtime in the checkout,
//! commits and pushes the branch, and leaves the attempt's log for the artifact.

use super::{
    RUN_TOKEN, STEP_ID, checkout_and_install, clambake_env, dispatch_key_input, header, job, quoted,
};
use crate::agents::command::{ANTHROPIC_KEYS, OPENAI_KEYS, never_passed};
use crate::agents::remote::{
    INPUT_ATTEMPT, INPUT_BRANCH, INPUT_CLAIM, INPUT_ISSUE, INPUT_SLOT, OUT_DIR,
};
use crate::config::{AgentRuntimeKind, Config};
use crate::text::redact::is_secret_name;

/// The inputs the orchestrator dispatches an attempt with, each with its description.
const INPUTS: &[(&str, &str)] = &[
    (INPUT_ISSUE, "The issue's number."),
    (INPUT_SLOT, "The agent slot, e.g. agent001."),
    (INPUT_BRANCH, "The branch the attempt works on and pushes."),
    (INPUT_ATTEMPT, "The attempt's number, from 1."),
    (
        INPUT_CLAIM,
        "The id of the orchestrator's claim on the issue.",
    ),
];

/// `.github/workflows/<github_actions.agent_workflow>` for `config`, installing Clambake
/// `version` (the running binary's).
pub fn agent_workflow(config: &Config, version: &str) -> String {
    let mut inputs = String::new();
    for (name, description) in INPUTS {
        inputs.push_str(&format!(
            "      {name}:\n        description: {}\n        type: string\n        \
             required: true\n",
            quoted(description)
        ));
    }
    inputs.push_str(&dispatch_key_input());
    let mut env = String::new();
    for (name, _) in INPUTS {
        env.push_str(&format!(
            "          {}: ${{{{ inputs.{name} }}}}\n",
            name.to_ascii_uppercase()
        ));
    }
    env.push_str(&clambake_env(RUN_TOKEN));
    for secret in secrets(config) {
        env.push_str(&format!(
            "          {secret}: ${{{{ secrets.{secret} }}}}\n"
        ));
    }
    let arguments: String = INPUTS
        .iter()
        .map(|(name, _)| format!(" --{name} \"${}\"", name.to_ascii_uppercase()))
        .collect();
    format!(
        "{header}\
         name: Clambake agent\n\
         run-name: 'Clambake agent #${{{{ inputs.{INPUT_ISSUE} }}}} attempt \
         ${{{{ inputs.{INPUT_ATTEMPT} }}}} ${{{{ inputs.dispatch_key }}}}'\n\
         on:\n  workflow_dispatch:\n    inputs:\n{inputs}\
         # One attempt at an issue at a time.\n\
         concurrency:\n  group: clambake-agent-${{{{ inputs.{INPUT_ISSUE} }}}}\n  \
         cancel-in-progress: false\n\
         # It reads the issue, and pushes the branch and its refs.\n\
         permissions:\n  contents: write\n  issues: read\n\
         {job}{steps}{runtime}\
         \x20     - name: Run the agent\n        id: {STEP_ID}\n        env:\n{env}        \
         run: exec clambake agent remote-run{arguments} --out {OUT_DIR}\n\
         \x20     - name: Upload the attempt's log\n        if: always()\n        \
         uses: {upload}\n        with:\n          \
         name: clambake-agent-${{{{ inputs.{INPUT_ISSUE} }}}}-${{{{ inputs.{INPUT_ATTEMPT} }}}}\n          \
         path: {OUT_DIR}\n          if-no-files-found: warn\n",
        header = header("the agent workflow", version),
        job = job("attempt", config),
        steps = checkout_and_install(config, RUN_TOKEN, version),
        runtime = runtime_install(config.agents.runtime),
        upload = super::UPLOAD_ARTIFACT,
    )
}

/// The Claude Code release the agent workflow installs: the one the tests run (scripts/test),
/// so a runner never gets whatever was published last, untested with Clambake.
const CLAUDE_CODE: &str = "2.1.328";
/// Likewise the Codex release.
const CODEX: &str = "0.169.0";

/// The step that puts the runtime's CLI on the runner, for the runtimes Clambake knows.
fn runtime_install(runtime: AgentRuntimeKind) -> String {
    let (name, package, version) = match runtime {
        AgentRuntimeKind::Claude => ("Claude Code", "@anthropic-ai/claude-code", CLAUDE_CODE),
        AgentRuntimeKind::Codex => ("Codex", "@openai/codex", CODEX),
        AgentRuntimeKind::Command | AgentRuntimeKind::Simulated => return String::new(),
    };
    format!(
        "      - name: Install {name} {version}\n        \
         run: npm install --global --no-audit --no-fund {package}@{version}\n"
    )
}

/// The repository secrets the agent sees: its runtime's model key, and each variable
/// `agents.env_passthrough` names whose name says it is a secret (not a prefix, a forge token,
/// Clambake's own or another runtime's key, nor a name GitHub refuses for a secret).
fn secrets(config: &Config) -> Vec<String> {
    let (own_key, own): (Option<&str>, &[&str]) = match config.agents.runtime {
        AgentRuntimeKind::Claude => (Some("ANTHROPIC_API_KEY"), ANTHROPIC_KEYS),
        AgentRuntimeKind::Codex => (Some("OPENAI_API_KEY"), OPENAI_KEYS),
        AgentRuntimeKind::Command | AgentRuntimeKind::Simulated => (None, &[]),
    };
    let foreign = |name: &str| {
        !own.is_empty()
            && !own.contains(&name)
            && (ANTHROPIC_KEYS.contains(&name) || OPENAI_KEYS.contains(&name))
    };
    let mut names: Vec<String> = own_key.map(str::to_owned).into_iter().collect();
    for name in config.agents.env_passthrough.split_whitespace() {
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !name.to_ascii_uppercase().starts_with("GITHUB_");
        if valid
            && is_secret_name(name)
            && !never_passed(name)
            && !foreign(name)
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;

    #[test]
    fn by_default() {
        assert_snapshot!(agent_workflow(&Config::default(), "0.1.0"));
    }

    #[test]
    fn with_codex_and_a_secret_passed_through() {
        let mut config = Config::default();
        config.agents.runtime = AgentRuntimeKind::Codex;
        config.agents.env_passthrough =
            "MY_TOOL_TOKEN ANTHROPIC_API_KEY GH_TOKEN GITHUB_PAT NPM_* CODEX_HOME 1_KEY".to_owned();
        config.github_actions.token_secret = "BOT_PAT".to_owned();
        assert_snapshot!(agent_workflow(&config, "0.1.0"));
    }

    #[test]
    fn a_cancel_reaches_clambake_and_the_runtime_is_the_tested_release() {
        let workflow = agent_workflow(&Config::default(), "0.1.0");
        // GitHub signals the step's shell alone: without exec the agent's work is not pushed.
        assert!(workflow.contains("run: exec clambake agent remote-run "));
        let tests = include_str!("../../../../scripts/test");
        for (variable, version) in [
            ("claude_code_version", CLAUDE_CODE),
            ("codex_version", CODEX),
        ] {
            assert!(
                tests.contains(&format!("\n{variable}={version}\n")),
                "{variable}"
            );
        }
        assert!(workflow.contains(&format!("@anthropic-ai/claude-code@{CLAUDE_CODE}\n")));
    }

    #[test]
    fn the_agent_has_the_runs_token_never_the_secret_one() {
        let mut config = Config::default();
        config.github_actions.token_secret = "BOT_PAT".to_owned();
        let workflow = agent_workflow(&config, "0.1.0");
        assert!(!workflow.contains("BOT_PAT"), "{workflow}");
        assert!(workflow.contains("GH_TOKEN: ${{ github.token }}\n"));
        assert!(workflow.contains("token: ${{ github.token }}\n"));
    }

    #[test]
    fn only_secrets_that_make_sense_are_read() {
        let mut config = Config::default();
        config.agents.env_passthrough =
            "ANTHROPIC_AUTH_TOKEN OPENAI_API_KEY CLAMBAKE_TOKEN DB_PASSWORD IS_SANDBOX".to_owned();
        assert_eq!(
            secrets(&config),
            ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "DB_PASSWORD"]
        );
        config.agents.runtime = AgentRuntimeKind::Simulated;
        assert_eq!(
            secrets(&config),
            ["ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD"]
        );
    }
}
