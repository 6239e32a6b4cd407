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

    /// The feedback a reply's marker names: the marker must be the body's last line (one
    /// quoted inside a code block is not at the end).
    fn answered_by(body: &str) -> Option<Self> {
        static MARKER: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^<!-- clambake:rework-of (review|comment) ([0-9]{1,19}) -->$")
                .expect("the marker's pattern compiles")
        });
        let captures = MARKER.captures(body.lines().next_back()?.trim())?;
        let id = captures[2].parse().ok()?;
        Some(match &captures[1] {
            "review" => Self::Review(id),
            _ => Self::Comment(id),
        })
    }
}

/// What Clambake's replies on a pull request say was already handled: the newest review and
/// the newest comment each acted on. Feedback up to them is never acted on again, so neither
/// a restart nor an edited or old review sends anyone back twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handled {
    review: Option<u64>,
    comment: Option<u64>,
}

impl Handled {
    /// From the bodies of Clambake's own comments on the pull request. Only its own should be
    /// passed: anyone can write a marker.
    pub fn from_replies<'a>(bodies: impl IntoIterator<Item = &'a str>) -> Self {
        let mut handled = Self::default();
        for feedback in bodies.into_iter().filter_map(Feedback::answered_by) {
            let newest = match feedback {
                Feedback::Review(id) => (&mut handled.review, id),
                Feedback::Comment(id) => (&mut handled.comment, id),
            };
            *newest.0 = Some(newest.0.map_or(newest.1, |seen| seen.max(newest.1)));
        }
        handled
    }

    /// Whether `feedback` is at or before what was handled.
    pub fn covers(self, feedback: Feedback) -> bool {
        match feedback {
            Feedback::Review(id) => self.review.is_some_and(|newest| id <= newest),
            Feedback::Comment(id) => self.comment.is_some_and(|newest| id <= newest),
        }
    }
}

/// A review or comment on one of Clambake's pull requests, as the forge reports it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub feedback: Feedback,
    /// Whether its author's word is acted on: the repository's owner, a member or a
    /// collaborator, or Clambake's own login.
    pub trusted: bool,
    /// A review whose verdict is "changes requested".
    pub changes_requested: bool,
    pub body: &'a str,
}

/// What a piece of feedback asks of a pull request carrying `members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Send these members back, with this text for their agents.
    SendBack { issues: Vec<u64>, text: String },
    /// It names issues, none of them a member: nothing is sent back, and the reply says so.
    NoMember { named: Vec<u64> },
    /// Nothing: no command, no changes requested, or an author whose word is not acted on.
    Nothing,
}

