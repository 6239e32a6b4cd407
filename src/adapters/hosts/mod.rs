//! Agent hosts: where an attempt's processes run and are watched.

pub mod local;
