//! A commit's checks as a forge's CI reports them, check runs and commit statuses, judged as
//! one verdict; and the text that says CI never reported.

use super::output_tail;

/// Where bundle checks on the forge are pushed: a branch under this, which the repository's
/// CI must run on.
pub const CHECKS_BRANCH_PREFIX: &str = "clambake/checks/";

/// Check run conclusions that fail the commit.
const FAILING_CONCLUSIONS: &[&str] = &[
    "failure",
    "cancelled",
    "timed_out",
    "action_required",
    "startup_failure",
];
/// Check run conclusions that pass it.
const PASSING_CONCLUSIONS: &[&str] = &["success", "neutral", "skipped"];
/// Commit status states that fail it.
const FAILING_STATES: &[&str] = &["failure", "error"];

/// One check run, as read from the forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunReport {
    pub name: String,
    /// `queued`, `in_progress`, `completed`, ...
    pub status: String,
    /// Set once completed.
    pub conclusion: Option<String>,
    /// The page a person reads it on: its `html_url`, else its `details_url`.
    pub link: Option<String>,
    /// Its output's title, summary and text, each if any.
    pub output: Vec<String>,
}

/// One commit status (the latest of its context), as read from the forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub context: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// What the reports come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiVerdict {
    /// Nothing reported yet.
    Silent,
    /// Something runs, or is yet to.
    Pending,
    /// Everything completed, and well.
    Passed,
    Failed(CiFailure),
}

/// The first failing check, as a person should read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiFailure {
    /// One line naming the check and how it ended.
    pub summary: String,
    /// Where to read it whole.
    pub details: Option<String>,
    /// Its output, abridged; not yet redacted.
    pub tail: String,
}

/// Judges `runs` and `statuses` together: any failure fails (the first one found is told),
/// everything completed and passing passes, anything else is pending.
pub fn judge(runs: &[CheckRunReport], statuses: &[StatusReport]) -> CiVerdict {
    if let Some(run) = runs.iter().find(|run| {
        run.conclusion
            .as_deref()
            .is_some_and(|c| FAILING_CONCLUSIONS.contains(&c))
    }) {
        let conclusion = run.conclusion.as_deref().unwrap_or_default();
        let output = run.output.join("\n\n");
        return CiVerdict::Failed(CiFailure {
            summary: format!("the check run `{}` ended as {conclusion}", run.name),
            details: run.link.clone(),
            tail: if output.trim().is_empty() {
                "(the check run reported no output)".to_owned()
            } else {
                output_tail(&output)
            },
        });
    }
    if let Some(status) = statuses
        .iter()
        .find(|status| FAILING_STATES.contains(&status.state.as_str()))
    {
        let described = status
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty());
        return CiVerdict::Failed(CiFailure {
            summary: match described {
                Some(description) => format!(
                    "the commit status `{}` is {}: {description}",
                    status.context, status.state
                ),
                None => format!("the commit status `{}` is {}", status.context, status.state),
            },
            details: status.target_url.clone(),
            tail: described
                .unwrap_or("(the status reported no output)")
                .to_owned(),
        });
    }
    if runs.is_empty() && statuses.is_empty() {
        return CiVerdict::Silent;
    }
    let runs_passed = runs.iter().all(|run| {
        run.status == "completed"
            && run
                .conclusion
                .as_deref()
                .is_some_and(|c| PASSING_CONCLUSIONS.contains(&c))
    });
    let statuses_passed = statuses.iter().all(|status| status.state == "success");
    if runs_passed && statuses_passed {
        CiVerdict::Passed
    } else {
        CiVerdict::Pending
    }
}

