//! Changes of an agent slot's state, and what happens to an issue when its work ends.

pub mod land;
pub mod landing;
pub mod transitions;
