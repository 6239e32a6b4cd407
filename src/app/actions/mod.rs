//! Clambake's GitHub Actions from the command line: dispatch the bundling workflow, list the
//! recent runs of Clambake's workflows, read a run's logs, cancel a run.

pub mod cancel;
pub mod logs;
pub mod status;
pub mod trigger;

use crate::app::{AppError, AppResult};
use crate::core::config::{Config, ForgeBackend};

/// A new dispatch key (see [`crate::ports::actions::Dispatch::key`]): unique to one dispatch,
/// and one word in a run's name.
pub fn new_dispatch_key() -> String {
    format!("clambake-{:016x}", rand::random::<u64>())
}

/// Refuses a repository whose forge is not GitHub: only GitHub has Actions.
pub fn require_github(config: &Config) -> AppResult<()> {
    if config.forge.backend == ForgeBackend::Github {
        Ok(())
    } else {
        Err(AppError::ActionsNeedGithub {
            backend: config.forge.backend.to_string(),
        })
    }
}

/// Clambake's workflow files under `.github/workflows/`: bundling, then agents.
pub fn clambake_workflows(config: &Config) -> [&str; 2] {
    [
        config.github_actions.bundling_workflow.as_str(),
        config.github_actions.agent_workflow.as_str(),
    ]
}

/// The file name of a workflow's path, `.github/workflows/<file>`.
pub fn workflow_file(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_read_as_one_word() {
        let (a, b) = (new_dispatch_key(), new_dispatch_key());
        assert_ne!(a, b);
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{a}"
        );
        assert_eq!(
            workflow_file(".github/workflows/clambake-agent.yml"),
            "clambake-agent.yml"
        );
    }
}
