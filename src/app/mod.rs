//! Use cases that combine the core and the ports, grouped by domain; [`compose`] alone picks
//! the adapters behind the ports.

pub mod actions;
pub mod agents;
pub mod compose;
pub mod error;
pub mod forge_usage;
pub mod health;
pub mod lifecycle;
pub mod queue;
pub mod recovery;
pub mod run;
pub mod setup;
#[cfg(test)]
pub mod tests;
pub mod trains;
pub mod workspace;

pub use error::{AppError, AppResult, AttemptError, ErrorKind};
pub use workspace::Workspace;
