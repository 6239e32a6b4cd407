//! Directives that steer the built-in simulated agent, written in an issue's body, so that
//! demos and tests can stage conflicts and failures deterministically:
//!
//! ```text
//! simulate: edit src/shared.rs      (also append a line to this file: two issues editing
//!                                    the same file conflict)
//! simulate: outcome crash           (success | crash | hang | no-commits | error)
//! simulate: pause 300               (think this many milliseconds before working: a slow
//!                                    agent, silent meanwhile)
//! simulate: cost 1.50               (report having cost $1.50 once started, then at the end)
//! ```

use std::time::Duration;

use crate::config::Usd;

/// How the simulated agent behaves on one issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// Files to append a line to, besides the agent's own file; relative, inside the worktree.
    pub edits: Vec<String>,
    pub behaviour: Behaviour,
    /// How long the agent thinks, silent, before it works.
    pub pause: Option<Duration>,
    /// What the attempt reports it cost, as soon as it starts and in its result.
    pub cost: Usd,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// Commits its work and reports success.
    #[default]
    Succeed,
    /// Writes its work, then dies without committing or reporting a result.
    Crash,
    /// Says hello and then nothing more, until it is stopped.
    Hang,
    /// Reports success without changing anything.
    NoCommits,
    /// Reports an error result after doing nothing.
    Error,
}

const PREFIX: &str = "simulate:";

/// Reads the directives from `text` (an issue body, or a prompt that contains one). Unknown or
/// unsafe directives are ignored: a path must be relative and stay inside the worktree.
pub fn parse(text: &str) -> Directives {
    let mut directives = Directives::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(PREFIX) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        match (words.next(), words.next()) {
            (Some("edit"), Some(path))
                if is_safe_path(path) && !directives.edits.iter().any(|p| p == path) =>
            {
                directives.edits.push(path.to_owned());
            }
            (Some("pause"), Some(millis)) => {
                if let Ok(millis) = millis.parse() {
                    directives.pause = Some(Duration::from_millis(millis));
                }
            }
            (Some("outcome"), Some(word)) => {
                directives.behaviour = match word {
                    "crash" => Behaviour::Crash,
                    "hang" => Behaviour::Hang,
                    "no-commits" => Behaviour::NoCommits,
                    "error" => Behaviour::Error,
                    "success" => Behaviour::Succeed,
                    _ => directives.behaviour,
                }
            }
            (Some("cost"), Some(amount)) => {
                if let Some(cost) = amount.parse().ok().and_then(Usd::new) {
                    directives.cost = cost;
                }
            }
            _ => {}
        }
    }
    directives
}

fn is_safe_path(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && part != ".git")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_said_means_a_plain_success() {
        assert_eq!(parse("Fix the bug.\nThanks!"), Directives::default());
    }

    #[test]
    fn edits_and_outcomes_are_read_from_any_line() {
        let directives = parse(
            "Please do it.\n  simulate: edit src/shared.rs\nsimulate: edit docs/a.md\n\
             simulate: edit src/shared.rs\nsimulate: outcome crash\n",
        );
        assert_eq!(directives.edits, ["src/shared.rs", "docs/a.md"]);
        assert_eq!(directives.behaviour, Behaviour::Crash);
    }

    #[test]
    fn every_outcome_word_is_understood() {
        for (word, behaviour) in [
            ("success", Behaviour::Succeed),
            ("crash", Behaviour::Crash),
            ("hang", Behaviour::Hang),
            ("no-commits", Behaviour::NoCommits),
            ("error", Behaviour::Error),
        ] {
            assert_eq!(
                parse(&format!("simulate: outcome {word}")).behaviour,
                behaviour
            );
        }
        assert_eq!(
            parse("simulate: outcome explode").behaviour,
            Behaviour::Succeed
        );
    }

    #[test]
    fn a_pause_is_read_in_milliseconds_and_a_malformed_one_ignored() {
        assert_eq!(
            parse("simulate: pause 250\nsimulate: edit a.md").pause,
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse("simulate: pause soon").pause, None);
        assert_eq!(parse("simulate: pause -5").pause, None);
    }

    #[test]
    fn a_cost_is_read_and_a_bad_one_ignored() {
        assert_eq!(parse("simulate: cost 2.5").cost, Usd::new(2.5).unwrap());
        assert_eq!(
            parse("simulate: cost -1\nsimulate: cost x").cost,
            Usd::default()
        );
    }

    #[test]
    fn paths_outside_the_worktree_are_ignored() {
        for path in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            ".git/config",
            "a//b",
            "./a",
            "a\\b",
        ] {
            assert!(
                parse(&format!("simulate: edit {path}")).edits.is_empty(),
                "{path}"
            );
        }
    }
}
