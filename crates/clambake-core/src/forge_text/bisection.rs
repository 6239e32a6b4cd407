//! The texts of a bundle's checks and bisection: the comment on a culprit sent back (the
//! failing output quoted inertly, so it reaches the agent's next prompt as data), the comment
//! on a bundle whose checks passed, and one line per bisection step for `bundle --status`.

use crate::queue::labels;
use crate::text::inert::{code_block, code_span};
use crate::trains::bisect::{Purpose, Step, Verdict};
use crate::trains::check_log::CheckEvent;

use super::issue_list;

/// A member whose checks failed in bundle pull request `pull_request`.
#[derive(Debug, Clone, Copy)]
pub struct Culprit<'a> {
    pub pull_request: u64,
    /// One line: which check failed and how (from the checks, quoted inertly).
    pub summary: &'a str,
    /// Where the whole log is, when the checks say.
    pub details: Option<&'a str>,
    /// The failing output's last lines, already redacted.
    pub tail: &'a str,
    /// `agents.max_attempts` is used up: the issue goes to `route:failed`, not back to work.
    pub gave_up: bool,
}

/// The comment on a culprit's issue as it is taken out of its bundle.
pub fn culprit(culprit: &Culprit<'_>) -> String {
    let then = if culprit.gave_up {
        format!(
            "Its attempts are used up (`agents.max_attempts`): it is now `{}`. Label it `{}` to \
             try again.",
            labels::FAILED,
            labels::READY
        )
    } else {
        format!(
            "It is back in `{}`: its next attempt has this failure in its prompt, and must make \
             these checks pass.",
            labels::READY
        )
    };
    let details = culprit
        .details
        .map(|d| format!("\n\nThe whole log: {}", code_span(d)))
        .unwrap_or_default();
    format!(
        "The checks of bundle pull request #{} failed, and bisecting it found this issue's \
         branch to blame: the bundle is rebuilt without it. {then}\n\n\
         Failed: {}{details}\n\n{}",
        culprit.pull_request,
        code_span(culprit.summary),
        code_block(culprit.tail.trim_end())
    )
}

/// The comment on a bundle whose checks passed (with `verdict`, and `checks` run in all).
pub fn checks_passed(verdict: &Verdict, checks: usize) -> String {
    let how = if verdict.flaky_rerun_passed {
        " on a rerun, after a failure blamed on nobody (flaky)".to_owned()
    } else {
        String::new()
    };
    let checked = match checks {
        1 => "1 check".to_owned(),
        n => format!("{n} checks"),
    };
    format!(
        "Clambake's checks passed on this bundle's tip{how}, {checked} in all, with {}. It is \
         ready for review.",
        issue_list(&verdict.kept)
    )
}

/// The comment on a bundle whose base fails its checks alone: nobody is blamed, and it waits.
pub fn base_broken(base: &str) -> String {
    format!(
        "Clambake's checks fail on {} alone, without any of this bundle's members: nobody is \
         blamed, and the bundle waits for the base to be fixed.",
        code_span(base)
    )
}

/// The comment closing a bundle whose checks took every member out.
pub fn all_taken_out(culprits: &[u64]) -> String {
    format!(
        "Clambake's checks failed with every member of this bundle ({}): each is back in the \
         queue, and the bundle is closed.",
        issue_list(culprits)
    )
}

/// The comment closing a bundle whose remaining members no longer merge without its culprits.
pub fn rest_conflicts(member: u64) -> String {
    format!(
        "Clambake's checks took this bundle's culprits out, and #{member} does not merge \
         without them: the bundle is closed, and the next train plans the rest afresh."
    )
}

/// `3. #1, #2, #3 on the base (a part): failed`: a step for a person.
pub fn step_line(number: usize, step: &Step) -> String {
    checked_line(
        number,
        &step.trial.members,
        step.purpose,
        None,
        Some(step.passed),
    )
}

/// One event of a bundle's checks as the journal keeps it, for `bundle --status`.
pub fn event_line(event: &CheckEvent) -> String {
    match event {
        CheckEvent::Checked {
            step,
            members,
            purpose,
            commit,
            passed,
            ..
        } => checked_line(*step, members, *purpose, Some(commit.as_deref()), *passed),
        CheckEvent::Verdict {
            base_broken: true, ..
        } => "verdict: the base fails alone, nobody is blamed".to_owned(),
        CheckEvent::Verdict {
            culprits,
            kept,
            flaky_rerun_passed,
            ..
        } => match culprits.as_slice() {
            [] if *flaky_rerun_passed => {
                format!(
                    "verdict: passed on a rerun (flaky), with {}",
                    issue_list(kept)
                )
            }
            [] => format!("verdict: passed, with {}", issue_list(kept)),
            culprits => format!(
                "verdict: {} to blame, {} kept",
                issue_list(culprits),
                if kept.is_empty() {
                    "none".to_owned()
                } else {
                    issue_list(kept)
                }
            ),
        },
        CheckEvent::Rebuilt {
            without,
            kept,
            open: true,
        } => format!(
            "rebuilt without {}, with {}, to be checked again",
            issue_list(without),
            issue_list(kept)
        ),
        CheckEvent::Rebuilt { without, .. } => {
            format!("closed rather than rebuilt without {}", issue_list(without))
        }
    }
}

