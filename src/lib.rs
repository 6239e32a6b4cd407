//! Clambake turns a repository's issue tracker into a job queue for AI coding agents.
//!
//! Layers, dependencies pointing down: [`cli`] parses and renders; [`app`] holds the use cases;
//! [`core`] is pure logic; [`ports`] are the traits the world must offer; [`adapters`]
//! implement them against git, SQLite and the forges.

pub mod adapters;
pub mod app;
pub mod cli;
pub use clambake_core as core;
pub mod ports;
