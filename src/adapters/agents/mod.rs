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
    env.push((
        crate::core::agents::command::AGENT_MARKER.to_owned(),
        agent.to_owned(),
    ));
    env
}