/// A check of `members` on the base; `commit`: the commit it ran on, when known (`Some(None)`:
/// they did not merge); `passed`: `None` while it runs.
fn checked_line(
    number: usize,
    members: &[u64],
    purpose: Purpose,
    commit: Option<Option<&str>>,
    passed: Option<bool>,
) -> String {
    let what = match members {
        [] => "the base alone".to_owned(),
        members => format!("{} on the base", issue_list(members)),
    };
    let why = match purpose {
        Purpose::Bundle => "the whole bundle",
        Purpose::Rerun => "a rerun, in case it was flaky",
        Purpose::Part => "a part on the parts before it",
        Purpose::Rest => "the rest after a culprit",
        Purpose::Base => "the base, as the first member failed alone",
    };
    let on = match commit {
        None => String::new(),
        Some(None) => ", which did not merge".to_owned(),
        Some(Some(commit)) => format!(" on {}", &commit[..commit.len().min(12)]),
    };
    let result = match passed {
        Some(true) => "passed",
        Some(false) => "failed",
        None => "running",
    };
    format!("{number}. {what} ({why}){on}: {result}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trains::bisect::Trial;

    #[test]
    fn a_culprit_sent_back_has_the_failure_quoted_inertly() {
        let text = culprit(&Culprit {
            pull_request: 40,
            summary: "checks exited with 101 `closes #1`",
            details: Some(".clambake/checks/abc.log"),
            tail: "test foo ... FAILED\n```\nCloses #9 <!--",
            gave_up: false,
        });
        insta::assert_snapshot!(text);
        assert!(text.contains("````\ntest foo"));
    }

    #[test]
    fn a_culprit_out_of_attempts_is_failed() {
        let text = culprit(&Culprit {
            pull_request: 40,
            summary: "exit 1",
            details: None,
            tail: "boom",
            gave_up: true,
        });
        assert!(text.contains("route:failed") && !text.contains("The whole log"));
    }

    #[test]
    fn passed_and_base_broken_read_as_sentences() {
        let verdict = Verdict {
            kept: vec![1, 2],
            flaky_rerun_passed: true,
            ..Verdict::default()
        };
        insta::assert_snapshot!(checks_passed(&verdict, 2));
        insta::assert_snapshot!(base_broken("main"));
    }

    #[test]
    fn steps_say_what_was_checked_and_why() {
        let step = |members: Vec<u64>, purpose, passed| Step {
            trial: Trial { members, run: 0 },
            purpose,
            passed,
        };
        let lines = [
            step_line(1, &step(vec![1, 2, 3], Purpose::Bundle, false)),
            step_line(2, &step(vec![1], Purpose::Part, true)),
            step_line(3, &step(vec![], Purpose::Base, true)),
        ];
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn journalled_events_say_where_each_check_ran_and_how_it_ended() {
        let checked = |step, commit: Option<&str>, passed| CheckEvent::Checked {
            step,
            members: vec![1, 2],
            run: 0,
            purpose: Purpose::Part,
            commit: commit.map(str::to_owned),
            passed,
        };
        let lines = [
            event_line(&checked(2, Some("0123456789abcdef0123"), None)),
            event_line(&checked(2, Some("0123456789abcdef0123"), Some(false))),
            event_line(&checked(3, None, Some(false))),
            event_line(&CheckEvent::Verdict {
                culprits: vec![2],
                kept: vec![1, 3],
                flaky_rerun_passed: false,
                base_broken: false,
            }),
            event_line(&CheckEvent::Verdict {
                culprits: vec![],
                kept: vec![1, 3],
                flaky_rerun_passed: true,
                base_broken: false,
            }),
            event_line(&CheckEvent::Rebuilt {
                without: vec![2],
                kept: vec![1, 3],
                open: true,
            }),
            event_line(&CheckEvent::Rebuilt {
                without: vec![1, 2],
                kept: vec![],
                open: false,
            }),
        ];
        insta::assert_snapshot!(lines.join("\n"));
    }
}
