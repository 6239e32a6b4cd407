//! Clambake's pure core: the lifecycle machine, drift detection and recovery plans, the train
//! planner, routing, outcome classification and the configuration model. No I/O, no async, no
//! processes: everything is decided from values handed in, and this crate's dependencies keep it
//! that way (it has no runtime, database, process or OS crate to reach for).

pub mod agents;
pub mod branches;
pub mod budget;
pub mod checks;
pub mod config;
pub mod forge_text;
pub mod lifecycle;
pub mod notify;
pub mod queue;
pub mod recovery;
pub mod text;
pub mod trains;
pub mod workflows;
