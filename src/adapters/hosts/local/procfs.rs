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
