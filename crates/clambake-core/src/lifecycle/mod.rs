//! The agent-slot lifecycle machine and the finished work it holds.

pub mod machine;
