//! Agent hosts: where an attempt's processes run and are watched.

pub mod actions;
pub mod local;
