//! Clambake's comments: on an issue when its work lands, fails, is retried, refused, bundled or
//! repaired by recovery, and on a bundle pull request it closes to rebuild.

use jiff::Timestamp;

use super::{commits, issue_list};
use crate::agents::events::AttemptTotals;
use crate::agents::outcome::Outcome;
use crate::queue::labels;
use crate::text::human_time::moment_from;
use crate::text::inert;

/// Finished work on an agent's branch, as landing tells it.
#[derive(Debug, Clone, Copy)]
pub struct Landing<'a> {
    pub agent: &'a str,
    pub branch: &'a str,
    pub commits_ahead: u32,
    /// What the attempt spent, when an attempt watched by Clambake did the work.
    pub totals: Option<&'a AttemptTotals>,
    /// The processes the agent left running, which Clambake stopped, when there were any.
    pub left_running: Option<&'a str>,
    /// Clambake committed what the agent left uncommitted: the last commit is not the agent's.
    pub committed_by_clambake: bool,
    /// The checks command that passed on the work, when checks are configured.
    pub checks_passed: Option<&'a str>,
}

impl Landing<'_> {
    /// `Landed by agent001: `agent001/4-x` is 2 commits ahead (3 turns, $0.0100).`
    pub(super) fn sentence(&self) -> String {
        let spent = self.totals.map_or_else(String::new, |totals| {
            let cost = totals
                .cost_usd
                .map_or_else(String::new, |c| format!(", ${c:.4}"));
            format!(" ({} turns{cost})", totals.turns)
        });
        format!(
            "Landed by {}: `{}` is {} ahead{spent}.",
            self.agent,
            self.branch,
            commits(self.commits_ahead)
        )
    }
}

/// The sentence a landing comment adds for work the built-in simulated agent made.
const SIMULATED_LANDING: &str = "**Simulated work:** Clambake's built-in simulated agent made \
     this branch (agents.real_processes = false, or the `simulated` runtime); nobody worked on \
     this issue.";

/// The comment on a landed issue: its pull request (`carried_by`), or, with bundling, `None`
/// as it waits for a train; marked when the work is `simulated`.
pub fn landed(landing: &Landing<'_>, carried_by: Option<u64>, simulated: bool) -> String {
    let landed = landing.sentence();
    let comment = match carried_by {
        Some(number) => format!("{landed} Pull request #{number} carries it."),
        None => format!("{landed} It waits for the next bundle train."),
    };
    let comment = match landing.checks_passed {
        Some(command) => format!("{comment} The checks (`{command}`) passed on it."),
        None => comment,
    };
    let comment = if landing.committed_by_clambake {
        format!(
            "{comment} The agent left its changes uncommitted: Clambake committed them as its \
             last commit."
        )
    } else {
        comment
    };
    let comment = match landing.left_running {
        Some(left) => format!("{comment} Note: {left}."),
        None => comment,
    };
    if simulated {
        format!("{comment}\n\n{SIMULATED_LANDING}")
    } else {
        comment
    }
}

/// How an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The agent ran and was judged: `outcome` for `reason`, its branch kept.
    Ended {
        agent: String,
        outcome: Outcome,
        reason: String,
        branch: String,
        commits_ahead: u32,
    },
    /// Clambake could not run the attempt at all.
    CouldNotRun { agent: String, error: String },
    /// Clambake's own task running the attempt crashed (a panic), with what it said.
    Crashed { agent: String, reason: String },
}

/// A failed attempt and its place among those `agents.max_attempts` allows.
#[derive(Debug, Clone, Copy)]
pub struct FailedAttempt<'a> {
    pub failure: &'a AttemptFailure,
    /// The attempts that have failed, this one included.
    pub failures: u32,
    pub max_attempts: u32,
}

