//! Forge backends.

pub mod local;
