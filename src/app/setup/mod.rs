//! Setting up and trying Clambake: init, doctor, the demo, the rollback switches, and the GitHub
//! Actions workflows.

pub mod demo;
pub mod doctor;
pub mod init;
pub mod rollback;
pub mod workflows;
