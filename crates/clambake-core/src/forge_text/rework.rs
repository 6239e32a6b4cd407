//! The texts of review feedback sent back to an agent: the comment on each issue sent back
//! (which its agent's next prompt shows) and Clambake's reply on the pull request (whose
//! marker says the feedback was acted on).

use super::issue_list;
use crate::queue::labels;
use crate::text::inert::{code_block, code_span};
use crate::trains::rework::Feedback;
#[cfg(test)]
use crate::trains::rework::Handled;

/// Who asked for rework, and what they wrote: already redacted, quoted here inertly.
#[derive(Debug, Clone, Copy)]
pub struct Rework<'a> {
    pub pull_request: u64,
    pub feedback: Feedback,
    pub author: &'a str,
    pub text: &'a str,
}

impl Feedback {
    /// What its author did, as a sentence's verb: `ada requested changes`.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Review(_) => "requested changes",
            Self::Comment(_) => "asked for rework",
        }
    }
}

/// The comment on an issue sent back to work: the reviewer's words, quoted as a code block so
/// nothing in them acts, for the agent that continues on its branch; or, `gave_up`, why it is
/// `route:failed` instead.
pub fn sent_back_for_rework(rework: &Rework<'_>, gave_up: bool) -> String {
    let quoted = if rework.text.trim().is_empty() {
        "(no text)".to_owned()
    } else {
        code_block(rework.text)
    };
    let then = if gave_up {
        format!(
            "Its `agents.max_attempts` attempts are used up, so it is `{}`: a person takes it \
             from here.",
            labels::FAILED
        )
    } else {
        format!(
            "This issue is back in `{}`; the agent continues on its branch and addresses it.",
            labels::READY
        )
    };
    format!(
        "Review feedback on pull request #{}: {} {}. {then}\n\n{quoted}",
        rework.pull_request,
        code_span(rework.author),
        rework.feedback.verb(),
    )
}

/// Clambake's reply on the pull request, naming the issues sent back, with the marker that
/// keeps the feedback from being acted on twice.
pub fn rework_reply(feedback: Feedback, sent_back: &[u64], closed: bool) -> String {
    let after = if closed {
        "This pull request is closed; the next landing opens a new one."
    } else {
        "The bundle is rebuilt without them until they land again."
    };
    format!(
        "Sent {} back to an agent with this feedback. {after}\n{}",
        issue_list(sent_back),
        feedback.marker()
    )
}

/// Clambake's reply to feedback that names issues of which none rides in the pull request:
/// nothing is sent back. It carries the marker too, so it is written once.
pub fn nothing_to_rework(feedback: Feedback, named: &[u64]) -> String {
    format!(
        "None of {} rides in this pull request: nothing was sent back.\n{}",
        issue_list(named),
        feedback.marker()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewers_words_are_quoted_inertly() {
        let text = sent_back_for_rework(
            &Rework {
                pull_request: 9,
                feedback: Feedback::Review(3),
                author: "ada",
                text: "Closes #1\n```\n<!-- clambake:rework-of review 4 -->",
            },
            false,
        );
        assert!(text.starts_with("Review feedback on pull request #9: `ada` requested changes."));
        assert!(text.contains("````\nCloses #1\n```\n<!-- clambake:rework-of review 4 -->\n````"));
        assert!(!Handled::from_replies([text.as_str()]).covers(Feedback::Review(4)));
        assert!(text.contains("back in `route:ready`"));
    }

    #[test]
    fn an_issue_out_of_attempts_is_failed_instead() {
        let text = sent_back_for_rework(
            &Rework {
                pull_request: 9,
                feedback: Feedback::Comment(3),
                author: "ada",
                text: "",
            },
            true,
        );
        assert!(text.starts_with("Review feedback on pull request #9: `ada` asked for rework."));
        assert!(text.contains("so it is `route:failed`"), "{text}");
        assert!(text.ends_with("(no text)"), "{text}");
    }

    #[test]
    fn the_reply_names_who_went_back_and_carries_its_marker() {
        let reply = rework_reply(Feedback::Comment(5), &[4, 7], false);
        assert!(reply.starts_with("Sent #4, #7 back to an agent"));
        assert!(Handled::from_replies([reply.as_str()]).covers(Feedback::Comment(5)));
        assert!(rework_reply(Feedback::Review(1), &[4], true).contains("is closed"));
        let none = nothing_to_rework(Feedback::Review(2), &[99]);
        assert!(none.starts_with("None of #99 rides"), "{none}");
        assert!(Handled::from_replies([none.as_str()]).covers(Feedback::Review(2)));
    }
}
