//! Reading this machine's processes from `/proc`.

use crate::core::agents::containment::{environ_has, environ_value};
use crate::core::agents::proc_stat::{ProcStat, parse_stat};

/// One process's stat, or `None` if it no longer exists (or is unreadable).
pub fn stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process visible now. Processes that exit while the table is read are left out.
pub fn process_table() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| stat(entry.file_name().to_str()?.parse().ok()?))
        .collect()
}

/// The live processes whose working directory is `dir` or inside it and whose environment
/// has `marker` set: what an agent and its children look like from outside, registered or not.
pub fn marked_processes_working_in(dir: &std::path::Path, marker: &str) -> Vec<ProcStat> {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    process_table()
        .into_iter()
        .filter(|process| process.state != 'Z')
        .filter(|process| {
            std::fs::read_link(format!("/proc/{}/cwd", process.pid))
                .is_ok_and(|cwd| cwd.starts_with(&dir))
        })
        .filter(|process| {
            std::fs::read(format!("/proc/{}/environ", process.pid))
                .is_ok_and(|environ| environ_value(&environ, marker).is_some())
        })
        .collect()
}

/// Whether a live process works in `dir` (its working directory there or below) or holds
/// `file` open: what a git command busy with a worktree's index looks like from outside.
pub fn in_use(dir: &std::path::Path, file: &std::path::Path) -> bool {
    let (Ok(dir), Ok(file)) = (std::fs::canonicalize(dir), std::fs::canonicalize(file)) else {
        return false;
    };
    let holds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file))
        })
    };
    process_table()
        .into_iter()
        .filter(|process| process.state != 'Z')
        .any(|process| {
            std::fs::read_link(format!("/proc/{}/cwd", process.pid))
                .is_ok_and(|cwd| cwd.starts_with(&dir))
                || holds(process.pid)
        })
}

/// The processes whose environment sets `name` to exactly `value` (never zombies: their
/// environment can no longer be read). What an attempt's descendants look like when no cgroup
/// holds them: whatever they did to their group or session, they keep the environment they
/// inherited, unless they replace it.
pub fn processes_marked(name: &str, value: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ_has(&environ, name, value))
        })
        .collect()
}

/// The value of `name` in the environment the process `pid` started with, if set there.
pub fn environment_value(pid: u32, name: &str) -> Option<String> {
    environ_value(&std::fs::read(format!("/proc/{pid}/environ")).ok()?, name)
}

/// The command line of the process `pid`, its arguments joined by spaces; empty if it cannot
/// be read (a zombie, a kernel thread, a process gone).
pub fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The first living child of the process `pid`, if it has one. The kernel lists a task's
/// children itself (`CONFIG_PROC_CHILDREN`), which saves reading the whole process table on
/// every look at an agent; the table is the fallback where it does not.
pub fn child_of(pid: u32) -> Option<u32> {
    let living = |child: &ProcStat| child.parent == pid && child.state != 'Z';
    match std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        Ok(children) => children
            .split_whitespace()
            .filter_map(|child| stat(child.parse().ok()?))
            .filter(living)
            .map(|child| child.pid)
            .min(),
        Err(_) => process_table()
            .into_iter()
            .filter(living)
            .map(|p| p.pid)
            .min(),
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn a_file_is_in_use_while_a_process_works_beside_it_or_holds_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("index.lock");
        std::fs::write(&lock, "").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(!in_use(dir.path(), &lock));

        let mut working = Command::new("sleep")
            .arg("600")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        assert!(in_use(dir.path(), &lock));
        working.kill().unwrap();
        working.wait().unwrap();

        let mut holding = Command::new("sleep")
            .arg("600")
            .current_dir(elsewhere.path())
            .stdin(Stdio::from(std::fs::File::open(&lock).unwrap()))
            .spawn()
            .unwrap();
        assert!(in_use(dir.path(), &lock));
        holding.kill().unwrap();
        holding.wait().unwrap();
        assert!(!in_use(dir.path(), &lock));
    }
}
