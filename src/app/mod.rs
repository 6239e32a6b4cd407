//! Use cases that combine the core, the ports and the adapters.

pub mod agent_check;
pub mod attempt;
pub mod bundle;
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
pub mod recover;
pub mod rollback;
pub mod run;
pub mod run_lock;
pub mod spawn;
pub mod status;
pub mod terminate;
pub mod train;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
