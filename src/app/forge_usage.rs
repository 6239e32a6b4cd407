//! What the run loop has asked of the forge, kept in `.clambake/forge-usage.json` after each
//! pass for `clambake status` to show: requests charged to the rate limit and free ones, and
//! the rate limit itself. A forge that counts nothing (the local one) leaves no file.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult, Workspace};
use crate::ports::forge::ForgeUsage;

/// The file, under `.clambake/`.
pub const FORGE_USAGE_FILE: &str = "forge-usage.json";

/// A run's forge usage as of `written_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub written_at: Timestamp,
    #[serde(flatten)]
    pub usage: ForgeUsage,
}

/// Writes `usage` as of `now`, in one rename so that a reader never sees half of it; a forge
/// that counts nothing writes nothing. A failure is logged: counting must not stop the loop.
pub fn record(workspace: &Workspace, usage: ForgeUsage, now: Timestamp) {
    if usage == ForgeUsage::default() {
        return;
    }
    let record = UsageRecord {
        written_at: now,
        usage,
    };
    let text = serde_json::to_string_pretty(&record).expect("forge usage serialises");
    let path = workspace.state_dir().join(FORGE_USAGE_FILE);
    if let Err(error) = write_atomically(&path, &text) {
        tracing::warn!(%error, "could not record the forge's usage");
    }
}

/// The usage the last run recorded, if any.
pub fn read(workspace: &Workspace) -> AppResult<Option<UsageRecord>> {
    let path = workspace.state_dir().join(FORGE_USAGE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AppError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    match serde_json::from_str(&text) {
        Ok(record) => Ok(Some(record)),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "the recorded forge usage cannot be read; not shown");
            Ok(None)
        }
    }
}
