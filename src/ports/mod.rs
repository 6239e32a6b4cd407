//! The traits the application needs from the world. Adapters implement them.

pub mod clock;
pub mod forge;
pub mod journal;

pub use clock::{Clock, SystemClock};
pub use forge::Forge;
