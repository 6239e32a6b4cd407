//! Use cases that combine the core, the ports and the adapters.

pub mod agent_check;
pub mod attempt;
pub mod bundle;
mod bundle_record;
pub mod claim;
pub mod demo;
pub mod doctor;
pub mod handover;
pub mod init;
pub mod land;
pub mod landing;
pub mod lifecycle;
pub mod live;
pub mod loop_processes;
pub mod monitor;
pub mod observe;
pub mod orchestrator;
pub mod rebuild_journal;
pub mod recover;
pub mod rollback;
pub mod run;
pub mod run_lock;
pub mod simulated_work;
pub mod spawn;
pub mod status;
pub mod strays;
pub mod terminate;
pub mod train;
pub mod unrelated_work;
pub mod verdict;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