impl FailedAttempt<'_> {
    /// `Attempt 2 of 3 by agent001 ended ...`
    pub(crate) fn summary(&self) -> String {
        let what = match self.failure {
            AttemptFailure::Ended {
                agent,
                outcome,
                reason,
                branch,
                commits_ahead,
            } => format!(
                "by {agent} ended `{outcome}`: {reason}. Its branch `{branch}` is kept ({} ahead).",
                commits(*commits_ahead)
            ),
            AttemptFailure::CouldNotRun { agent, error } => {
                format!("by {agent} could not run: {error}.")
            }
            AttemptFailure::Crashed { agent, reason } => format!("by {agent} crashed: {reason}."),
        };
        format!(
            "Attempt {} {what}",
            attempt_of(self.failures, self.max_attempts)
        )
    }
}

/// The comment on an issue put back in the queue: attempt `next` may start at `not_before`,
/// told as seen at `now`.
/// `checks_output` is the end of the checks' output when they failed, which the next attempt
/// is told too.
pub fn retrying(
    attempt: &FailedAttempt<'_>,
    next: u32,
    not_before: Timestamp,
    now: Timestamp,
    checks_output: Option<&str>,
) -> String {
    let output = checks_output.map_or_else(String::new, |tail| {
        format!(
            "\n\nThe end of the checks' output, which the next attempt is given:\n\n{}",
            inert::code_block(tail)
        )
    });
    format!(
        "{}{output}\n\nClambake will try again (attempt {}) after {}.",
        attempt.summary(),
        attempt_of(next, attempt.max_attempts),
        moment_from(not_before, now)
    )
}

/// What is left once the last attempt allowed has failed.
#[derive(Debug, Clone, Copy)]
pub struct GaveUp<'a> {
    /// What all the issue's attempts cost.
    pub cost_usd: f64,
    /// Where the work so far is kept.
    pub branch: &'a str,
    /// The end of the last attempt's log, secrets already redacted; shown as an inert block.
    pub log_tail: &'a str,
}

/// The comment on an issue marked `route:failed` after its last allowed attempt.
pub fn gave_up(attempt: &FailedAttempt<'_>, gave_up: &GaveUp<'_>) -> String {
    format!(
        "{}\n\nAll {} attempts failed, so this issue is now `{}`. Total cost: ${:.4}. The work \
         so far is on `{}`.\n\nThe end of the last attempt's {}:\n\n{}",
        attempt.summary(),
        attempt.failures,
        labels::FAILED,
        gave_up.cost_usd,
        gave_up.branch,
        match attempt.failure {
            AttemptFailure::Ended {
                outcome: Outcome::ChecksFailed,
                ..
            } => "checks' output",
            _ => "log",
        },
        inert::code_block(gave_up.log_tail),
    )
}

/// `2 of 3`: the `n`th counted attempt of `max`; past `max` (the limit was lowered since),
/// only `n`.
fn attempt_of(n: u32, max: u32) -> String {
    if n <= max {
        format!("{n} of {max}")
    } else {
        n.to_string()
    }
}

/// Work that shares no history with the base branch, so it can never merge.
#[derive(Debug, Clone, Copy)]
pub struct UnrelatedWork<'a> {
    pub branch: &'a str,
    pub base: &'a str,
    pub tip: &'a str,
    /// The reference its tip is kept under.
    pub archive: &'a str,
}

impl UnrelatedWork<'_> {
    /// The verdict in one sentence, as the refusal comment and Clambake's reports give it.
    pub fn verdict(&self) -> String {
        format!(
            "`{}` shares no history with `{}`, so it can never merge; no pull request was \
             opened, and its tip {} is kept under `{}`",
            self.branch, self.base, self.tip, self.archive
        )
    }
}

/// The comment on an issue marked `route:failed` because its work can never merge.
pub fn refused_unrelated(work: &UnrelatedWork<'_>) -> String {
    format!(
        "Clambake refused to land this work: {}. Its commits start from a root commit of their \
         own (as when a branch is deleted under a running agent). Move the work onto `{}` \
         (rebase or cherry-pick it), then label the issue `{}` to try again.",
        work.verdict(),
        work.base,
        labels::READY
    )
}

