//! Integration tests: real git repositories in temporary directories, the real SQLite-backed
//! local forge, and the real `clambake` binary.

mod bundle_cli;
mod bundle_crash;
mod bundle_git;
mod cli;
mod local_forge;
mod support;
