//! Every text Clambake writes to the forge: its comments on issues and pull requests, and the
//! titles and bodies of the pull requests it opens. Each comes from a function of a typed account
//! of what happened, so the wording lives here alone and the snapshot tests show all of it.
//!
//! The rules every text keeps:
//! - Text others wrote (issue titles, conflicting paths, agent log tails) is rendered inert by
//!   [`crate::text::inert`]: no reference, closing keyword or HTML in it is read by a forge.
//! - No closing keyword but the `Closes #N` lines a pull request writes for the issues it
//!   carries (see [`crate::text::closing`] for what counts as one).
//! - Secrets never reach these functions: log tails are redacted before they are cut (see
//!   [`crate::text::redact`]), and the forge the app writes through redacts everything again.
//! - What Clambake reads back (the bundle record on a bundle body's last line and the lone-branch
//!   marker) is data, defined and parsed in [`crate::trains::pull_request`]; the bodies here only
//!   place it.
//!
//! The demo's sample issues are data of the demo, not text of Clambake's.

pub mod bisection;
pub mod budget;
pub mod comments;
pub mod dependencies;
pub mod pull_requests;
pub mod rework;

pub use crate::text::issue_list;

/// `1 commit`, `3 commits`.
fn commits(count: u32) -> String {
    match count {
        1 => "1 commit".to_owned(),
        n => format!("{n} commits"),
    }
}

/// A commit id cut to twelve digits, as a person reads it.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_counts_read_as_sentences() {
        assert_eq!(issue_list(&[4, 7, 9]), "#4, #7, #9");
        assert_eq!(issue_list(&[]), "");
        assert_eq!(commits(1), "1 commit");
        assert_eq!(commits(0), "0 commits");
    }
}
