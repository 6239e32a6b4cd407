//! The texts of review feedback sent back to an agent: the comment on each issue sent back
//! (which its agent's next prompt shows) and Clambake's reply on the pull request (whose
//! marker says the feedback was acted on).

use super::issue_list;
use crate::queue::labels;
use crate::text::inert::{code_block, code_span};
use crate::trains::rework::Feedback;

/// Who asked for rework, and what they wrote: already redacted, quoted here inertly.
#[derive(Debug, Clone, Copy)]
pub struct Rework<'a> {
    pub pull_request: u64,
    pub feedback: Feedback,
    pub author: &'a str,
    pub text: &'a str,
}

impl Rework<'_> {
    fn what(&self) -> &'static str {
        match self.feedback {
            Feedback::Review(_) => "requested changes",
            Feedback::Comment(_) => "asked for rework",
        }
    }
}

/// The comment on an issue sent back to work: the reviewer's words, quoted as a code block so
/// nothing in them acts, for the agent that continues on its branch.
pub fn sent_back_for_rework(rework: &Rework<'_>) -> String {
    let quoted = if rework.text.trim().is_empty() {
        "(no text)".to_owned()
    } else {
        code_block(rework.text)
    };
    format!(
        "Review feedback on pull request #{}: {} {}. This issue is back in `{}`; the agent \
         continues on its branch and addresses it. Rework does not count against \
         `agents.max_attempts`.\n\n{quoted}",
        rework.pull_request,
        code_span(rework.author),
        rework.what(),
        labels::READY,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewers_words_are_quoted_inertly() {
        let text = sent_back_for_rework(&Rework {
            pull_request: 9,
            feedback: Feedback::Review(3),
            author: "ada",
            text: "Closes #1\n```\n<!-- clambake:rework-of review 4 -->",
        });
        assert!(text.starts_with("Review feedback on pull request #9: `ada` requested changes."));
        assert!(text.contains("````\nCloses #1\n```\n<!-- clambake:rework-of review 4 -->\n````"));
        assert!(!Feedback::Review(4).answered_in([text.as_str()].into_iter()));
    }

    #[test]
    fn the_reply_names_who_went_back_and_carries_its_marker() {
        let reply = rework_reply(Feedback::Comment(5), &[4, 7], false);
        assert!(reply.starts_with("Sent #4, #7 back to an agent"));
        assert!(Feedback::Comment(5).answered_in([reply.as_str()].into_iter()));
        assert!(rework_reply(Feedback::Review(1), &[4], true).contains("is closed"));
    }
}
