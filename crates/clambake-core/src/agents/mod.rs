//! An agent attempt as the core sees it: the command it starts with, its event streams, its
//! processes, and how its end is judged.

pub mod agent_event;
pub mod cli;
pub mod codex_events;
pub mod command;
pub mod containment;
pub mod events;
pub mod failure;
pub mod log;
pub mod outcome;
pub mod proc_stat;
pub mod prompt;
pub mod remote;
pub mod render;
pub mod retention;
pub mod retry;
pub mod simulated_work;
pub mod simulation;
