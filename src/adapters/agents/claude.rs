//! The `claude` runtime: Claude Code in print mode with stream-json output.

use async_trait::async_trait;

use crate::core::agent_command::claude_argv;
use crate::core::config::AgentsConfig;
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};

pub struct ClaudeRuntime {
    config: AgentsConfig,
}

impl ClaudeRuntime {
    pub fn new(config: AgentsConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl AgentRuntime for ClaudeRuntime {
    fn name(&self) -> &'static str {
        "claude"
    }

    fn reports_result(&self) -> bool {
        true
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let argv = claude_argv(&self.config, &spec.prompt)?;
        let env = super::environment(&spec.agent, &self.config.env_passthrough);
        super::process::spawn(&argv, &env, &spec.worktree)
    }
}
