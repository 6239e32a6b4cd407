//! The `command` runtime: any program, started from an argv template without a shell.

use async_trait::async_trait;

use crate::core::agent_command::{TemplateValues, expand_command};
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};

pub struct CommandRuntime {
    template: String,
    passthrough: String,
}

impl CommandRuntime {
    /// `template` as in `agents.command`; `passthrough` as in `agents.env_passthrough`.
    pub fn new(template: String, passthrough: String) -> Self {
        Self {
            template,
            passthrough,
        }
    }
}

#[async_trait]
impl AgentRuntime for CommandRuntime {
    fn name(&self) -> &'static str {
        "command"
    }

    fn reports_result(&self) -> bool {
        false
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let argv = expand_command(
            &self.template,
            &TemplateValues {
                issue: spec.issue,
                branch: spec.branch.clone(),
                prompt_file: spec.prompt_file.display().to_string(),
                worktree: spec.worktree.display().to_string(),
            },
        )?;
        let env = super::environment(&spec.agent, super::process_environment(), &self.passthrough);
        super::process::spawn(&argv, &env, &spec.worktree, &spec.logs, None)
    }
}
