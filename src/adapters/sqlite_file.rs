//! Clambake's SQLite files: a file that is there but not a database (truncated to nothing,
//! overwritten) is refused, never opened as a new empty database; and a new database is made
//! whole in a temporary file beside it and moved into place, so that a file at the path is
//! never a half-made one that a concurrent opener would take for a damaged one.

use std::io::Read;
use std::path::Path;

use rusqlite::Connection;

use crate::ports::database::{Damage, DamagedDatabase, DatabaseKind, FileState};

/// The first bytes of every SQLite database file.
const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Looks at the file's first bytes.
pub fn inspect(path: &Path) -> std::io::Result<FileState> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FileState::Missing);
        }
        Err(error) => return Err(error),
    };
    let mut start = Vec::with_capacity(HEADER.len());
    file.by_ref()
        .take(HEADER.len() as u64)
        .read_to_end(&mut start)?;
    Ok(if start.is_empty() {
        FileState::Damaged(Damage::Empty)
    } else if start != HEADER {
        FileState::Damaged(Damage::NotSqlite)
    } else {
        FileState::Database
    })
}

/// Why a database could not be opened or made.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Damaged(#[from] DamagedDatabase),
    #[error("{0}")]
    Other(String),
}

/// Refuses a damaged file at `path`; creates a missing one with `prepare` (its schema) when
/// `create`, else leaves it missing for the caller to report. Returns whether it was created.
pub fn ensure(
    path: &Path,
    kind: DatabaseKind,
    create: bool,
    prepare: impl FnOnce(&mut Connection) -> Result<(), String>,
) -> Result<bool, OpenError> {
    let other = |e: &dyn std::fmt::Display| OpenError::Other(e.to_string());
    match inspect(path).map_err(|e| other(&e))? {
        FileState::Database => Ok(false),
        FileState::Damaged(damage) => Err(DamagedDatabase {
            path: path.to_path_buf(),
            kind,
            damage,
        }
        .into()),
        FileState::Missing if !create => Ok(false),
        FileState::Missing => {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| other(&e))?;
            let staged = tempfile::Builder::new()
                .prefix(".new-")
                .tempfile_in(dir)
                .map_err(|e| other(&e))?;
            {
                let mut conn = Connection::open(staged.path()).map_err(|e| other(&e))?;
                prepare(&mut conn).map_err(OpenError::Other)?;
                // Closing checkpoints the write-ahead log into the file.
                conn.close().map_err(|(_, e)| other(&e))?;
            }
            match staged.persist_noclobber(path) {
                Ok(_) => Ok(true),
                // Another process made it first: theirs is as good as ours.
                Err(error) if path.exists() => {
                    drop(error);
                    Ok(false)
                }
                Err(error) => Err(other(&error.error)),
            }
        }
    }
}
