//! One `clambake run` per repository per machine: an exclusive lock on `.clambake/run.lock`,
//! held for the life of the process and released by the OS even if the process is killed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use miette::Diagnostic;

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "run.lock";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum LockError {
    #[error("another `clambake run` is already working on this repository ({holder})")]
    #[diagnostic(help("stop it first (Ctrl-C, or `kill <pid>`), or let it finish"))]
    Held { holder: String },
    #[error("could not use the lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock or says who holds it. `holder` describes this process (pid, start time).
    pub fn acquire(state_dir: &Path, holder: &str) -> Result<Self, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                file.read_to_string(&mut text).map_err(io)?;
                let holder = match text.trim() {
                    "" => "its details are not recorded".to_owned(),
                    recorded => recorded.to_owned(),
                };
                return Err(LockError::Held { holder });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { file })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Clear the record so nobody reads a stale holder; the OS releases the lock on close.
        let _ = self.file.set_len(0);
    }
}

/// This process, as a lock holder: `pid 4242 on host, since 2026-11-21T06:00:00Z`.
pub fn describe_this_process(started: jiff::Timestamp) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this machine".to_owned());
    format!("pid {} on {host}, since {started}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "pid 1 on here").unwrap();
        let error = RunLock::acquire(dir.path(), "pid 2 on here").unwrap_err();
        assert_eq!(
            error.to_string(),
            "another `clambake run` is already working on this repository (pid 1 on here)"
        );
        drop(first);
        RunLock::acquire(dir.path(), "pid 2 on here").unwrap();
    }
}
