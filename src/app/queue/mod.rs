//! The queue: how a slot claims an issue, the claims orchestrators share, what holds ready
//! issues back (their blockers, reviewers falling behind), and the queue at a glance.

pub mod backpressure;
pub mod claim;
pub mod dependencies;
pub mod holds;
pub mod ledger;
pub mod status;
