//! The queue: how a slot claims an issue, the claims orchestrators share, and the queue at a
//! glance.

pub mod claim;
pub mod ledger;
pub mod status;
