//! Branch names: the ones Clambake gives attempts and git's rules for any name.

pub mod name;
pub mod refname;
