//! The checks' settings that are lists of words (an argv, NAME=VALUE assignments), split as a
//! shell would without one running: parsed here so that loading the configuration refuses one
//! that cannot be.

use miette::Diagnostic;

use super::{ChecksConfig, never_passed};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum ChecksConfigError {
    #[error("checks.{key} is not a valid list of words: {value}")]
    #[diagnostic(help("close every quote; words are split like a shell would, but no shell runs"))]
    Unsplittable { key: &'static str, value: String },
    #[error("checks.env has `{word}`, which is not NAME=VALUE")]
    #[diagnostic(help(
        "give each variable as NAME=VALUE, e.g. `clambake config set checks.env \"RUST_BACKTRACE=1 CI=true\"`"
    ))]
    NotAnAssignment { word: String },
    #[error("checks.env sets {name}, which the checks are never given")]
    #[diagnostic(help(
        "forge tokens and CLAMBAKE_* settings never reach agents or their checks; remove it"
    ))]
    Refused { name: String },
}

/// The checks' argv; empty when none are configured.
pub fn argv(config: &ChecksConfig) -> Result<Vec<String>, ChecksConfigError> {
    split("command", &config.command)
}

/// The variables `checks.env` sets, in the order given.
pub fn extra_env(config: &ChecksConfig) -> Result<Vec<(String, String)>, ChecksConfigError> {
    split("env", &config.env)?
        .into_iter()
        .map(|word| {
            let Some((name, value)) = word.split_once('=') else {
                return Err(ChecksConfigError::NotAnAssignment { word });
            };
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ChecksConfigError::NotAnAssignment { word });
            }
            if never_passed(name) {
                return Err(ChecksConfigError::Refused {
                    name: name.to_owned(),
                });
            }
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn split(key: &'static str, value: &str) -> Result<Vec<String>, ChecksConfigError> {
    shlex::split(value).ok_or_else(|| ChecksConfigError::Unsplittable {
        key,
        value: value.to_owned(),
    })
}
