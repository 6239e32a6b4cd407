//! Use cases that combine the core, the ports and the adapters.

pub mod bundle;
pub mod doctor;
pub mod init;
pub mod status;
pub mod train;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
