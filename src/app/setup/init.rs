//! `init`: the configuration file, the state directory, its ignore rule, and the label set.

use serde::Serialize;
use serde_json::Value;

use crate::app::workspace::{STATE_DIR, write_atomically};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{self, ForgeBackend};
use crate::core::queue::labels::label_set;
use crate::ports::Forge;
use crate::ports::forge::{Label, LabelChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub root: String,
    pub config: Change,
    pub state_dir: Change,
    pub gitignore: Change,
    pub forge: Change,
    pub labels: Vec<(String, LabelChange)>,
}

impl InitReport {
    /// Whether this run changed anything at all.
    pub fn changed_anything(&self) -> bool {
        [self.config, self.state_dir, self.gitignore, self.forge]
            .iter()
            .any(|c| *c != Change::Unchanged)
            || self
                .labels
                .iter()
                .any(|(_, c)| *c != LabelChange::Unchanged)
    }
}

/// Sets the repository up; running it again changes nothing.
pub async fn init(
    workspace: &Workspace,
    backend: ForgeBackend,
    agents: Option<u32>,
) -> AppResult<InitReport> {
    if backend == ForgeBackend::Github {
        return Err(AppError::GithubNotAvailable);
    }
    workspace.require_commits().await?;
    // A state directory without its forge, beside agent branches: the forge was lost.
    if workspace.state_dir().is_dir() && !workspace.forge_database().exists() {
        workspace.refuse_lost_forge().await?;
    }
    let config_change = write_config(workspace, backend, agents)?;
    // The file may ask for a feature not built yet: that refuses here, before any state exists.
    let loaded = workspace.load_config()?;

    let state_dir = workspace.state_dir();
    let state_dir_change = if state_dir.is_dir() {
        Change::Unchanged
    } else {
        std::fs::create_dir_all(&state_dir).map_err(|source| AppError::Io {
            action: "create",
            path: state_dir.clone(),
            source,
        })?;
        Change::Created
    };
    let gitignore = ignore_state_dir(workspace)?;

    let forge_existed = workspace.forge_database().exists();
    let forge = workspace
        .open_local_forge(crate::app::compose::clock())
        .await?;
    let mut labels = Vec::new();
    for spec in label_set(loaded.config.agents.max_concurrent) {
        let label = Label {
            name: spec.name.clone(),
            color: spec.color.to_owned(),
            description: spec.description,
        };
        labels.push((spec.name, forge.ensure_label(&label).await?));
    }
    Ok(InitReport {
        root: workspace.root.display().to_string(),
        config: config_change,
        state_dir: state_dir_change,
        gitignore,
        forge: if forge_existed {
            Change::Unchanged
        } else {
            Change::Created
        },
        labels,
    })
}

/// Writes the commented template, or, for an existing file, only the agent count asked for.
fn write_config(
    workspace: &Workspace,
    backend: ForgeBackend,
    agents: Option<u32>,
) -> AppResult<Change> {
    let path = workspace.config_path().display().to_string();
    match workspace.read_config_text()? {
        None => {
            let mut overrides = vec![("forge.backend", Value::from(backend.to_string()))];
            if let Some(agents) = agents {
                overrides.push(("agents.max_concurrent", Value::from(agents)));
            }
            let text = config::template(&overrides);
            // Validate what we write, with the same rules as every later read.
            config::load(&path, &text, std::iter::empty())?;
            workspace.write_config_text(&text)?;
            Ok(Change::Created)
        }
        Some(text) => {
            let mut new_text = text.clone();
            if let Some(agents) = agents {
                let current = config::load(&path, &text, std::iter::empty())?;
                if current.config.agents.max_concurrent != agents {
                    new_text = config::set_in_text(
                        &path,
                        &text,
                        "agents.max_concurrent",
                        &agents.to_string(),
                    )?;
                }
            }
            if new_text == text {
                Ok(Change::Unchanged)
            } else {
                workspace.write_config_text(&new_text)?;
                Ok(Change::Updated)
            }
        }
    }
}

/// Adds `/.clambake/` to the root `.gitignore` unless a line already ignores it.
fn ignore_state_dir(workspace: &Workspace) -> AppResult<Change> {
    let path = workspace.root.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(AppError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let text = existing.clone().unwrap_or_default();
    let already = text.lines().map(str::trim).any(|line| {
        let line = line.trim_start_matches('/').trim_end_matches('/');
        line == STATE_DIR
    });
    if already {
        return Ok(Change::Unchanged);
    }
    let mut new_text = text;
    if !new_text.is_empty() && !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push_str(&format!(
        "# Clambake's local state: forge database, worktrees, logs\n/{STATE_DIR}/\n"
    ));
    write_atomically(&path, &new_text)?;
    Ok(if existing.is_some() {
        Change::Updated
    } else {
        Change::Created
    })
}
