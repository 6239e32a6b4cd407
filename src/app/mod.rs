//! Use cases that combine the core, the ports and the adapters.

pub mod attempt;
pub mod doctor;
pub mod init;
pub mod land;
pub mod monitor;
pub mod spawn;
pub mod status;
pub mod terminate;
pub mod workspace;

pub use workspace::{AppError, AppResult, Workspace};
