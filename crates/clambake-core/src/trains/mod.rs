//! Trains: when one departs, which branches ride together, and their pull requests' text.

pub mod bisect;
pub mod check_log;
pub mod dispatched;
pub mod plan;
pub mod pull_request;
pub mod rework;
pub mod schedule;
