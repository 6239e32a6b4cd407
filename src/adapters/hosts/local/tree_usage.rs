//! [`ProcessUsage`] from `/proc`: the tree under a process (its descendants by parent pid, as
//! the host's containment follows them), each one's CPU time, resident memory and open files.

use std::collections::BTreeSet;

use super::procfs::{process_table, stat};
use crate::ports::process_usage::{ProcessUsage, TreeUsage};

/// This machine's processes, read from `/proc`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcfsUsage;

impl ProcessUsage for ProcfsUsage {
    fn tree(&self, pid: u32) -> Option<TreeUsage> {
        stat(pid)?;
        let table = process_table();
        let mut tree = BTreeSet::from([pid]);
        // Parents come before children in no particular order: grow until nothing is added.
        loop {
            let before = tree.len();
            for process in &table {
                if tree.contains(&process.parent) {
                    tree.insert(process.pid);
                }
            }
            if tree.len() == before {
                break;
            }
        }
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as u64;
        let mut usage = TreeUsage::default();
        for pid in tree {
            let Some(cpu_ticks) = cpu_ticks(pid) else {
                continue;
            };
            usage.processes += 1;
            usage.cpu_seconds += cpu_ticks as f64 / ticks;
            usage.memory_bytes += resident_pages(pid).unwrap_or(0) * page;
            usage.open_files += std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map_or(0, |entries| entries.count() as u64);
        }
        Some(usage)
    }
}

/// utime + stime: fields 14 and 15 of the stat line, counted after the command's `)`.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The second field of statm.
fn resident_pages(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_of_this_process_counts_a_child_it_starts() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let usage = ProcfsUsage.tree(me).unwrap();
        assert!(usage.processes >= 2, "{usage:?}");
        assert!(usage.memory_bytes > 0, "{usage:?}");
        assert!(usage.open_files > 0, "{usage:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(ProcfsUsage.tree(u32::MAX), None);
    }
}
