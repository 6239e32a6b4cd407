//! A cgroup v2 of its own for each attempt: made under the cgroup Clambake runs in, joined by
//! the agent before it executes, so that every process it ever starts is in it (a process
//! cannot leave a cgroup by changing its group or session); emptied with `cgroup.kill`, or by
//! freezing it and killing each member, and removed once empty.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::core::containment::{cgroup_dir, own_cgroup};

/// One attempt's cgroup, by its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCgroup {
    dir: PathBuf,
}

impl AttemptCgroup {
    /// Makes the cgroup `name` under our own, if this machine has a cgroup2 hierarchy that
    /// shows our cgroup and lets us make children in it; `None` otherwise.
    pub fn create(name: &str) -> Option<Self> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let ours = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let parent = cgroup_dir(&mountinfo, own_cgroup(&ours)?)?;
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => Some(Self { dir }),
            Err(error) => {
                tracing::debug!(%error, dir = %dir.display(), "no cgroup for the attempt");
                None
            }
        }
    }

    /// The cgroup at `dir`, as recorded when its attempt started.
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `cgroup.procs`, opened for writing: a process that writes `0` to it joins the cgroup.
    pub fn procs_for_joining(&self) -> std::io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
    }

    /// Every process in the cgroup and in any cgroup the agent made inside it.
    pub fn members(&self) -> Vec<u32> {
        let mut found = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                found.extend(
                    procs
                        .lines()
                        .filter_map(|line| line.trim().parse::<u32>().ok()),
                );
            }
            dirs.extend(children(&dir));
        }
        found
    }

    /// Kills every process in it at once: `cgroup.kill` (Linux 5.14 and later), or else the
    /// cgroup is frozen (so nothing in it can fork while it is emptied) and each member killed.
    pub fn kill(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let frozen = std::fs::write(self.dir.join("cgroup.freeze"), "1").is_ok();
        for pid in self.members() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if frozen {
            // Killed processes die even frozen; thawing lets the kernel finish them.
            let _ = std::fs::write(self.dir.join("cgroup.freeze"), "0");
        }
    }

    /// Whether any living process is still in it (a cgroup that is gone is empty).
    pub fn is_populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|line| line.trim() == "populated 1"))
    }

    /// Removes it and the cgroups the agent made inside it, once they are empty. A cgroup that
    /// is already gone is not an error.
    pub fn remove(&self) -> std::io::Result<()> {
        for child in children(&self.dir) {
            Self::at(child).remove()?;
        }
        match std::fs::remove_dir(&self.dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// The cgroups directly inside `dir`.
fn children(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.path())
        .collect()
}
