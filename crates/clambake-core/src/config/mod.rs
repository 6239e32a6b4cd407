//! `clambake.toml`: the typed configuration, its key table, and validation that points at
//! the offending spot. Pure: callers hand in the file's text and the environment's overrides.
//!
//! Every key is declared once, in `sections.rs` (which says how to add one); `schema.rs` holds
//! the macros that turn the declaration into the structs and the key table; `load.rs` reads and
//! validates; `minutes.rs` is the type of a length in minutes; `edit.rs` writes; `origin.rs`
//! reads the GitHub repository a remote's URL names.

mod edit;
mod load;
mod minutes;
mod origin;
mod schema;
mod sections;
mod usd;
pub mod webhook;
pub mod words;

pub(crate) use edit::wrap;
pub use edit::{set_in_text, template};
pub use load::{
    ConfigError, LoadedConfig, ValueSource, key_spec, load, parse_value, shown_value, suggest_key,
    unknown_key,
};
pub use minutes::Minutes;
pub use origin::{GITHUB_HOST, GithubRemote, git_host, web_url};
pub use schema::{KeySpec, SectionSpec, ValueKind};
pub use sections::*;
pub use usd::Usd;

/// The name of the configuration file at the repository root.
pub const CONFIG_FILE: &str = "clambake.toml";

/// The prefix of environment variables that override the file: `CLAMBAKE_AGENTS__MAX_CONCURRENT`.
pub const ENV_PREFIX: &str = "CLAMBAKE_";
