//! Forge backends.

pub mod conditional;
pub mod local;
pub mod redacting;
