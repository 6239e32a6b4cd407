//! Review feedback on Clambake's pull requests, read as data: which issues a "changes
//! requested" review or a `/clambake rework` command sends back, and the marker that says a
//! piece of feedback was acted on. Every body read here was written by someone else, so the
//! parsing is strict: a command is a line of its own, and anything else is not one.

use std::sync::LazyLock;

use regex::Regex;

/// The command word, at the start of a line of a comment.
pub const REWORK_COMMAND: &str = "/clambake rework";

/// A piece of feedback on a pull request, by the forge's id: each is acted on once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feedback {
    Review(u64),
    Comment(u64),
}

impl Feedback {
    /// The hidden marker Clambake's reply carries, so a restart does not act twice.
    pub fn marker(self) -> String {
        match self {
            Self::Review(id) => format!("<!-- clambake:rework-of review {id} -->"),
            Self::Comment(id) => format!("<!-- clambake:rework-of comment {id} -->"),
        }
    }

    /// Whether one of `bodies` (the pull request's comments) is the reply to this feedback:
    /// it ends in the marker (a marker quoted inside a code block is not at the end). Only
    /// Clambake's own comments should be passed: anyone can write a marker.
    pub fn answered_in<'a>(self, mut bodies: impl Iterator<Item = &'a str>) -> bool {
        let marker = self.marker();
        bodies.any(|body| body.lines().next_back().map(str::trim) == Some(marker.as_str()))
    }
}

/// A `/clambake rework #12 #13: why` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReworkCommand {
    /// The issues named, in order, each once.
    pub issues: Vec<u64>,
    /// The reason after the colon, trimmed; may be empty.
    pub why: String,
}

/// The first rework command in `body`: a line that starts with `/clambake rework`, then one
/// or more `#N` separated by spaces or commas, then optionally `:` and the reason. A line that
/// names no issue, or has anything else before the colon, is no command.
pub fn parse_command(body: &str) -> Option<ReworkCommand> {
    static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^/clambake[ \t]+rework[ \t]+((?:#[0-9]{1,19}[ \t,]*)+)(?::(.*))?$")
            .expect("the rework command's pattern compiles")
    });
    body.lines().find_map(|line| {
        let captures = COMMAND.captures(line.trim())?;
        let issues = numbers(&captures[1]);
        if issues.is_empty() {
            return None;
        }
        let why = captures.get(2).map_or("", |m| m.as_str()).trim().to_owned();
        Some(ReworkCommand { issues, why })
    })
}

/// The issues a review's body names as `#N` (not inside a longer word or number), in order,
/// each once: on a bundle, the members it sends back.
pub fn named_issues(body: &str) -> Vec<u64> {
    numbers(body)
}

fn numbers(text: &str) -> Vec<u64> {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|[^\w#&/])#([0-9]{1,19})\b").expect("the reference pattern compiles")
    });
    let mut found = Vec::new();
    for captures in REFERENCE.captures_iter(text) {
        if let Ok(number) = captures[1].parse::<u64>()
            && number > 0
            && !found.contains(&number)
        {
            found.push(number);
        }
    }
    found
}

/// Which of `members` feedback sends back: those it names that are members, or, when it names
/// none of them, all of them (a bundle's "changes requested" that names no one is about the
/// whole bundle).
pub fn sent_back(named: &[u64], members: &[u64]) -> Vec<u64> {
    let chosen: Vec<u64> = members
        .iter()
        .copied()
        .filter(|m| named.contains(m))
        .collect();
    if chosen.is_empty() {
        members.to_vec()
    } else {
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_names_issues_and_a_reason() {
        assert_eq!(
            parse_command("/clambake rework #12: the parser drops comments"),
            Some(ReworkCommand {
                issues: vec![12],
                why: "the parser drops comments".to_owned()
            })
        );
        assert_eq!(
            parse_command("Thanks!\n  /clambake rework #12 #13, #12 : both wrong\nmore"),
            Some(ReworkCommand {
                issues: vec![12, 13],
                why: "both wrong".to_owned()
            })
        );
        assert_eq!(
            parse_command("/clambake rework #4"),
            Some(ReworkCommand {
                issues: vec![4],
                why: String::new()
            })
        );
    }

    #[test]
    fn anything_else_is_no_command() {
        for body in [
            "",
            "/clambake rework",
            "/clambake rework: no issue",
            "/clambake rework all: of it",
            "/clambake rework #12 please: text before the colon",
            "please /clambake rework #12: not at the start of a line",
            "> /clambake rework #12: quoted",
            "`/clambake rework #12: in code`",
            "/clambake reworks #12: another word",
            "/clambake rework #99999999999999999999: too long a number",
            "/clambake rework #0: no issue zero",
        ] {
            assert_eq!(parse_command(body), None, "{body:?}");
        }
    }

    #[test]
    fn reviews_name_issues_by_reference_only() {
        assert_eq!(
            named_issues("#4 is wrong, and so is #7 (see #4); not a#5, &#6; or 1#8, x/#9"),
            vec![4, 7]
        );
        assert_eq!(
            named_issues("No references here, issue 4."),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn feedback_naming_no_member_sends_back_all() {
        assert_eq!(sent_back(&[7, 99], &[4, 7, 9]), vec![7]);
        assert_eq!(sent_back(&[99], &[4, 7, 9]), vec![4, 7, 9]);
        assert_eq!(sent_back(&[], &[4]), vec![4]);
    }

    #[test]
    fn a_reply_is_found_by_its_marker_alone() {
        let review = Feedback::Review(17);
        let reply = format!("Sent back #4.\n{}", review.marker());
        assert!(review.answered_in([reply.as_str()].into_iter()));
        assert!(!Feedback::Comment(17).answered_in([reply.as_str()].into_iter()));
        assert!(!Feedback::Review(1).answered_in([reply.as_str()].into_iter()));
        let quoted = format!("`{}`", review.marker());
        assert!(!review.answered_in([quoted.as_str()].into_iter()));
    }
}
