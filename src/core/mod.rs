//! Pure logic: no I/O, no async. Everything here is decided from values handed in.

pub mod bundle_plan;
pub mod bundle_pr;
pub mod closing;
pub mod config;
pub mod labels;
pub mod queue;
pub mod schedule;
