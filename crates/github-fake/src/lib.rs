//! A stateful stand-in for GitHub's REST API, for testing Clambake's GitHub backend offline.

pub mod openapi;
