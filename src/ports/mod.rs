//! The traits the application needs from the world. Adapters implement them.

pub mod actions;
pub mod agent;
pub mod agent_host;
pub mod agent_registry;
pub mod checks;
pub mod clock;
pub mod credentials;
pub mod database;
pub mod forge;
pub mod git;
pub mod journal;
pub mod notifier;
pub mod process_usage;
pub mod processes;

pub use agent::AgentRuntime;
pub use clock::{Clock, SystemClock};
pub use forge::Forge;
