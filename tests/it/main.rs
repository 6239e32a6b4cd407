//! Integration tests: real git repositories in temporary directories, the real SQLite-backed
//! local forge, and the real `clambake` binary.

mod agent_cli;
mod cli;
mod journal;
mod local_forge;
mod refname;
mod support;
