//! Forge backends.

pub mod conditional;
pub mod github;
pub mod local;
pub mod redacting;
pub mod redacting_actions;
