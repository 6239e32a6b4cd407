//! The run loop, assembled from the configuration, with its lock and its live view.

pub mod assemble;
pub mod live;
pub mod orchestrator;
pub mod serve;
pub mod spawn;
