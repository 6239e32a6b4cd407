//! Every process of one attempt, signalled, killed and reaped together: the agent's process
//! groups (including the ones its children made, as Claude Code's Bash tool does), plus
//! whatever escaped them through `setsid`, `nohup` or a double fork: found in the attempt's
//! cgroup where it has one, else by its environment marker.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::cgroup::AttemptCgroup;
use super::procfs;
use crate::core::agents::containment::{ATTEMPT_MARKER, victims};
use crate::core::agents::proc_stat::{ProcStat, descendant_groups, group_still_ours};
use crate::ports::agent::{AgentControl, Containment};
use crate::ports::agent_host::Stray;

/// How long `clean_up` waits for killed processes to be gone and reaped.
const REAP_PATIENCE: Duration = Duration::from_secs(5);

/// How often `clean_up` looks again while killed processes die.
const REAP_POLL: Duration = Duration::from_millis(5);

/// Rounds of stopping newly found processes before a marker-found attempt is killed: each
/// round stops the processes found so far, so only a child forked in the meantime is new.
const STOP_ROUNDS: usize = 50;

/// The processes of one attempt, led by the process `leader` (whose group it leads).
pub struct AttemptProcesses {
    leader: Pid,
    /// When the leader started (`None`: unknown): its tree is walked only while the process
    /// with its pid is still it, not one that took the pid after it ended.
    leader_start: Option<u64>,
    cgroup: Option<AttemptCgroup>,
    marker: Option<String>,
    /// Every group seen in the agent's process tree so far, with the start time of its leader
    /// when first seen (`None`: already gone): once the leader is gone its descendants are
    /// re-parented and can no longer be told apart from others' by ancestry. A group is
    /// signalled only while it is still the one seen ([`group_still_ours`]).
    groups: Mutex<BTreeMap<Pid, Option<u64>>>,
}

impl AttemptProcesses {
    /// The attempt led by `leader`, which started at `leader_start` (from `/proc/<pid>/stat`).
    pub fn new(leader: u32, leader_start: Option<u64>, containment: Option<&Containment>) -> Self {
        let leader = Pid::from_raw(i32::try_from(leader).expect("pids fit in i32"));
        Self {
            leader,
            leader_start,
            cgroup: containment
                .and_then(|c| c.cgroup.clone())
                .map(AttemptCgroup::at),
            marker: containment.map(|c| c.marker.clone()),
            groups: Mutex::new(BTreeMap::from([(leader, leader_start)])),
        }
    }

    /// The attempt's living processes outside its groups' reach: its cgroup's members and
    /// the processes carrying its marker. Both, even with a cgroup: a process may move itself
    /// out of it (anyone who could join it can), and still carry the marker.
    fn members(&self) -> Vec<u32> {
        self.members_in(&procfs::process_table())
    }

    /// [`Self::members`], as `table` (this machine's processes, read a moment ago) shows them.
    fn members_in(&self, table: &[ProcStat]) -> Vec<u32> {
        let mut found = self
            .cgroup
            .as_ref()
            .map(AttemptCgroup::members)
            .unwrap_or_default();
        if let Some(marker) = &self.marker {
            found.extend(procfs::processes_marked(ATTEMPT_MARKER, marker));
        }
        found.sort_unstable();
        found.dedup();
        victims(table, &found, std::process::id())
    }

    /// Signals every group of the agent's process tree known so far, after adding the groups
    /// of its tree as `table` shows it. Returns the groups signalled.
    fn signal_groups(&self, table: &[ProcStat], signal: Signal) -> BTreeSet<u32> {
        let leader = u32::try_from(self.leader.as_raw()).expect("pids are positive");
        let leader_is_ours = self.leader_start.is_some_and(|start| {
            table
                .iter()
                .any(|p| p.pid == leader && p.start_time == start)
        });
        if leader_is_ours {
            let mut groups = self
                .groups
                .lock()
                .expect("never poisoned: no panics inside");
            for group in descendant_groups(table, leader) {
                let Ok(raw) = i32::try_from(group) else {
                    continue;
                };
                let leader_start = table.iter().find(|p| p.pid == group).map(|p| p.start_time);
                groups.entry(Pid::from_raw(raw)).or_insert(leader_start);
            }
        }
        self.signal_known_groups(table, signal)
    }

    /// Signals the groups known so far that are still the ones seen, without looking at the
    /// leader's tree again: once the leader is gone, its pid may name another process, and
    /// the number of a group that emptied may name another's. Returns the groups signalled.
    fn signal_known_groups(&self, table: &[ProcStat], signal: Signal) -> BTreeSet<u32> {
        let ours = self.groups_still_ours(table);
        for &group in &ours {
            let group = Pid::from_raw(i32::try_from(group).expect("groups are pids"));
            match killpg(group, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(error) => tracing::warn!(%error, %group, ?signal, "could not signal"),
            }
        }
        ours
    }

    /// The known groups that `table` shows still to be the ones seen.
    fn groups_still_ours(&self, table: &[ProcStat]) -> BTreeSet<u32> {
        let groups = self
            .groups
            .lock()
            .expect("never poisoned: no panics inside");
        groups
            .iter()
            .map(|(group, leader_start)| (group.as_raw() as u32, *leader_start))
            .filter(|(group, leader_start)| group_still_ours(table, *group, *leader_start))
            .map(|(group, _)| group)
            .collect()
    }

    /// Signals the groups, and every member outside them: once each, as a CLI that takes a
    /// second SIGTERM for "quit now" must get it.
    pub fn signal(&self, signal: Signal) {
        let table = procfs::process_table();
        let signalled = self.signal_groups(&table, signal);
        for pid in self.members_in(&table) {
            let in_signalled_group = table
                .iter()
                .any(|p| p.pid == pid && signalled.contains(&p.group));
            if !in_signalled_group {
                signal_pid(pid, signal);
            }
        }
    }

