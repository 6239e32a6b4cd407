//! Deletes the attempt logs and prompts `[logs] keep_days` no longer keeps (the choice is the
//! core's `agents::retention`), sparing the issues still claimed or with an agent running.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;

use crate::app::agents::attempt::{AttemptError, LOGS_DIR, PROMPTS_DIR, open_host};
use crate::app::{AppResult, Workspace};
use crate::core::agents::retention::{AttemptFile, expired};

/// Attempt files counted: what a pruning deleted, or what is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptFiles {
    pub files: usize,
    pub bytes: u64,
}

/// Deletes the files under `.clambake/logs/` and `.clambake/prompts/` last written more than
/// `keep_days` days before `now`, but for those of the issues in `claimed` and of every
/// registered agent's issue.
pub fn prune_attempt_files(
    workspace: &Workspace,
    keep_days: u32,
    now: Timestamp,
    claimed: &BTreeSet<u64>,
) -> AppResult<AttemptFiles> {
    let mut kept = claimed.clone();
    let registered = open_host(workspace)?.list().map_err(AttemptError::from)?;
    kept.extend(registered.iter().map(|agent| agent.issue));
    let mut pruned = AttemptFiles::default();
    for dir in [LOGS_DIR, PROMPTS_DIR] {
        let dir = workspace.state_dir().join(dir);
        let files = listed(&dir)?;
        for file in expired(&files, now, keep_days, &kept) {
            let path = dir.join(&file.name);
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    pruned.files += 1;
                    pruned.bytes += bytes;
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(AttemptError::Io {
                        action: "delete",
                        path,
                        source,
                    }
                    .into());
                }
            }
        }
    }
    Ok(pruned)
}

/// The attempt logs and prompts kept now under `.clambake/`, for `doctor`.
pub fn kept_attempt_files(workspace: &Workspace) -> AppResult<AttemptFiles> {
    let mut kept = AttemptFiles::default();
    for dir in [LOGS_DIR, PROMPTS_DIR] {
        let dir = workspace.state_dir().join(dir);
        for file in listed(&dir)? {
            kept.files += 1;
            kept.bytes += std::fs::metadata(dir.join(&file.name)).map_or(0, |m| m.len());
        }
    }
    Ok(kept)
}

/// The files directly in `dir` with when each was last written; none if it does not exist.
fn listed(dir: &Path) -> Result<Vec<AttemptFile>, AttemptError> {
    let io = |source| AttemptError::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(error)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let (Ok(name), true) = (entry.file_name().into_string(), metadata.is_file()) else {
            continue;
        };
        let Some(modified) = metadata
            .modified()
            .ok()
            .and_then(|at| Timestamp::try_from(at).ok())
        else {
            continue;
        };
        files.push(AttemptFile { name, modified });
    }
    Ok(files)
}
