//! `rollback`: the switches that turn a new capability off (or back on) without a release:
//! bundling trains, real agent processes, the lifecycle state machine.

use serde::Serialize;

use crate::app::{AppError, AppResult, Workspace};
use crate::core::config;

/// A capability that can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Off: every landed branch gets a pull request of its own.
    Bundling,
    /// Off: the built-in simulated agent works instead of Claude Code or a command.
    RealAgents,
    /// Off: labels alone manage the agents; the journal is neither read nor written.
    StateMachine,
}

impl Feature {
    /// The configuration key the switch sets.
    pub fn key(self) -> &'static str {
        match self {
            Self::Bundling => "bundling.enabled",
            Self::RealAgents => "agents.real_processes",
            Self::StateMachine => "state_machine.enabled",
        }
    }
}

/// What a switch did.
#[derive(Debug, Clone, Serialize)]
pub struct Switched {
    pub feature: Feature,
    pub key: &'static str,
    pub enabled: bool,
    /// False when the key already had that value.
    pub changed: bool,
}

/// Sets `feature`'s key in `clambake.toml` to `enabled`, keeping the file's comments.
pub fn switch(workspace: &Workspace, feature: Feature, enabled: bool) -> AppResult<Switched> {
    let text = workspace
        .read_config_text()?
        .ok_or_else(|| AppError::NotInitialized {
            root: workspace.root.clone(),
        })?;
    let path = workspace.config_path().display().to_string();
    let new_text = config::set_in_text(&path, &text, feature.key(), &enabled.to_string())?;
    let changed = new_text != text;
    if changed {
        workspace.write_config_text(&new_text)?;
    }
    Ok(Switched {
        feature,
        key: feature.key(),
        enabled,
        changed,
    })
}
