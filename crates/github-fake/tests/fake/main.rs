//! The GitHub fake over real HTTP on 127.0.0.1, with a real bare repository behind it.

mod actions;
mod actions_runs;
mod actions_support;
mod binary;
mod checks;
mod git;
mod http;
mod issues;
mod pulls;
mod support;
