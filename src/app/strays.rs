//! Agent processes that no registry knows: an agent whose orchestrator was killed between
//! starting it and registering it, found by its marker in the worktree it works in.

use std::path::Path;
use std::time::Duration;

use crate::adapters::agents::attempt_processes::AttemptProcesses;
use crate::adapters::agents::{AGENT_MARKER, process};
use crate::adapters::cgroup::AttemptCgroup;
use crate::adapters::procfs;
use crate::core::containment::ATTEMPT_MARKER;
use crate::ports::agent::Containment;

/// Stops processes still working in `worktree` that no registry knows: an agent whose
/// orchestrator was killed between starting it and registering it. Two agents must never work
/// in one worktree.
pub(crate) async fn stop_strays(worktree: &Path, grace: Duration) {
    for stray in procfs::marked_processes_working_in(worktree, AGENT_MARKER) {
        tracing::warn!(pid = stray.pid, worktree = %worktree.display(), "stopping a stray agent process");
        // Its attempt was never registered: what it carries says where the rest of it is.
        let containment =
            procfs::environment_value(stray.pid, ATTEMPT_MARKER).map(|marker| Containment {
                cgroup: AttemptCgroup::of_process(stray.pid).map(|c| c.path().to_path_buf()),
                marker,
            });
        process::terminate(stray.pid, stray.start_time, containment.as_ref(), grace).await;
        AttemptProcesses::new(stray.pid, containment.as_ref())
            .clean_up_escaped()
            .await;
    }
}