/// Why a commit failed whose CI reported nothing within `minutes` of its push to `branch`.
pub fn silent_summary(branch: &str, minutes: u32) -> String {
    format!(
        "no check run or commit status was reported within {minutes} minutes of pushing \
         `{branch}`: CI may not run on pushes to {CHECKS_BRANCH_PREFIX} branches (run it on \
         pushes to {CHECKS_BRANCH_PREFIX}** and on pull requests)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, status: &str, conclusion: Option<&str>) -> CheckRunReport {
        CheckRunReport {
            name: name.to_owned(),
            status: status.to_owned(),
            conclusion: conclusion.map(str::to_owned),
            link: Some(format!("https://ci/{name}")),
            output: vec!["Tests".to_owned(), "1 failed".to_owned()],
        }
    }

    fn status(context: &str, state: &str) -> StatusReport {
        StatusReport {
            context: context.to_owned(),
            state: state.to_owned(),
            description: Some("Build broke".to_owned()),
            target_url: Some(format!("https://status/{context}")),
        }
    }

    #[test]
    fn nothing_reported_is_silent_and_all_passing_is_passed() {
        assert_eq!(judge(&[], &[]), CiVerdict::Silent);
        let done = [
            run("test", "completed", Some("success")),
            run("docs", "completed", Some("skipped")),
            run("lint", "completed", Some("neutral")),
        ];
        assert_eq!(judge(&done, &[status("ci", "success")]), CiVerdict::Passed);
        assert_eq!(judge(&done, &[]), CiVerdict::Passed);
        assert_eq!(judge(&[], &[status("ci", "success")]), CiVerdict::Passed);
    }

    #[test]
    fn anything_unfinished_is_pending() {
        let passed = run("test", "completed", Some("success"));
        for unfinished in [run("b", "queued", None), run("b", "in_progress", None)] {
            assert_eq!(
                judge(&[passed.clone(), unfinished], &[]),
                CiVerdict::Pending
            );
        }
        assert_eq!(
            judge(std::slice::from_ref(&passed), &[status("ci", "pending")]),
            CiVerdict::Pending
        );
        assert_eq!(
            judge(&[run("x", "completed", Some("stale"))], &[]),
            CiVerdict::Pending,
            "an unknown conclusion passes nothing"
        );
    }

    #[test]
    fn any_failing_conclusion_fails_naming_the_check_with_its_link_and_output() {
        for conclusion in FAILING_CONCLUSIONS {
            let runs = [
                run("lint", "completed", Some("success")),
                run("test", "completed", Some(conclusion)),
                run("slow", "in_progress", None),
            ];
            let CiVerdict::Failed(failure) = judge(&runs, &[]) else {
                panic!("{conclusion} fails");
            };
            assert!(failure.summary.contains("`test`"), "{}", failure.summary);
            assert!(failure.summary.contains(conclusion), "{}", failure.summary);
            assert_eq!(failure.details.as_deref(), Some("https://ci/test"));
            assert_eq!(failure.tail, "Tests\n1 failed");
        }
    }

    #[test]
    fn a_failing_status_fails_with_its_target() {
        for state in ["failure", "error"] {
            let verdict = judge(
                &[run("test", "completed", Some("success"))],
                &[status("jenkins", state)],
            );
            let CiVerdict::Failed(failure) = verdict else {
                panic!("{state} fails");
            };
            assert!(failure.summary.contains("`jenkins`"), "{}", failure.summary);
            assert!(
                failure.summary.contains("Build broke"),
                "{}",
                failure.summary
            );
            assert_eq!(failure.details.as_deref(), Some("https://status/jenkins"));
        }
    }

    #[test]
    fn a_long_output_is_abridged() {
        let mut long = run("test", "completed", Some("failure"));
        long.output = vec![(0..500).map(|i| format!("line {i}\n")).collect()];
        let CiVerdict::Failed(failure) = judge(&[long], &[]) else {
            panic!("fails");
        };
        assert!(failure.tail.contains("line 499"));
        assert!(!failure.tail.contains("line 3\n"));
        assert!(failure.tail.lines().count() < 50);
    }

    #[test]
    fn the_silent_summary_says_where_ci_must_run() {
        let text = silent_summary("clambake/checks/bundle-1", 30);
        assert!(text.contains("30 minutes"), "{text}");
        assert!(text.contains("clambake/checks/**"), "{text}");
        assert!(text.contains("pull requests"), "{text}");
    }
}
