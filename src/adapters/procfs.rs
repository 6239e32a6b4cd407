//! Reading processes from `/proc`.

use crate::core::proc_stat::{ProcStat, parse_stat};

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
