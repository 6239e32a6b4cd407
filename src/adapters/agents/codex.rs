//! The `codex` runtime: OpenAI's Codex CLI, `codex exec --json`, unattended in the worktree,
//! reading its prompt from standard input.

use async_trait::async_trait;

use crate::core::agents::command::{ModelKeys, OPENAI_KEYS, codex_argv};
use crate::core::config::AgentsConfig;
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};

pub struct CodexRuntime {
    config: AgentsConfig,
    /// The variables the agent's scrubbed environment is filtered from.
    inherited: Vec<(String, String)>,
}

impl CodexRuntime {
    /// Agents inherit from this process's environment (through the allowlist and pass-through).
    pub fn new(config: AgentsConfig) -> Self {
        Self::with_environment(config, super::process_environment())
    }

    /// Agents inherit from `inherited` instead: each repository (or test) can give Codex its
    /// own `CODEX_HOME`, and with it its own model provider.
    pub fn with_environment(config: AgentsConfig, inherited: Vec<(String, String)>) -> Self {
        Self { config, inherited }
    }
}

#[async_trait]
impl AgentRuntime for CodexRuntime {
    fn name(&self) -> &'static str {
        "codex"
    }

    /// `turn.completed` / `turn.failed` are read as the result.
    fn reports_result(&self) -> bool {
        true
    }

    /// `exec resume <thread>`.
    fn resumes_sessions(&self) -> bool {
        true
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let argv = codex_argv(
            &self.config,
            &spec.worktree.display().to_string(),
            spec.resume_session.as_deref(),
        )?;
        let env = super::environment(
            &spec.agent,
            self.inherited.iter().cloned(),
            &self.config.env_passthrough,
            ModelKeys::Own(OPENAI_KEYS),
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
