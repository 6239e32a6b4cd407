//! Clambake as the subreaper of its agents' orphans: what an agent leaves behind is re-parented
//! to the orchestrator, not to PID 1 (which, in containers, often never reaps), and reaped here
//! as soon as it exits, even while its attempt still runs, so that no zombie holds a pid all
//! night.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, getpgrp};

use crate::adapters::hosts::local::procfs;
use crate::core::agents::proc_stat::ProcStat;

/// How often the orphans that have exited are looked for.
const REAP_EVERY: Duration = Duration::from_secs(2);

/// The agents' waiters this process started: its own children, which tokio waits for and
/// reaps itself. Reaping one here would lose its exit status.
static WAITERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Makes this process the subreaper of its agents' orphans, and starts reaping the ones that
/// exit. Once per process; a thread of its own, so that it outlives any one async runtime.
pub fn adopt_orphans() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(%error, "could not become the subreaper of agent processes");
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("clambake-reaper".to_owned())
            .spawn(|| {
                loop {
                    std::thread::sleep(REAP_EVERY);
                    reap_exited_orphans();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start reaping agents' orphans");
        }
    });
}

/// Held while an agent's waiter is started and registered, so that the reaper never sees it
/// exited before it is known.
pub fn starting_waiter() -> MutexGuard<'static, BTreeSet<u32>> {
    WAITERS.lock().expect("never poisoned: no panics inside")
}

/// The waiter `pid` has been waited for (by tokio): it is nobody's to reap any more.
pub fn waiter_reaped(pid: u32) {
    starting_waiter().remove(&pid);
}

/// Reaps every exited orphan of an agent: a zombie whose parent is this process, in a process
/// group other than this process's own (the git and other commands it runs itself stay in its
/// group, and tokio reaps those), and not one of the agents' waiters.
pub(crate) fn reap_exited_orphans() {
    let waiters = starting_waiter();
    let ours = u32::try_from(getpgrp().as_raw()).unwrap_or_default();
    for orphan in exited_orphans(&procfs::process_table(), std::process::id(), ours, &waiters) {
        let pid = Pid::from_raw(i32::try_from(orphan).expect("pids fit in i32"));
        // Already reaped by someone else (ECHILD) is as good.
        let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
    }
}

/// The zombies of `table` that are orphans to reap: children of `me`, outside group `ours`,
/// not in `waiters`.
fn exited_orphans(table: &[ProcStat], me: u32, ours: u32, waiters: &BTreeSet<u32>) -> Vec<u32> {
    table
        .iter()
        .filter(|p| p.state == 'Z' && p.parent == me && p.group != ours)
        .filter(|p| !waiters.contains(&p.pid))
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, state: char, parent: u32, group: u32) -> ProcStat {
        ProcStat {
            pid,
            state,
            parent,
            group,
            start_time: 1,
        }
    }

    #[test]
    fn only_exited_orphans_outside_our_group_and_not_waiters_are_reaped() {
        let table = [
            stat(10, 'Z', 1, 10),   // an orphan that exited
            stat(11, 'S', 1, 11),   // one still running
            stat(12, 'Z', 1, 100),  // a command of ours, in our group: tokio's to reap
            stat(13, 'Z', 1, 13),   // an agent's waiter: tokio's to reap
            stat(14, 'Z', 999, 14), // someone else's child
        ];
        let waiters = BTreeSet::from([13]);
        assert_eq!(exited_orphans(&table, 1, 100, &waiters), vec![10]);
    }
}
