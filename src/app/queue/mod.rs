//! The queue: how a slot claims an issue, and the queue at a glance.

pub mod claim;
pub mod status;