    /// Kills everything at once: the groups, and the cgroup as a whole; then every marked
    /// process (or cgroup member left) is stopped (a stopped process cannot fork), until a
    /// search finds none not yet stopped, and then all of them are killed.
    pub fn kill_all(&self) {
        self.signal_groups(&procfs::process_table(), Signal::SIGKILL);
        self.kill_escaped();
    }

    /// Kills the attempt's cgroup and its marked processes, leaving its groups alone.
    pub fn kill_escaped(&self) {
        self.kill_escaped_from(self.members());
    }

    /// [`Self::kill_escaped`], its first round on `members`, read a moment ago: reading them
    /// means reading every process's environment.
    fn kill_escaped_from(&self, members: Vec<u32>) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill();
        }
        let mut stopped = BTreeSet::new();
        let mut found = Some(members);
        for _ in 0..STOP_ROUNDS {
            let fresh: Vec<u32> = found
                .take()
                .unwrap_or_else(|| self.members())
                .into_iter()
                .filter(|pid| !stopped.contains(pid))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                signal_pid(pid, Signal::SIGSTOP);
                stopped.insert(pid);
            }
        }
        for pid in stopped {
            signal_pid(pid, Signal::SIGKILL);
        }
    }

    /// Whether anything of the attempt is still alive: in its cgroup, or marked, or in one of
    /// its groups.
    pub fn any_alive(&self) -> bool {
        let in_cgroup = self
            .cgroup
            .as_ref()
            .is_some_and(AttemptCgroup::is_populated);
        in_cgroup || !self.members().is_empty() || self.groups_alive()
    }

    fn groups_alive(&self) -> bool {
        !self.in_groups().is_empty()
    }

    /// The living processes of the groups known so far.
    fn in_groups(&self) -> Vec<u32> {
        self.in_groups_of(&procfs::process_table())
    }

    /// [`Self::in_groups`], as `table` shows them.
    fn in_groups_of(&self, table: &[ProcStat]) -> Vec<u32> {
        let groups = self.groups_still_ours(table);
        table
            .iter()
            .filter(|p| p.state != 'Z' && groups.contains(&p.group))
            .map(|p| p.pid)
            .collect()
    }

    /// Everything of the attempt still alive, with its command line: once the leader has
    /// ended, what it left behind.
    /// Also returns the members found, for the kill that follows.
    fn left_behind(&self) -> (Vec<Stray>, Vec<u32>) {
        let table = procfs::process_table();
        let members = self.members_in(&table);
        let mut pids = self.in_groups_of(&table);
        pids.extend(&members);
        pids.sort_unstable();
        pids.dedup();
        let strays = pids
            .into_iter()
            .map(|pid| Stray {
                pid,
                command: procfs::command_line(pid),
            })
            .collect();
        (strays, members)
    }

    /// Reaps what of the attempt died as our child (orphans re-parented to us): the one
    /// reaper, which never takes a child tokio waits for.
    fn reap(&self) {
        super::orphans::reap_exited_orphans();
    }

    /// Removes the attempt's cgroup, once it is empty.
    fn remove_cgroup(&self) {
        if let Some(cgroup) = &self.cgroup
            && let Err(error) = cgroup.remove()
        {
            tracing::warn!(%error, cgroup = %cgroup.path().display(), "could not remove the attempt's cgroup");
        }
    }
}

#[async_trait]
impl AgentControl for AttemptProcesses {
    fn interrupt(&self) {
        self.signal(Signal::SIGTERM);
    }

    fn kill(&self) {
        self.kill_all();
    }

    async fn clean_up(&self) -> Vec<Stray> {
        let (strays, members) = self.left_behind();
        if !strays.is_empty() {
            tracing::warn!(leader = %self.leader, ?strays, "stopping what the agent left running");
        }
        // The leader has been reaped: its pid may name another process now, so its tree is
        // not walked again; its known groups, its cgroup and its marker still find the rest.
        self.signal_known_groups(&procfs::process_table(), Signal::SIGKILL);
        self.kill_escaped_from(members);
        let deadline = tokio::time::Instant::now() + REAP_PATIENCE;
        loop {
            self.reap();
            if !self.any_alive() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(leader = %self.leader, "processes of the attempt outlived SIGKILL");
                break;
            }
            self.signal_known_groups(&procfs::process_table(), Signal::SIGKILL);
            self.kill_escaped();
            tokio::time::sleep(REAP_POLL).await;
        }
        self.reap();
        self.remove_cgroup();
        strays
    }
}

impl AttemptProcesses {
    /// After an attempt whose leader ended unwatched (its pid may name another process by
    /// now, so its groups are left alone): kills what it left in its cgroup or marked, and
    /// removes the cgroup. Says what it found left.
    pub async fn clean_up_escaped(&self) -> Vec<Stray> {
        let strays = self
            .members()
            .into_iter()
            .map(|pid| Stray {
                pid,
                command: procfs::command_line(pid),
            })
            .collect();
        let deadline = tokio::time::Instant::now() + REAP_PATIENCE;
        loop {
            self.kill_escaped();
            self.reap();
            let in_cgroup = self
                .cgroup
                .as_ref()
                .is_some_and(AttemptCgroup::is_populated);
            if !in_cgroup && self.members().is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(leader = %self.leader, "processes of the attempt outlived SIGKILL");
                break;
            }
            tokio::time::sleep(REAP_POLL).await;
        }
        self.remove_cgroup();
        strays
    }
}

fn signal_pid(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    match kill(Pid::from_raw(raw), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(%error, pid, ?signal, "could not signal"),
    }
}
