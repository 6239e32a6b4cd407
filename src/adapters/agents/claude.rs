//! The `claude` runtime: Claude Code in print mode with stream-json output, reading its prompt
//! from standard input.

use async_trait::async_trait;

use crate::core::agents::command::{ANTHROPIC_KEYS, ModelKeys, claude_argv};
use crate::core::config::AgentsConfig;
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};

pub struct ClaudeRuntime {
    config: AgentsConfig,
    /// The variables the agent's scrubbed environment is filtered from.
    inherited: Vec<(String, String)>,
}

impl ClaudeRuntime {
    /// Agents inherit from this process's environment (through the allowlist and pass-through).
    pub fn new(config: AgentsConfig) -> Self {
        Self::with_environment(config, super::process_environment())
    }

    /// Agents inherit from `inherited` instead: an orchestrator serving several repositories
    /// (or a test with its own model server) gives each its own `ANTHROPIC_*` settings.
    pub fn with_environment(config: AgentsConfig, inherited: Vec<(String, String)>) -> Self {
        Self { config, inherited }
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

    /// `--resume <session>`.
    fn resumes_sessions(&self) -> bool {
        true
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let budget = spec.max_budget_usd.map(|usd| usd.get());
        let argv = claude_argv(&self.config, spec.resume_session.as_deref(), budget)?;
        let env = super::environment(
            &spec.agent,
            self.inherited.iter().cloned(),
            &self.config.env_passthrough,
            ModelKeys::Own(ANTHROPIC_KEYS),
        );
        crate::adapters::hosts::local::process::spawn(
            &argv,
            &env,
            &spec.worktree,
            &spec.logs,
            crate::adapters::hosts::local::process::ProcessTracking::default(),
            Some(&spec.prompt_file),
        )
    }
}
