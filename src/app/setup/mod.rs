//! Setting up and trying Clambake: init, doctor, the demo, and the rollback switches.

pub mod demo;
pub mod doctor;
pub mod init;
pub mod rollback;
