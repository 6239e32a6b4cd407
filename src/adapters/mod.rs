//! Implementations of the ports against the real world.

pub mod agent_registry;
pub mod agents;
pub mod cgroup;
pub mod forge;
pub mod git;
pub mod journal;
pub mod procfs;
pub mod redacting_log;
pub mod registry_processes;
pub mod sqlite_file;
