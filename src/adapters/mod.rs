//! Implementations of the ports against the real world.

pub mod agents;
pub mod checks;
pub mod credentials;
pub mod forge;
pub mod git;
pub mod hosts;
pub mod journal;
pub mod notify;
pub mod redacting_log;
pub mod sqlite_file;
