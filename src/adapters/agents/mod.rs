//! Agent runtimes: Claude Code, Codex, any command, and the built-in simulated agent, each
//! started on the local agent host.

pub mod claude;
pub mod codex;
pub mod command;
pub mod locate;
pub mod simulated;

use crate::core::agents::command::{ModelKeys, agent_environment};
use crate::core::config::{AgentRuntimeKind, AgentsConfig};
use crate::ports::agent::{AgentRuntime, AgentStartError};

pub use claude::ClaudeRuntime;
pub use codex::CodexRuntime;
pub use command::CommandRuntime;
pub use simulated::SimulatedRuntime;

/// The runtime the configuration asks for. `real_processes = false` always simulates.
pub fn runtime_for(
    kind: AgentRuntimeKind,
    config: &AgentsConfig,
) -> Result<Box<dyn AgentRuntime>, AgentStartError> {
    if !config.real_processes {
        return Ok(Box::new(SimulatedRuntime));
    }
    match kind {
        AgentRuntimeKind::Claude => Ok(Box::new(ClaudeRuntime::new(config.clone()))),
        AgentRuntimeKind::Command => Ok(Box::new(CommandRuntime::new(
            config.command.clone(),
            config.env_passthrough.clone(),
        ))),
        AgentRuntimeKind::Simulated => Ok(Box::new(SimulatedRuntime)),
        AgentRuntimeKind::Codex => Ok(Box::new(CodexRuntime::new(config.clone()))),
    }
}

/// The identity on an agent's own commits, unless the pass-through provides one.
pub fn git_identity(agent: &str) -> [(String, String); 4] {
    let email = format!("{agent}@clambake.localhost");
    [
        ("GIT_AUTHOR_NAME", agent.to_owned()),
        ("GIT_AUTHOR_EMAIL", email.clone()),
        ("GIT_COMMITTER_NAME", agent.to_owned()),
        ("GIT_COMMITTER_EMAIL", email),
    ]
    .map(|(k, v)| (k.to_owned(), v))
}

/// This process's variables that are valid UTF-8: what agents inherit from by default.
pub(crate) fn process_environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The scrubbed environment of an agent process: `inherited` filtered by
/// [`agent_environment`], plus a git identity naming the agent.
fn environment(
    agent: &str,
    inherited: impl IntoIterator<Item = (String, String)>,
    passthrough: &str,
    keys: ModelKeys,
) -> Vec<(String, String)> {
    let mut env = agent_environment(inherited, passthrough, keys);
    for (name, value) in git_identity(agent) {
        if !env.iter().any(|(k, _)| *k == name) {
            env.push((name, value));
        }
    }
    without_background_maintenance(&mut env);
    env.push((
        crate::core::agents::command::AGENT_MARKER.to_owned(),
        agent.to_owned(),
    ));
    env
}

/// Turns off git's automatic maintenance for the agent's git commands, through git's own
/// `GIT_CONFIG_COUNT` variables (after any the environment already sets): `git commit` would
/// start `git maintenance run --auto --detach`, a process that outlives the agent and would be
/// reported, and stopped, as one it left running.
fn without_background_maintenance(env: &mut Vec<(String, String)>) {
    let count = env
        .iter()
        .position(|(name, _)| name == "GIT_CONFIG_COUNT")
        .map(|at| env.remove(at).1.parse::<u32>().unwrap_or(0))
        .unwrap_or(0);
    env.push((
        format!("GIT_CONFIG_KEY_{count}"),
        "maintenance.auto".to_owned(),
    ));
    env.push((format!("GIT_CONFIG_VALUE_{count}"), "false".to_owned()));
    env.push(("GIT_CONFIG_COUNT".to_owned(), (count + 1).to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn agents_run_git_without_background_maintenance_after_any_config_they_inherit() {
        let mut env = Vec::new();
        without_background_maintenance(&mut env);
        assert_eq!(value(&env, "GIT_CONFIG_COUNT"), Some("1"));
        assert_eq!(value(&env, "GIT_CONFIG_KEY_0"), Some("maintenance.auto"));
        assert_eq!(value(&env, "GIT_CONFIG_VALUE_0"), Some("false"));

        let mut env = vec![
            ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
            ("GIT_CONFIG_KEY_0".to_owned(), "core.editor".to_owned()),
            ("GIT_CONFIG_VALUE_0".to_owned(), "true".to_owned()),
        ];
        without_background_maintenance(&mut env);
        assert_eq!(value(&env, "GIT_CONFIG_COUNT"), Some("2"));
        assert_eq!(value(&env, "GIT_CONFIG_KEY_0"), Some("core.editor"));
        assert_eq!(value(&env, "GIT_CONFIG_KEY_1"), Some("maintenance.auto"));
        assert_eq!(
            env.iter().filter(|(k, _)| k == "GIT_CONFIG_COUNT").count(),
            1
        );
    }
}
