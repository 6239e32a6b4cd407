//! The queue: labels, where an issue stands, and which slot takes which issue.

pub mod labels;
pub mod routing;
pub mod slots;
pub mod standing;
