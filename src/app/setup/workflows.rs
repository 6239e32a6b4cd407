//! Clambake's GitHub Actions workflows in the repository: written by `actions install` and
//! `init --backend github`, kept in step with `clambake.toml` by `config set`, compared with it
//! by `doctor`. `run` never writes them: a hand edit is overwritten only by a command that says
//! so, and a file at their path that Clambake did not write is never overwritten.
//!
//! They are made from the file alone: `CLAMBAKE_*` variables of this shell do not reach the
//! runners, so they do not shape what runs there.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::health::{Check, Health};
use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{self, AgentExecutor, BundlingExecutor, Config};
use crate::core::workflows::{WORKFLOWS_DIR, agent_workflow, bundling_workflow, is_clambakes};

/// The version of Clambake the workflows install: this binary's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One of Clambake's workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workflow {
    Bundling,
    Agent,
}

impl Workflow {
    /// Its path in the repository, as `config` names its file.
    pub fn path(self, config: &Config) -> PathBuf {
        let file = match self {
            Self::Bundling => &config.github_actions.bundling_workflow,
            Self::Agent => &config.github_actions.agent_workflow,
        };
        Path::new(WORKFLOWS_DIR).join(file)
    }

    /// What it says for `config`.
    pub fn text(self, config: &Config) -> String {
        match self {
            Self::Bundling => bundling_workflow(config, VERSION),
            Self::Agent => agent_workflow(config, VERSION),
        }
    }
}

/// The workflows `config` needs: the bundling one always, the agent one when attempts may run
/// on Actions runners.
pub fn wanted(config: &Config) -> Vec<Workflow> {
    let agents =
        config.agents.executor == AgentExecutor::Actions || config.agents.actions_slots > 0;
    let mut workflows = vec![Workflow::Bundling];
    if agents {
        workflows.push(Workflow::Agent);
    }
    workflows
}

/// What writing a workflow did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowChange {
    Created,
    Updated,
    Unchanged,
    /// A file Clambake did not write is at its path: left as it is.
    NotClambakes,
}

/// A workflow file and what was done to it.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub workflow: Workflow,
    /// Relative to the repository's root.
    pub path: String,
    pub change: WorkflowChange,
}

/// The configuration as `clambake.toml` alone says it.
pub fn file_config(workspace: &Workspace) -> AppResult<Config> {
    let text = workspace
        .read_config_text()?
        .ok_or_else(|| AppError::NotInitialized {
            root: workspace.root.clone(),
        })?;
    let path = workspace.config_path().display().to_string();
    Ok(config::load(&path, &text, std::iter::empty())?.config)
}

/// Writes `workflows` as `clambake.toml` says them, creating `.github/workflows/` if need be.
pub fn install(workspace: &Workspace, workflows: &[Workflow]) -> AppResult<Vec<Written>> {
    let config = file_config(workspace)?;
    workflows
        .iter()
        .map(|workflow| write(workspace, &config, *workflow))
        .collect()
}

/// After `clambake.toml` changed from `before` to `after`: rewrites each installed workflow of
/// Clambake's whose text the change alters. One the change does not alter is left as it is,
/// hand edits and all; so is everything when either text does not load.
pub fn follow_config(workspace: &Workspace, before: &str, after: &str) -> AppResult<Vec<Written>> {
    let path = workspace.config_path().display().to_string();
    let load = |text: &str| config::load(&path, text, std::iter::empty()).ok();
    let (Some(before), Some(after)) = (load(before), load(after)) else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    for workflow in [Workflow::Bundling, Workflow::Agent] {
        let installed = read(&workspace.root.join(workflow.path(&after.config)))?;
        let ours = installed.as_deref().is_some_and(is_clambakes);
        if ours && workflow.text(&before.config) != workflow.text(&after.config) {
            written.push(write(workspace, &after.config, workflow)?);
        }
    }
    Ok(written)
}

