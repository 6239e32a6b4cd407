//! The queue: labels, where an issue stands, which slot takes which issue, and the claims
//! several orchestrators share.

pub mod claims;
pub mod labels;
pub mod routing;
pub mod sightings;
pub mod slots;
pub mod standing;
