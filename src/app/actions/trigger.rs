//! `actions trigger`: a run of the bundling workflow, dispatched on the default branch.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{new_dispatch_key, require_github};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{Config, ForgeBackend};
use crate::core::workflows::INPUT_FORCE_BUNDLE;
use crate::ports::Forge;
use crate::ports::actions::{Actions, Dispatch, RunId, WorkflowRun};
use crate::ports::forge::ForgeResult;

/// The run a trigger started.
#[derive(Debug, Clone, Serialize)]
pub struct Triggered {
    pub workflow: String,
    pub force: bool,
    pub run: WorkflowRun,
}

/// Dispatches the bundling workflow (`--force` as its `force_bundle` input) and reads the run
/// back. Refused unless the forge is GitHub and `github_actions.enabled`.
pub async fn trigger(workspace: &Workspace, force: bool) -> AppResult<Triggered> {
    let config = workspace.load_config()?.config;
    require_enabled(&config)?;
    let actions = workspace.open_actions().await?;
    let forge = workspace.open_forge(ForgeBackend::Github).await?;
    let id = dispatch_bundling(actions.as_ref(), forge.as_ref(), &config, force).await?;
    Ok(Triggered {
        workflow: config.github_actions.bundling_workflow,
        force,
        run: actions.run(id).await?,
    })
}

/// Refuses when Actions cannot or may not run: another forge, or switched off.
pub fn require_enabled(config: &Config) -> AppResult<()> {
    require_github(config)?;
    if config.github_actions.enabled {
        Ok(())
    } else {
        Err(AppError::ActionsDisabled)
    }
}

/// Starts one run of the bundling workflow on the default branch.
pub async fn dispatch_bundling(
    actions: &dyn Actions,
    forge: &dyn Forge,
    config: &Config,
    force: bool,
) -> ForgeResult<RunId> {
    let dispatch = Dispatch {
        workflow: config.github_actions.bundling_workflow.clone(),
        git_ref: forge.default_branch().await?,
        inputs: BTreeMap::from([(INPUT_FORCE_BUNDLE.to_owned(), force.to_string())]),
        key: new_dispatch_key(),
    };
    actions.dispatch(&dispatch).await
}
