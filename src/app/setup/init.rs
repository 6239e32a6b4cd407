//! `init`: the configuration file, the state directory, its ignore rule, and the label set, on
//! the local forge or (`github`) on GitHub.

use serde::Serialize;
use serde_json::Value;

use crate::app::setup::workflows::{WorkflowChange, Written};
use crate::app::workspace::{STATE_DIR, write_atomically};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{self, ForgeBackend};
use crate::core::queue::labels::label_set;
use crate::core::queue::slots::slot_count;
use crate::ports::Forge;
use crate::ports::forge::{Label, LabelChange};

mod github;

pub use github::{GithubReport, GithubTarget, init_github};

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
    /// With the GitHub backend: the repository and who the token is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubReport>,
    /// With the GitHub backend: Clambake's GitHub Actions workflows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<Written>,
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
            || self
                .workflows
                .iter()
                .any(|w| matches!(w.change, WorkflowChange::Created | WorkflowChange::Updated))
    }
}

/// Sets the repository up; running it again changes nothing. On GitHub, the repository is the
/// one origin's URL names (see [`init_github`] to name another).
pub async fn init(
    workspace: &Workspace,
    backend: ForgeBackend,
    agents: Option<u32>,
) -> AppResult<InitReport> {
    if backend == ForgeBackend::Github {
        return init_github(workspace, agents, &GithubTarget::default()).await;
    }
    workspace.require_commits().await?;
    // A state directory without its forge, beside agent branches: the forge was lost.
    if workspace.state_dir().is_dir() && !workspace.forge_database().exists() {
        workspace.refuse_lost_forge().await?;
    }
    let config_change = write_config(workspace, &[("forge.backend", "local".into())], agents)?;
    let (loaded, state_dir_change, gitignore) = prepare_state(workspace)?;

    let forge_existed = workspace.forge_database().exists();
    let forge = workspace
        .open_local_forge(crate::app::compose::clock())
        .await?;
    let labels = ensure_labels(&forge, slot_count(&loaded.config)).await?;
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
        github: None,
        workflows: Vec::new(),
    })
}

/// Loads the configuration just written (a feature not built yet refuses here, before any
/// state exists), then makes the state directory and its ignore rule.
fn prepare_state(workspace: &Workspace) -> AppResult<(config::LoadedConfig, Change, Change)> {
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
    Ok((loaded, state_dir_change, gitignore))
}

/// Creates (or corrects) every route and agent label on `forge`.
async fn ensure_labels(forge: &dyn Forge, agents: u32) -> AppResult<Vec<(String, LabelChange)>> {
    let mut labels = Vec::new();
    for spec in label_set(agents) {
        let label = Label {
            name: spec.name.clone(),
            color: spec.color.to_owned(),
            description: spec.description,
        };
        labels.push((spec.name, forge.ensure_label(&label).await?));
    }
    Ok(labels)
}

/// Writes the commented template with `settings` (and the agent count asked for), or sets in
/// an existing file those that differ but `forge.backend = "local"`: an existing file keeps
/// its backend unless GitHub is asked for.
fn write_config(
    workspace: &Workspace,
    settings: &[(&str, Value)],
    agents: Option<u32>,
) -> AppResult<Change> {
    let path = workspace.config_path().display().to_string();
    let mut settings = settings.to_vec();
    if let Some(agents) = agents {
        settings.push(("agents.max_concurrent", Value::from(agents)));
    }
    match workspace.read_config_text()? {
        None => {
            let text = config::template(&settings);
            // Validate what we write, with the same rules as every later read.
            config::load(&path, &text, std::iter::empty())?;
            workspace.write_config_text(&text)?;
            Ok(Change::Created)
        }
        Some(text) => {
            // A file that does not load yet (the GitHub backend without its repository) is
            // mended key by key.
            let current = config::load(&path, &text, std::iter::empty()).ok();
            let mut new_text = text.clone();
            for (key, value) in settings {
                if key == "forge.backend" && value == "local" {
                    continue;
                }
                let present = current
                    .as_ref()
                    .and_then(|c| c.values.get(key))
                    .map(|(v, _)| v);
                if present != Some(&value) {
                    let raw = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    new_text = config::set_in_text(&path, &new_text, key, &raw)?;
                }
            }
            if new_text == text {
                Ok(Change::Unchanged)
            } else {
                // Validate the whole, as every later read will.
                config::load(&path, &new_text, std::iter::empty())?;
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
