//! Recovery: the world observed, drift repaired, and the journal rebuilt from the world.

pub mod observe;
pub mod rebuild_journal;
pub mod repair;
