//! Which executable the configured agent runtime starts, the setting that names it, how to
//! install it, and the variables that can carry the key its model needs.

use crate::agents::command::{
    ANTHROPIC_KEYS, AgentCommandError, OPENAI_KEYS, expand_command_program,
};
use crate::config::{AgentRuntimeKind, AgentsConfig};

/// The agent CLI a runtime starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCli {
    /// The runtime's config word: `claude`, `codex`, `command`.
    pub runtime: &'static str,
    /// As configured: a name looked up on PATH, or a path.
    pub program: String,
    /// The setting that names it.
    pub setting: &'static str,
    /// How to get it, for an error's advice.
    pub install: &'static str,
    /// Variables any one of which gives the CLI its model key (empty: the runtime needs none
    /// that Clambake knows of).
    pub key_variables: &'static [&'static str],
}

impl AgentCli {
    /// What to do when the CLI cannot be found or started.
    pub fn advice(&self) -> String {
        format!(
            "{}, or set {} to its path (`clambake config set {} PATH`); `clambake doctor` checks it",
            self.install, self.setting, self.setting
        )
    }
}

/// The CLI the configuration starts, or `None` for the simulated agent (which runs in
/// process, as it also does when `real_processes` is false).
pub fn agent_cli(
    kind: AgentRuntimeKind,
    config: &AgentsConfig,
) -> Result<Option<AgentCli>, AgentCommandError> {
    if !config.real_processes {
        return Ok(None);
    }
    Ok(Some(match kind {
        AgentRuntimeKind::Claude => AgentCli {
            runtime: "claude",
            program: config.claude_code_path.clone(),
            setting: "agents.claude_code_path",
            install: "install Claude Code (`npm install -g @anthropic-ai/claude-code`)",
            key_variables: ANTHROPIC_KEYS,
        },
        AgentRuntimeKind::Codex => AgentCli {
            runtime: "codex",
            program: config.codex_path.clone(),
            setting: "agents.codex_path",
            install: "install Codex (`npm install -g @openai/codex`)",
            key_variables: OPENAI_KEYS,
        },
        AgentRuntimeKind::Command => AgentCli {
            runtime: "command",
            program: expand_command_program(&config.command)?,
            setting: "agents.command",
            install: "install the program agents.command starts",
            key_variables: &[],
        },
        AgentRuntimeKind::Simulated => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_runtime_names_its_program_setting_and_keys() {
        let config = AgentsConfig {
            claude_code_path: "/opt/claude".to_owned(),
            command: "'my agent' --issue {issue}".to_owned(),
            ..AgentsConfig::default()
        };
        let claude = agent_cli(AgentRuntimeKind::Claude, &config)
            .unwrap()
            .unwrap();
        assert_eq!(claude.program, "/opt/claude");
        assert_eq!(claude.setting, "agents.claude_code_path");
        assert!(claude.key_variables.contains(&"ANTHROPIC_API_KEY"));
        assert!(claude.advice().contains("agents.claude_code_path"));
        let codex = agent_cli(AgentRuntimeKind::Codex, &config)
            .unwrap()
            .unwrap();
        assert_eq!(codex.program, "codex");
        assert_eq!(codex.key_variables, ["OPENAI_API_KEY", "CODEX_API_KEY"]);
        let command = agent_cli(AgentRuntimeKind::Command, &config)
            .unwrap()
            .unwrap();
        assert_eq!(command.program, "my agent");
        assert_eq!(agent_cli(AgentRuntimeKind::Simulated, &config), Ok(None));
        let rolled_back = AgentsConfig {
            real_processes: false,
            ..config
        };
        assert_eq!(agent_cli(AgentRuntimeKind::Claude, &rolled_back), Ok(None));
    }

    #[test]
    fn an_empty_command_is_refused() {
        assert_eq!(
            agent_cli(AgentRuntimeKind::Command, &AgentsConfig::default()),
            Err(AgentCommandError::EmptyCommand)
        );
    }
}
