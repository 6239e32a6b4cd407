//! The queue: labels, where an issue stands, which slot takes which issue (after its blockers,
//! and while reviewers keep up), and the claims several orchestrators share.

pub mod backpressure;
pub mod blocking;
pub mod claims;
pub mod dependencies;
pub mod holds;
pub mod labels;
pub mod routing;
pub mod sightings;
pub mod slots;
pub mod standing;