/// The comment on a member of bundle pull request `pull_request` (from `bundle_branch`), naming
/// the `others` it rides with. It ends in a marker, so the comment is one of a kind per bundle:
/// the bundler writes it once, comparing whole comments.
pub fn bundled(pull_request: u64, bundle_branch: &str, others: &[u64]) -> String {
    format!(
        "Bundled into pull request #{pull_request} (`{bundle_branch}`) with {}.\n\
         <!-- clambake:bundled-in #{pull_request} -->",
        issue_list(others)
    )
}

/// The comment on a bundle pull request closed because its `moved` members' branches moved
/// after it was bundled.
pub fn rebuilding(moved: &[u64]) -> String {
    format!(
        "Closed by the clambake bundler: {} moved after it was bundled; the next train rebuilds \
         the bundle.",
        issue_list(moved)
    )
}

/// The comment on an issue the train found `route:bundled` with no open bundle pull request
/// carrying it (the bundle it boarded merged or closed without it, or the label was set by
/// hand), as it sends it back to review.
pub fn bundled_but_carried_by_none() -> String {
    format!(
        "Clambake's train found this issue `{}`, but no open bundle pull request carries it. It \
         is back in `{}`, and the next train carries its work.",
        labels::BUNDLED,
        labels::REVIEW
    )
}

/// The comment on an issue the train found open and `route:bundled` although bundle pull
/// request `pull_request` merged its work into `base`, as it closes it.
pub fn merged_but_open(pull_request: u64, base: &str) -> String {
    format!(
        "Clambake's train found this issue still open, but bundle pull request #{pull_request} \
         merged its work into `{base}`: it is done, and closed."
    )
}

