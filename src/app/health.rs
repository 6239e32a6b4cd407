//! What one check found: its health, what it saw, and what to do about a failure. `doctor`
//! reports these, and the agent checks that `run` makes before it claims are the same.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub health: Health,
    pub detail: String,
    /// What to do, for a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            health: Health::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn problem(
        name: &'static str,
        health: Health,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name,
            health,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}
