//! Implementations of the ports against the real world.

pub mod agents;
pub mod forge;
pub mod git;
pub mod journal;