/// The comment recovery leaves on an issue it repaired: what it `found`, and what it `done`
/// about it, both of Clambake's own making (branch and agent names, counts).
pub fn recovery(found: &str, done: &str) -> String {
    format!("Clambake recovery: {found}; it {done}.")
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::agents::log::log_tail;
    use crate::text::redact::Redactor;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn landing_comments() {
        let totals = AttemptTotals {
            turns: 3,
            cost_usd: Some(0.01),
            ..AttemptTotals::default()
        };
        let landing = Landing {
            agent: "agent001",
            branch: "agent001/4-parse-pipes",
            commits_ahead: 2,
            totals: Some(&totals),
            left_running: None,
            committed_by_clambake: false,
            checks_passed: None,
        };
        let left_running = Landing {
            left_running: Some(
                "the agent left 1 process running (pid 4242: `sleep 60`), stopped by Clambake",
            ),
            ..landing
        };
        assert_snapshot!(
            "landed_leaving_a_process",
            landed(&left_running, None, false)
        );
        let by_hand = Landing {
            commits_ahead: 1,
            totals: None,
            ..landing
        };
        assert_snapshot!(
            "landed",
            [
                landed(&landing, None, false),
                landed(&landing, Some(12), false),
                landed(&by_hand, None, true),
            ]
            .join("\n\n---\n\n")
        );
    }

    fn ended() -> AttemptFailure {
        AttemptFailure::Ended {
            agent: "agent002".to_owned(),
            outcome: Outcome::Crashed,
            reason: "the agent exited with status 1".to_owned(),
            branch: "agent002/7-tricky-title".to_owned(),
            commits_ahead: 1,
        }
    }

    #[test]
    fn a_retry_says_which_attempt_comes_and_when() {
        let failure = ended();
        let attempt = FailedAttempt {
            failure: &failure,
            failures: 1,
            max_attempts: 3,
        };
        let now = at("2026-11-21T06:10:00Z");
        assert_snapshot!(
            "retrying",
            retrying(&attempt, 2, at("2026-11-21T06:11:30Z"), now, None)
        );
        let crashed = AttemptFailure::Crashed {
            agent: "agent003".to_owned(),
            reason: "Clambake's attempt task panicked: the journal vanished".to_owned(),
        };
        let crashed = FailedAttempt {
            failure: &crashed,
            failures: 2,
            max_attempts: 3,
        };
        assert_snapshot!(
            "retrying_after_a_crash",
            retrying(&crashed, 3, now, now, None)
        );
        let could_not_run = AttemptFailure::CouldNotRun {
            agent: "agent002".to_owned(),
            error: "the worktree could not be made".to_owned(),
        };
        // The limit was lowered since: the count goes on without a limit to count against.
        let past_the_limit = FailedAttempt {
            failure: &could_not_run,
            failures: 4,
            max_attempts: 3,
        };
        assert_snapshot!(
            "retrying_past_the_limit",
            retrying(&past_the_limit, 5, now, now, None)
        );
    }

    #[test]
    fn failing_checks_are_quoted_and_passing_ones_and_clambakes_commits_are_said() {
        let failure = AttemptFailure::Ended {
            agent: "agent001".to_owned(),
            outcome: Outcome::ChecksFailed,
            reason: "the checks (`cargo test`) exited with 101".to_owned(),
            branch: "agent001/4-parse".to_owned(),
            commits_ahead: 2,
        };
        let attempt = FailedAttempt {
            failure: &failure,
            failures: 1,
            max_attempts: 3,
        };
        let now = at("2026-11-21T06:10:00Z");
        let tail = "test parse::pipes ... FAILED\n```\n<!-- x -->";
        assert_snapshot!(
            "retrying_after_failing_checks",
            retrying(&attempt, 2, now, now, Some(tail))
        );
        let last = FailedAttempt {
            failures: 3,
            ..attempt
        };
        let gave_up_text = gave_up(
            &last,
            &GaveUp {
                cost_usd: 0.5,
                branch: "agent001/4-parse",
                log_tail: tail,
            },
        );
        assert!(gave_up_text.contains("The end of the last attempt's checks' output"));
        let landing = Landing {
            agent: "agent001",
            branch: "agent001/4-parse",
            commits_ahead: 2,
            totals: None,
            left_running: None,
            committed_by_clambake: true,
            checks_passed: Some("cargo test --locked"),
        };
        assert_snapshot!(
            "landed_checked_committed_by_clambake",
            landed(&landing, None, false)
        );
    }

    #[test]
    fn giving_up_quotes_a_redacted_hostile_log_inertly() {
        let failure = ended();
        let attempt = FailedAttempt {
            failure: &failure,
            failures: 3,
            max_attempts: 3,
        };
        let redactor = Redactor::from_variables([("ANTHROPIC_API_KEY", "sk-ant-0123456789abcdef")]);
        // As the app makes a tail: secrets redacted from both logs before any line is cut.
        let stdout = "Fixes #1 <!-- x -->\n```\n\u{202e}token sk-ant-0123456789abcdef\n";
        let stderr = "error: sk-ant-0123456789abcdef was refused\n";
        let log_tail = log_tail(&redactor.redact(stdout), &redactor.redact(stderr));
        let comment = gave_up(
            &attempt,
            &GaveUp {
                cost_usd: 0.125,
                branch: "agent002/7-tricky-title",
                log_tail: &log_tail,
            },
        );
        assert!(!comment.contains("sk-ant-0123456789abcdef"));
        assert_snapshot!("gave_up", comment);
    }

    #[test]
    fn refusing_unrelated_work_says_why_and_what_to_do() {
        let work = UnrelatedWork {
            branch: "agent001/4-parse-pipes",
            base: "main",
            tip: "0123456789abcdef0123456789abcdef01234567",
            archive: "refs/clambake/archive/agent001/4-parse-pipes/0123456789ab",
        };
        assert_snapshot!("refused_unrelated", refused_unrelated(&work));
    }

    #[test]
    fn trains_comment_on_members_and_rebuilt_bundles() {
        assert_snapshot!(
            "bundled",
            bundled(12, "clambake/bundle-20261121T0610Z", &[7, 9])
        );
        assert_snapshot!("rebuilding", rebuilding(&[4, 7]));
    }

    #[test]
    fn trains_comment_on_bundled_issues_no_open_bundle_carries() {
        assert_snapshot!(
            "bundled_but_carried_by_none",
            [bundled_but_carried_by_none(), merged_but_open(12, "main")].join("\n\n---\n\n")
        );
    }

    /// Every note a recovery plan leaves, one per repair, under both branch policies.
    #[test]
    fn every_recovery_note() {
        use crate::lifecycle::machine::State;
        use crate::recovery::drift::{Claim, Inconsistency, RefFacts};
        use crate::recovery::plans::{Policy, Step, plan};

        let agent = || "agent001".to_owned();
        let branch = |commits_ahead| RefFacts {
            name: "agent001/4-parse-pipes".to_owned(),
            tip: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            commits_ahead,
        };
        let archive = RefFacts {
            name: "refs/clambake/archive/agent001/4-parse-pipes/0123456789ab".to_owned(),
            ..branch(2)
        };
        let claim = |agent: &str, issue| Claim {
            agent: agent.to_owned(),
            issue,
        };
        let labeled = |believed| Inconsistency::LabeledButNoBranch {
            issue: 4,
            agent: agent(),
            believed,
            process_alive: believed,
        };
        let unlabeled = |believed, commits| Inconsistency::BranchButNoLabel {
            agent: agent(),
            issue: 4,
            branch: branch(commits),
            believed,
        };
        let inconsistencies = [
            labeled(true),
            unlabeled(true, 2),
            unlabeled(false, 2),
            unlabeled(false, 0),
            Inconsistency::WorkingButNoCommits {
                agent: agent(),
                issue: 4,
                branch: Some(branch(0)),
            },
            Inconsistency::WorkingButNoCommits {
                agent: agent(),
                issue: 4,
                branch: None,
            },
            Inconsistency::LandedButNotFreed {
                agent: agent(),
                issue: 4,
                state: State::Bundled {
                    issues: vec![4],
                    bundle_pr: 12,
                },
            },
            Inconsistency::ProcessDeadButWorking {
                agent: agent(),
                issue: 4,
                branch: branch(2),
            },
            Inconsistency::StaleClaim {
                agent: agent(),
                issue: 4,
                idle_minutes: 45,
                branch: Some(branch(2)),
            },
            Inconsistency::DuplicateClaim {
                claims: vec![claim("agent001", 4), claim("agent002", 7)],
                keep: claim("agent002", 7),
            },
            Inconsistency::ReviewButBranchMissing {
                issue: 4,
                archive: Some(archive),
            },
            Inconsistency::ReviewButBranchMissing {
                issue: 4,
                archive: None,
            },
            Inconsistency::BundledButPrClosedUnmerged {
                agent: agent(),
                issues: vec![4],
                bundle_pr: 12,
                branches: vec![branch(2)],
            },
            Inconsistency::MergedButIssueOpen {
                agent: agent(),
                issue: 4,
            },
        ];
        let mut notes = Vec::new();
        for cleanup_abandoned_branches in [false, true] {
            let policy = Policy {
                cleanup_abandoned_branches,
            };
            for inconsistency in &inconsistencies {
                for step in plan(inconsistency, policy).steps {
                    if let Step::Comment { issue, body } = step
                        && !notes.iter().any(|(_, b)| *b == body)
                    {
                        notes.push((issue, body));
                    }
                }
            }
        }
        let shown: Vec<String> = notes
            .iter()
            .map(|(issue, body)| format!("#{issue}: {body}"))
            .collect();
        assert_snapshot!("recovery_notes", shown.join("\n"));
    }
}
