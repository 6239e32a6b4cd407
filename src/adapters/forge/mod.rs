//! Forge backends.

pub mod conditional;
pub mod local;