/// What `received` asks of a pull request carrying `members`. A `/clambake rework` command (in
/// a comment or any review) sends back the members it names, with its reason. A "changes
/// requested" review without one sends back the members its body names as `#N`, or all of
/// them when it names none (a verdict on the whole pull request), with its whole body. An
/// untrusted author's feedback asks nothing.
pub fn asked(received: &Received<'_>, members: &[u64]) -> Asked {
    if !received.trusted {
        return Asked::Nothing;
    }
    let (named, text) = match parse_command(received.body) {
        Some(command) => (command.issues, command.why),
        None if received.changes_requested => {
            (named_issues(received.body), received.body.trim().to_owned())
        }
        None => return Asked::Nothing,
    };
    let issues: Vec<u64> = if named.is_empty() {
        members.to_vec()
    } else {
        members
            .iter()
            .copied()
            .filter(|m| named.contains(m))
            .collect()
    };
    if issues.is_empty() {
        Asked::NoMember { named }
    } else {
        Asked::SendBack { issues, text }
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
/// names no issue, or has anything else before the colon, is no command; nor is one in code
/// (fenced, or indented by four spaces or a tab): quoted output, such as a check's, is not
/// its author's word.
pub fn parse_command(body: &str) -> Option<ReworkCommand> {
    static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^/clambake[ \t]+rework[ \t]+((?:#[0-9]{1,19}[ \t,]*)+)(?::(.*))?$")
            .expect("the rework command's pattern compiles")
    });
    let mut fence: Option<(char, usize)> = None;
    body.lines().find_map(|line| {
        let trimmed = line.trim();
        let run = |c: char| trimmed.chars().take_while(|x| *x == c).count();
        let opened = ['`', '~']
            .into_iter()
            .map(|c| (c, run(c)))
            .find(|(_, n)| *n >= 3);
        match (fence, opened) {
            (None, Some(opened)) => {
                fence = Some(opened);
                return None;
            }
            (Some((c, n)), Some((d, m))) if c == d && m >= n && trimmed.len() == m => {
                fence = None;
                return None;
            }
            (Some(_), _) => return None,
            (None, None) => {}
        }
        if line.starts_with("    ") || line.starts_with('\t') {
            return None;
        }
        let captures = COMMAND.captures(trimmed)?;
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
            parse_command("```\ncode\n```\n  /clambake rework #5: after the fence"),
            Some(ReworkCommand {
                issues: vec![5],
                why: "after the fence".to_owned()
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
            "```\n/clambake rework #12: in a fenced block\n```",
            "~~~~\n```\n/clambake rework #12: still fenced\n~~~~",
            "Output:\n\n    /clambake rework #12: indented code",
            "\t/clambake rework #12: indented by a tab",
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

    fn review(id: u64, trusted: bool, changes_requested: bool, body: &str) -> Received<'_> {
        Received {
            feedback: Feedback::Review(id),
            trusted,
            changes_requested,
            body,
        }
    }

    #[test]
    fn changes_requested_sends_back_the_members_it_names_or_all() {
        let members = [4, 7, 9];
        assert_eq!(
            asked(
                &review(1, true, true, "#7 breaks the parser (see #99)"),
                &members
            ),
            Asked::SendBack {
                issues: vec![7],
                text: "#7 breaks the parser (see #99)".to_owned()
            }
        );
        assert_eq!(
            asked(&review(1, true, true, " All of it is wrong. "), &members),
            Asked::SendBack {
                issues: vec![4, 7, 9],
                text: "All of it is wrong.".to_owned()
            }
        );
        assert_eq!(
            asked(&review(1, true, true, "#99 is not here"), &members),
            Asked::NoMember { named: vec![99] }
        );
        assert_eq!(
            asked(
                &review(1, true, true, "/clambake rework #9: only this"),
                &members
            ),
            Asked::SendBack {
                issues: vec![9],
                text: "only this".to_owned()
            }
        );
    }

    #[test]
    fn commands_act_from_trusted_authors_only() {
        let members = [4, 7];
        let comment = |trusted, body| Received {
            feedback: Feedback::Comment(3),
            trusted,
            changes_requested: false,
            body,
        };
        assert_eq!(
            asked(&comment(true, "/clambake rework #4: add a test"), &members),
            Asked::SendBack {
                issues: vec![4],
                text: "add a test".to_owned()
            }
        );
        assert_eq!(
            asked(&comment(false, "/clambake rework #4: add a test"), &members),
            Asked::Nothing
        );
        assert_eq!(
            asked(&review(2, false, true, "#4 is wrong"), &members),
            Asked::Nothing,
            "a stranger's review"
        );
        assert_eq!(
            asked(&comment(true, "#4 looks wrong to me"), &members),
            Asked::Nothing,
            "a remark is no command"
        );
        assert_eq!(
            asked(&review(2, true, false, "Approved, #4 is fine"), &members),
            Asked::Nothing
        );
    }

    #[test]
    fn replies_say_what_was_handled_up_to_where() {
        let reply = |feedback: Feedback| format!("Sent #4 back.\n{}", feedback.marker());
        let replies = [
            reply(Feedback::Review(17)),
            reply(Feedback::Review(12)),
            reply(Feedback::Comment(5)),
            format!("`{}`", Feedback::Review(40).marker()),
            format!("{}\nnot last", Feedback::Review(41).marker()),
        ];
        let handled = Handled::from_replies(replies.iter().map(String::as_str));
        assert!(handled.covers(Feedback::Review(17)));
        assert!(
            handled.covers(Feedback::Review(3)),
            "older than the newest handled"
        );
        assert!(!handled.covers(Feedback::Review(18)));
        assert!(!handled.covers(Feedback::Review(40)), "a quoted marker");
        assert!(
            !handled.covers(Feedback::Review(41)),
            "a marker not at the end"
        );
        assert!(handled.covers(Feedback::Comment(5)));
        assert!(!handled.covers(Feedback::Comment(6)));
        assert!(!Handled::default().covers(Feedback::Comment(1)));
    }
}