/// `doctor`'s checks: each installed workflow as `clambake.toml` says it, each that GitHub
/// Actions needs present, and where installed ones get Clambake from.
pub fn checks(workspace: &Workspace) -> Vec<Check> {
    let config = match file_config(workspace) {
        Ok(config) => config,
        Err(_) => return Vec::new(),
    };
    let mut checks = Vec::new();
    let mut installed = false;
    for workflow in [Workflow::Bundling, Workflow::Agent] {
        let relative = workflow.path(&config);
        let shown = relative.display().to_string();
        let wanted_here = config.github_actions.enabled
            && match workflow {
                Workflow::Bundling => config.bundling.executor == BundlingExecutor::Actions,
                Workflow::Agent => wanted(&config).contains(&Workflow::Agent),
            };
        let found = read(&workspace.root.join(&relative));
        installed |= matches!(&found, Ok(Some(text)) if is_clambakes(text));
        checks.push(match found {
            Err(error) => Check::problem(
                "workflow",
                Health::Warn,
                error.to_string(),
                "check the file's permissions",
            ),
            Ok(None) if wanted_here => Check::problem(
                "workflow",
                Health::Warn,
                format!("{shown} is missing, and clambake.toml runs on GitHub Actions"),
                install_fix(workflow),
            ),
            Ok(None) => continue,
            Ok(Some(text)) if !is_clambakes(&text) => Check::problem(
                "workflow",
                Health::Warn,
                format!("{shown} was not written by Clambake"),
                "move it away, or name another file in github_actions.bundling_workflow or \
                 github_actions.agent_workflow, then `clambake actions install`",
            ),
            Ok(Some(text)) if text != workflow.text(&config) => Check::problem(
                "workflow",
                Health::Warn,
                format!("{shown} differs from what clambake.toml makes of it"),
                format!(
                    "{} (a hand edit there is lost: change clambake.toml instead)",
                    install_fix(workflow)
                ),
            ),
            Ok(Some(_)) => Check::ok("workflow", format!("{shown} as clambake.toml says")),
        });
    }
    if installed {
        checks.push(install_source_check(&config));
    }
    checks
}

/// Whether the workflows can install Clambake: from the crates registry only once this version
/// is published there, which it is not yet.
fn install_source_check(config: &Config) -> Check {
    if config.github_actions.clambake_git.is_empty() {
        Check::problem(
            "workflow install",
            Health::Warn,
            format!(
                "the workflows install clambake {} from the crates registry, where Clambake is \
                 not published yet",
                env!("CARGO_PKG_VERSION")
            ),
            format!(
                "set github_actions.clambake_git to a git repository of Clambake that has the tag \
                 v{}, then commit and push the rewritten workflows",
                env!("CARGO_PKG_VERSION")
            ),
        )
    } else {
        Check::ok(
            "workflow install",
            format!(
                "the workflows install Clambake from {}",
                config.github_actions.clambake_git
            ),
        )
    }
}

/// How to write `workflow`.
fn install_fix(workflow: Workflow) -> String {
    let flag = match workflow {
        Workflow::Bundling => "",
        Workflow::Agent => " --agent-workflow",
    };
    format!("run `clambake actions install{flag}`, then commit and push it")
}

/// Writes `workflow` unless a file Clambake did not write is at its path.
fn write(workspace: &Workspace, config: &Config, workflow: Workflow) -> AppResult<Written> {
    let relative = workflow.path(config);
    let path = workspace.root.join(&relative);
    let text = workflow.text(config);
    let change = match read(&path)? {
        Some(existing) if !is_clambakes(&existing) => WorkflowChange::NotClambakes,
        Some(existing) if existing == text => WorkflowChange::Unchanged,
        existing => {
            let dir = path.parent().expect("a workflow's path has a directory");
            std::fs::create_dir_all(dir).map_err(|source| AppError::Io {
                action: "create",
                path: dir.to_path_buf(),
                source,
            })?;
            write_atomically(&path, &text)?;
            if existing.is_some() {
                WorkflowChange::Updated
            } else {
                WorkflowChange::Created
            }
        }
    };
    Ok(Written {
        workflow,
        path: relative.display().to_string(),
        change,
    })
}

/// The file's text, or `None` if there is none.
fn read(path: &Path) -> AppResult<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AppError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}
