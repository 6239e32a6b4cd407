//! Use cases that combine the core, the ports and the adapters.

pub mod attempt;
pub mod doctor;
pub mod init;
pub mod lifecycle;
pub mod observe;
pub mod recover;
pub mod run_lock;
pub mod spawn;
pub mod status;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
