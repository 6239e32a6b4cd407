//! Agent processes that no registry knows: an agent whose orchestrator was killed between
//! starting it and registering it, found by its marker in the worktree it works in.

use std::path::Path;
use std::time::Duration;

use super::attempt_processes::AttemptProcesses;
use super::cgroup::AttemptCgroup;
use super::{process, procfs};
use crate::core::agents::command::AGENT_MARKER;
use crate::core::agents::containment::ATTEMPT_MARKER;
use crate::core::branches::name::parse_worktree_name;
use crate::ports::agent::Containment;

/// Stops processes still working in `worktree` (`<agent>-<issue>`) that no registry knows and
/// that belong to its agent: an agent whose orchestrator was killed between starting it and
/// registering it. Two agents must never work in one worktree; a process of another agent
/// that merely wandered in is not this one's to stop (that would take its whole attempt).
pub async fn stop_strays(worktree: &Path, grace: Duration) {
    let Some(agent) = worktree
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(parse_worktree_name)
        .map(|(agent, _)| agent.to_owned())
    else {
        return;
    };
    let strays = procfs::marked_processes_working_in(worktree, AGENT_MARKER)
        .into_iter()
        .filter(|stray| {
            procfs::environment_value(stray.pid, AGENT_MARKER).as_deref() == Some(agent.as_str())
        });
    for stray in strays {
        tracing::warn!(pid = stray.pid, worktree = %worktree.display(), "stopping a stray agent process");
        // Its attempt was never registered: what it carries says where the rest of it is.
        let containment =
            procfs::environment_value(stray.pid, ATTEMPT_MARKER).map(|marker| Containment {
                cgroup: AttemptCgroup::of_process(stray.pid).map(|c| c.path().to_path_buf()),
                marker,
            });
        process::terminate(stray.pid, stray.start_time, containment.as_ref(), grace).await;
        AttemptProcesses::new(stray.pid, Some(stray.start_time), containment.as_ref())
            .clean_up_escaped()
            .await;
    }
}
