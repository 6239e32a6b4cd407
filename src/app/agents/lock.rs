//! One process running agents per repository per machine (`clambake run`, or a `clambake
//! spawn` by hand): an exclusive lock on `.clambake/run.lock`, held for the life of the process
//! and released by the OS even if the process is killed. Two of them would claim, adopt and
//! dispose of the same agents.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use crate::app::error::LockError;

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "run.lock";

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    /// Whether this is a run's lock, which records its holder.
    exclusive: bool,
}

impl RunLock {
    /// Takes the lock for a run, alone, or says who holds it. `holder` describes this process
    /// (pid, start time).
    pub fn acquire(state_dir: &Path, holder: &str) -> Result<Self, LockError> {
        let (mut file, path) = open(state_dir)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(held(&mut file, &path)),
            Err(TryLockError::Error(source)) => return Err(LockError::Io { path, source }),
        }
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self {
            file,
            exclusive: true,
        })
    }

    /// Takes the lock for an agent started by hand: several of those may run side by side,
    /// but not beside a run.
    pub fn acquire_shared(state_dir: &Path) -> Result<Self, LockError> {
        let (mut file, path) = open(state_dir)?;
        match file.try_lock_shared() {
            Ok(()) => {
                // No run holds the lock, so a record left is a killed run's: a later refused
                // run must not name it.
                file.set_len(0)
                    .map_err(|source| LockError::Io { path, source })?;
                Ok(Self {
                    file,
                    exclusive: false,
                })
            }
            Err(TryLockError::WouldBlock) => Err(held(&mut file, &path)),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }
}

fn open(state_dir: &Path) -> Result<(File, PathBuf), LockError> {
    let path = state_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

/// The refusal, naming the holder a run recorded; agents started by hand record none.
fn held(file: &mut File, path: &Path) -> LockError {
    let mut text = String::new();
    if let Err(source) = file.read_to_string(&mut text) {
        return LockError::Io {
            path: path.to_path_buf(),
            source,
        };
    }
    let holder = match text.trim() {
        "" => "agents started by hand with `clambake spawn`".to_owned(),
        recorded => recorded.to_owned(),
    };
    LockError::Held { holder }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Clear the record so nobody reads a stale holder; the OS releases the lock on close.
        if self.exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

/// This process, as a lock holder:
/// `` `clambake run`, pid 4242 on host, since 2026-11-21 06:00:00 UTC ``.
pub fn describe_this_process(command: &str, started: jiff::Timestamp) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this machine".to_owned());
    format!(
        "`{command}`, pid {} on {host}, since {}",
        std::process::id(),
        crate::core::text::human_time::moment(started)
    )
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
            "another Clambake process is already running agents in this repository: pid 1 on here"
        );
        assert!(RunLock::acquire_shared(dir.path()).is_err());
        drop(first);
        RunLock::acquire(dir.path(), "pid 2 on here").unwrap();
    }

    #[test]
    fn agents_by_hand_share_the_lock_and_keep_a_run_out() {
        let dir = tempfile::tempdir().unwrap();
        let one = RunLock::acquire_shared(dir.path()).unwrap();
        let two = RunLock::acquire_shared(dir.path()).unwrap();
        let error = RunLock::acquire(dir.path(), "pid 3 on here").unwrap_err();
        assert_eq!(
            error.to_string(),
            "another Clambake process is already running agents in this repository: agents \
             started by hand with `clambake spawn`"
        );
        drop((one, two));
        RunLock::acquire(dir.path(), "pid 3 on here").unwrap();
    }

    #[test]
    fn a_killed_runs_record_is_not_taken_for_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "`clambake run`, pid 1 on here").unwrap();
        let by_hand = RunLock::acquire_shared(dir.path()).unwrap();
        let error = RunLock::acquire(dir.path(), "pid 3 on here").unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("agents started by hand with `clambake spawn`"),
            "{error}"
        );
        drop(by_hand);
    }
}
