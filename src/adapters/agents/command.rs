//! The `command` runtime: any program, started from an argv template without a shell.

use async_trait::async_trait;

use crate::adapters::hosts::local::process::ProcessTracking;
use crate::core::agents::command::{ModelKeys, TemplateValues, expand_command};
use crate::ports::agent::{AgentRuntime, AgentSpec, AgentStartError, RunningAgent};

pub struct CommandRuntime {
    template: String,
    passthrough: String,
    tracking: ProcessTracking,
}

impl CommandRuntime {
    /// `template` as in `agents.command`; `passthrough` as in `agents.env_passthrough`.
    pub fn new(template: String, passthrough: String) -> Self {
        Self::with_tracking(template, passthrough, ProcessTracking::default())
    }

    /// As [`Self::new`], finding the attempt's processes as `tracking` says (the marker alone
    /// is what machines without a usable cgroup get).
    pub fn with_tracking(template: String, passthrough: String, tracking: ProcessTracking) -> Self {
        Self {
            template,
            passthrough,
            tracking,
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
        let env = super::environment(
            &spec.agent,
            super::process_environment(),
            &self.passthrough,
            ModelKeys::Named,
        );
        crate::adapters::hosts::local::process::spawn(
            &argv,
            &env,
            &spec.worktree,
            &spec.logs,
            self.tracking,
            None,
        )
    }
}
