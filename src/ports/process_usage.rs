//! What an attempt's processes use of this machine, for the metrics: the whole tree under its
//! agent process, as the host's containment sees it.

/// The resources of one process tree, summed over its live processes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeUsage {
    pub processes: u32,
    /// User and system CPU time so far.
    pub cpu_seconds: f64,
    /// Resident memory.
    pub memory_bytes: u64,
    pub open_files: u64,
}

/// Reads a process tree's usage.
pub trait ProcessUsage: Send + Sync {
    /// The tree rooted at `pid`, or `None` when that process is gone.
    fn tree(&self, pid: u32) -> Option<TreeUsage>;
}
