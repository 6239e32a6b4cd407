//! A cgroup v2 of its own for each attempt: made under the cgroup Clambake runs in, joined by
//! the agent before it executes, so that every process it ever starts is in it (a process
//! cannot leave a cgroup by changing its group or session); emptied with `cgroup.kill`, or by
//! freezing it and killing each member, and removed once empty.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::core::agents::containment::{cgroup_dir, cgroup_maker, own_cgroup};

/// One attempt's cgroup, by its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCgroup {
    dir: PathBuf,
}

impl AttemptCgroup {
    /// Makes the cgroup `name` under our own, if this machine has a cgroup2 hierarchy that
    /// shows our cgroup and lets us make children in it; `None` otherwise. Empty attempt
    /// cgroups there whose maker is gone (killed before it could remove them) go first.
    pub fn create(name: &str) -> Option<Self> {
        let parent = cgroup_of("self")?;
        remove_abandoned(&parent);
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => Some(Self { dir }),
            Err(error) => {
                tracing::debug!(%error, dir = %dir.display(), "no cgroup for the attempt");
                None
            }
        }
    }

    /// The attempt cgroup the process `pid` is in, if it is in one.
    pub fn of_process(pid: u32) -> Option<Self> {
        let dir = cgroup_of(&pid.to_string())?;
        let name = dir.file_name()?.to_str()?;
        cgroup_maker(name).map(|_| Self { dir })
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
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            self.freeze_and_kill();
        }
    }

    /// Kills every process in it without `cgroup.kill`: frozen first, so that nothing in it
    /// can fork while its members are killed one by one.
    pub fn freeze_and_kill(&self) {
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

/// The directory of the cgroup of the process `pid` (`self` for this one).
fn cgroup_of(pid: &str) -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroup_dir(&mountinfo, own_cgroup(&theirs)?)
}

/// Removes the empty attempt cgroups in `parent` whose maker no longer runs.
fn remove_abandoned(parent: &Path) {
    for dir in children(parent) {
        let Some(maker) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(cgroup_maker)
        else {
            continue;
        };
        let cgroup = AttemptCgroup::at(dir);
        if !Path::new(&format!("/proc/{maker}")).exists() && !cgroup.is_populated() {
            let _ = cgroup.remove();
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
