//! Use cases that combine the core, the ports and the adapters.

pub mod attempt;
pub mod bundle;
pub mod doctor;
pub mod init;
pub mod landing;
pub mod lifecycle;
pub mod orchestrator;
pub mod run;
pub mod run_lock;
pub mod spawn;
pub mod status;
pub mod train;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
