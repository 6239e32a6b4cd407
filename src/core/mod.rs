//! Pure logic: no I/O, no async. Everything here is decided from values handed in.

pub mod agent_cli;
pub mod agent_command;
pub mod agent_events;
pub mod agent_failure;
pub mod agent_log;
pub mod branch;
pub mod bundle_plan;
pub mod bundle_pr;
pub mod closing;
pub mod codex_events;
pub mod config;
pub mod force_reset;
pub mod labels;
pub mod lifecycle;
pub mod outcome;
pub mod proc_stat;
pub mod prompt;
pub mod queue;
pub mod reconcile;
pub mod recovery;
pub mod refname;
pub mod retry;
pub mod routing;
pub mod schedule;
pub mod simulation;
pub mod slots;
