//! Agent processes found by where they run: every agent runs in its own worktree under
//! `.clambake/worktrees/<agent>-<issue>`, so a process whose working directory is inside one
//! belongs to that agent and issue. Linux `/proc` only. It sees live processes alone (a dead
//! one simply is not there) and keeps no activity times; the persisted process registry
//! replaces it once merged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::core::branch::parse_worktree_name;
use crate::ports::processes::{AgentProcesses, ObservedProcess, ProcessError, ProcessResult};

/// How long a process gets to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The live processes working inside the agent worktrees under `worktrees_dir`.
#[derive(Debug, Clone)]
pub struct WorktreeProcesses {
    worktrees_dir: PathBuf,
}

impl WorktreeProcesses {
    pub fn new(worktrees_dir: impl Into<PathBuf>) -> Self {
        let dir = worktrees_dir.into();
        // /proc shows resolved paths; compare like with like.
        let worktrees_dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        Self { worktrees_dir }
    }

    fn scan(&self) -> ProcessResult<Vec<ObservedProcess>> {
        let entries = std::fs::read_dir("/proc")
            .map_err(|e| ProcessError::Registry(format!("could not list /proc: {e}")))?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // Processes come and go while we look, and others' are unreadable: skip them.
            let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
                continue;
            };
            if let Some((agent, issue)) = self.owner(&cwd)
                && !is_zombie(&entry.path())
            {
                found.push(ObservedProcess {
                    agent,
                    issue,
                    pid,
                    alive: true,
                    last_activity: None,
                });
            }
        }
        found.sort_by_key(|p| (p.agent.clone(), p.issue, p.pid));
        Ok(found)
    }

    fn owner(&self, cwd: &Path) -> Option<(String, u64)> {
        let inside = cwd.strip_prefix(&self.worktrees_dir).ok()?;
        let name = inside.components().next()?.as_os_str().to_str()?;
        parse_worktree_name(name).map(|(agent, issue)| (agent.to_owned(), issue))
    }
}

fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            after_name.split_whitespace().next().map(|s| s == "Z")
        })
        .unwrap_or(true)
}

#[async_trait]
impl AgentProcesses for WorktreeProcesses {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        self.scan()
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        let pids: Vec<u32> = self
            .scan()?
            .into_iter()
            .filter(|p| p.agent == agent)
            .map(|p| p.pid)
            .collect();
        for signal in [Signal::SIGTERM, Signal::SIGKILL] {
            let mut remaining = Vec::new();
            for pid in &pids {
                let target = Pid::from_raw(i32::try_from(*pid).unwrap_or(i32::MAX));
                match kill(target, signal) {
                    Ok(()) => remaining.push(*pid),
                    Err(nix::errno::Errno::ESRCH) => {}
                    Err(error) => {
                        return Err(ProcessError::Stop {
                            agent: agent.to_owned(),
                            pid: *pid,
                            message: error.to_string(),
                        });
                    }
                }
            }
            let deadline = tokio::time::Instant::now() + GRACE;
            while tokio::time::Instant::now() < deadline {
                let live = self.scan()?;
                if !remaining
                    .iter()
                    .any(|pid| live.iter().any(|p| p.pid == *pid))
                {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Err(ProcessError::Stop {
            agent: agent.to_owned(),
            pid: pids.first().copied().unwrap_or_default(),
            message: "it is still running after SIGKILL".to_owned(),
        })
    }
}
