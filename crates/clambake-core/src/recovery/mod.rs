//! Drift between belief and the world, and the plans that repair it.

pub mod drift;
pub mod force_reset;
pub mod plans;
