//! How an attempt ended, decided from three witnesses that disagree in the wild: the CLI's final
//! `result` event, the process's exit status, and whether Clambake itself terminated it. Then
//! the branch has the last word: an attempt with no commits is never a success.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::agents::events::{ResultEvent, ResultSubtype};

/// The classified end of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Finished and left commits on its branch.
    Success,
    /// The agent finished with commits, but the project's checks (`[checks] command`) failed
    /// on its work.
    ChecksFailed,
    /// The CLI stopped at its turn limit.
    MaxTurns,
    /// The CLI stopped at its spending limit, or Clambake stopped the attempt at its budget.
    Budget,
    /// The agent ran but failed: an error result, or no commits.
    AgentError,
    /// The process died on its own without a verdict: a non-zero exit or a fault signal.
    Crashed,
    /// Ended by a signal: Clambake's `terminate`, or someone else's kill.
    Killed,
    /// Terminated by Clambake after too long without any event.
    Stalled,
    /// Terminated by Clambake at the attempt's time limit.
    TimedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::ChecksFailed => "checks_failed",
            Self::MaxTurns => "max_turns",
            Self::Budget => "budget",
            Self::AgentError => "agent_error",
            Self::Crashed => "crashed",
            Self::Killed => "killed",
            Self::Stalled => "stalled",
            Self::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the process ended, as the OS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    /// The process ended while Clambake was not its parent (it was re-adopted after an
    /// orchestrator restart) and its waiter recorded nothing (it was killed too), so only its
    /// log can say how it went.
    Unknown,
}

impl ExitStatus {
    /// The status as a shell reports it (`$?`, as the waiter records it): by convention a
    /// value 128 + N means the process died of signal N.
    pub fn from_shell_status(status: i32) -> Self {
        match status {
            129..=192 => Self::Signal(status - 128),
            code => Self::Code(code),
        }
    }
}

/// The status file a waiter wrote: one complete line holding `$?`.
pub fn parse_recorded_status(text: &str) -> Option<ExitStatus> {
    let line = text.strip_suffix('\n')?;
    Some(ExitStatus::from_shell_status(line.trim().parse().ok()?))
}

/// Why Clambake terminated an attempt, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// No event for `agents.stall_timeout_minutes`.
    Stall,
    /// Running longer than `agents.timeout_minutes`.
    Timeout,
    /// Someone ran `clambake terminate`.
    Requested,
    /// The cost the agent reported reached the attempt's budget (`[budget]`).
    Budget,
}

/// The witnesses of one attempt's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence<'a> {
    pub result: Option<&'a ResultEvent>,
    pub exit: ExitStatus,
    pub terminated: Option<Termination>,
    pub commits_ahead: u32,
    /// Whether this runtime prints a `result` event (Claude Code does; a plain command does not).
    pub reports_result: bool,
}

/// The outcome and a sentence saying why, for the journal and `monitor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub outcome: Outcome,
    pub reason: String,
}

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;
const SIGHUP: i32 = 1;

/// Decides the outcome. The order matters:
/// 1. A successful `result` with commits is a success even if the process then misbehaved
///    (a non-zero exit, or Clambake killing a process that lingered after finishing).
/// 2. Otherwise Clambake's own termination names the outcome.
/// 3. Otherwise an error `result` names it, whatever the exit code says (errors exit 0 too).
/// 4. Otherwise the exit status does; a clean exit with no commits is an agent error.
pub fn classify(evidence: &Evidence<'_>) -> Classification {
    let done = |outcome, reason: String| Classification { outcome, reason };
    let commits = evidence.commits_ahead;
    let succeeded = evidence
        .result
        .is_some_and(|r| r.subtype == ResultSubtype::Success && !r.is_error);
    if succeeded && commits > 0 {
        let note = match (evidence.exit, evidence.terminated) {
            (_, Some(_)) => " (the process lingered and was terminated)",
            (ExitStatus::Code(0) | ExitStatus::Unknown, None) => "",
            _ => " (the process then exited abnormally)",
        };
        let denied = evidence
            .result
            .and_then(|r| r.details.denials())
            .map_or_else(String::new, |d| format!("; {d}"));
        return done(
            Outcome::Success,
            format!("the agent reported success with {commits} commit(s){note}{denied}"),
        );
    }
    if let Some(termination) = evidence.terminated {
        return match termination {
            Termination::Stall => done(Outcome::Stalled, "no event for too long".to_owned()),
            Termination::Timeout => done(Outcome::TimedOut, "the time limit passed".to_owned()),
            Termination::Requested => done(Outcome::Killed, "terminated on request".to_owned()),
            Termination::Budget => done(
                Outcome::Budget,
                "its cost reached the attempt's budget, so Clambake stopped it".to_owned(),
            ),
        };
    }
    if let Some(result) = evidence.result {
        return classify_result(result);
    }
    match evidence.exit {
        ExitStatus::Signal(signal @ (SIGKILL | SIGTERM | SIGINT | SIGHUP)) => done(
            Outcome::Killed,
            format!("killed by signal {signal} from outside Clambake"),
        ),
        ExitStatus::Signal(signal) => done(
            Outcome::Crashed,
            format!("the process died of signal {signal}"),
        ),
        ExitStatus::Code(0) if evidence.reports_result => done(
            Outcome::AgentError,
            "the agent exited without a result event".to_owned(),
        ),
        ExitStatus::Code(0) if commits > 0 => done(
            Outcome::Success,
            format!("the agent exited cleanly with {commits} commit(s)"),
        ),
        ExitStatus::Code(0) => done(
            Outcome::AgentError,
            "the agent exited cleanly but made no commits".to_owned(),
        ),
        ExitStatus::Code(code) => done(
            Outcome::Crashed,
            format!("the process exited with code {code} and no result"),
        ),
        ExitStatus::Unknown => done(
            Outcome::Crashed,
            "the process ended unwatched, with no result in its log".to_owned(),
        ),
    }
}

/// An attempt that ended with a result other than a success with commits. The verdict names
/// the cause the CLI gave: a model API error, denied tool calls, or its closing message.
fn classify_result(result: &ResultEvent) -> Classification {
    let done = |outcome, reason: String| Classification { outcome, reason };
    let details = &result.details;
    let denied = details
        .denials()
        .map_or_else(String::new, |d| format!("; {d}"));
    let turns = result
        .num_turns
        .map_or_else(String::new, |n| format!(" after {n} turns"));
    match &result.subtype {
        ResultSubtype::ErrorMaxTurns => done(
            Outcome::MaxTurns,
            format!("the agent hit its turn limit{turns}{denied}"),
        ),
        ResultSubtype::ErrorMaxBudgetUsd => done(
            Outcome::Budget,
            format!("the agent hit its budget{turns}{denied}"),
        ),
        _ if let Some(api) = details.api_failure() => done(Outcome::AgentError, api),
        ResultSubtype::Success if !result.is_error => done(
            Outcome::AgentError,
            format!("the agent reported success but made no commits{denied}"),
        ),
        ResultSubtype::Success => done(
            Outcome::AgentError,
            format!(
                "the agent's result was marked as an error{}{}{denied}",
                details.terminal_note(),
                details.quoted_message()
            ),
        ),
        ResultSubtype::ErrorDuringExecution => done(
            Outcome::AgentError,
            format!(
                "the agent reported an error during execution{}{}{denied}",
                details.terminal_note(),
                details.quoted_message()
            ),
        ),
        ResultSubtype::Unknown(subtype) => done(
            Outcome::AgentError,
            // The agent wrote the subtype, and the reason goes into issue comments.
            format!(
                "the agent ended with an unknown result {}{denied}",
                crate::text::inert::code_span(subtype)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::events::Usage;
    use crate::agents::failure::ResultDetails;

    fn result(subtype: ResultSubtype, is_error: bool) -> ResultEvent {
        ResultEvent {
            subtype,
            is_error,
            num_turns: Some(2),
            total_cost_usd: Some(0.01),
            usage: Usage::default(),
            session_id: None,
            details: ResultDetails::default(),
        }
    }

    fn classify_with(
        result: Option<&ResultEvent>,
        exit: ExitStatus,
        terminated: Option<Termination>,
        commits_ahead: u32,
    ) -> Outcome {
        classify(&Evidence {
            result,
            exit,
            terminated,
            commits_ahead,
            reports_result: true,
        })
        .outcome
    }

    const OK: ExitStatus = ExitStatus::Code(0);

    #[test]
    fn shell_statuses_above_128_are_deaths_by_signal() {
        assert_eq!(ExitStatus::from_shell_status(0), OK);
        assert_eq!(ExitStatus::from_shell_status(3), ExitStatus::Code(3));
        assert_eq!(ExitStatus::from_shell_status(128), ExitStatus::Code(128));
        assert_eq!(ExitStatus::from_shell_status(143), ExitStatus::Signal(15));
        assert_eq!(ExitStatus::from_shell_status(137), ExitStatus::Signal(9));
        assert_eq!(ExitStatus::from_shell_status(255), ExitStatus::Code(255));
    }

    #[test]
    fn a_recorded_status_is_one_complete_line() {
        assert_eq!(parse_recorded_status("0\n"), Some(OK));
        assert_eq!(parse_recorded_status("130\n"), Some(ExitStatus::Signal(2)));
        assert_eq!(parse_recorded_status("0"), None);
        assert_eq!(parse_recorded_status(""), None);
        assert_eq!(parse_recorded_status("zero\n"), None);
    }

    #[test]
    fn success_needs_a_success_result_and_commits() {
        let success = result(ResultSubtype::Success, false);
        assert_eq!(classify_with(Some(&success), OK, None, 1), Outcome::Success);
        assert_eq!(
            classify_with(Some(&success), OK, None, 0),
            Outcome::AgentError
        );
    }

    #[test]
    fn success_then_a_non_zero_exit_is_still_success() {
        let success = result(ResultSubtype::Success, false);
        let c = classify(&Evidence {
            result: Some(&success),
            exit: ExitStatus::Code(1),
            terminated: None,
            commits_ahead: 2,
            reports_result: true,
        });
        assert_eq!(c.outcome, Outcome::Success);
        assert!(c.reason.contains("exited abnormally"), "{}", c.reason);
    }

    #[test]
    fn success_that_lingered_until_terminated_is_still_success() {
        let success = result(ResultSubtype::Success, false);
        for termination in [
            Termination::Stall,
            Termination::Timeout,
            Termination::Requested,
        ] {
            assert_eq!(
                classify_with(Some(&success), ExitStatus::Signal(15), Some(termination), 1),
                Outcome::Success
            );
        }
    }

    #[test]
    fn error_results_win_over_exit_zero() {
        for (subtype, outcome) in [
            (ResultSubtype::ErrorMaxTurns, Outcome::MaxTurns),
            (ResultSubtype::ErrorMaxBudgetUsd, Outcome::Budget),
            (ResultSubtype::ErrorDuringExecution, Outcome::AgentError),
            (
                ResultSubtype::Unknown("error_x".to_owned()),
                Outcome::AgentError,
            ),
        ] {
            let r = result(subtype, true);
            assert_eq!(classify_with(Some(&r), OK, None, 3), outcome);
            assert_eq!(
                classify_with(Some(&r), ExitStatus::Code(1), None, 0),
                outcome
            );
        }
    }

    fn classify_line(line: &str, commits_ahead: u32) -> Classification {
        let crate::agents::events::AgentEvent::Result(result) =
            crate::agents::events::parse_line(line)
        else {
            panic!("{line}");
        };
        classify(&Evidence {
            result: Some(&result),
            exit: ExitStatus::Code(1),
            terminated: None,
            commits_ahead,
            reports_result: true,
        })
    }

    #[test]
    fn api_errors_are_named_in_the_verdict() {
        let overloaded = classify_line(
            r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":529,"api_error_type":"overloaded_error","terminal_reason":"api_error","result":"API Error: 529 Overloaded."}"#,
            0,
        );
        assert_eq!(overloaded.outcome, Outcome::AgentError);
        assert_eq!(
            overloaded.reason,
            "the model API was overloaded (HTTP 529, overloaded_error): `API Error: 529 Overloaded.`"
        );
        let unauthorized = classify_line(
            r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"terminal_reason":"api_error"}"#,
            0,
        );
        assert!(
            unauthorized
                .reason
                .starts_with("the model API refused the agent's API key (HTTP 401)"),
            "{}",
            unauthorized.reason
        );
    }

    #[test]
    fn denied_tool_calls_and_turn_limits_are_named_in_the_verdict() {
        let denied = r#"{"type":"result","subtype":"success","is_error":false,"terminal_reason":"completed","permission_denials":[{"tool_name":"Bash","tool_input":{"command":"git commit -qm x"}}]}"#;
        let nothing = classify_line(denied, 0);
        assert_eq!(nothing.outcome, Outcome::AgentError);
        assert!(
            nothing.reason.starts_with(
                "the agent reported success but made no commits; the agent's permission mode denied 1 tool call (Bash `git commit -qm x`)"
            ),
            "{}",
            nothing.reason
        );
        let landed = classify_line(&denied.replace(r#""type""#, r#""x":1,"type""#), 1);
        assert_eq!(landed.outcome, Outcome::Success);
        assert!(
            landed.reason.contains("denied 1 tool call"),
            "{}",
            landed.reason
        );
        let turns = classify_line(
            r#"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":51}"#,
            0,
        );
        assert_eq!(turns.reason, "the agent hit its turn limit after 51 turns");
    }

    #[test]
    fn codex_error_messages_are_quoted_in_the_verdict() {
        let failed = classify_line(
            r#"{"type":"turn.failed","error":{"message":"high demand"}}"#,
            0,
        );
        assert_eq!(
            failed.reason,
            "the agent reported an error during execution: `high demand`"
        );
    }

    #[test]
    fn an_unknown_subtype_is_quoted_as_an_inert_code_span() {
        let r = result(
            ResultSubtype::Unknown("x` fixes #5 `\n<!--".to_owned()),
            true,
        );
        let classified = classify(&Evidence {
            result: Some(&r),
            exit: ExitStatus::Code(1),
            terminated: None,
            commits_ahead: 0,
            reports_result: true,
        });
        assert_eq!(
            classified.reason,
            "the agent ended with an unknown result ``x` fixes #5 ` <!--``"
        );
    }

    #[test]
    fn a_success_subtype_flagged_as_error_is_an_agent_error() {
        let r = result(ResultSubtype::Success, true);
        assert_eq!(classify_with(Some(&r), OK, None, 4), Outcome::AgentError);
    }

    #[test]
    fn clambakes_termination_names_the_outcome_when_the_work_is_not_done() {
        let max_turns = result(ResultSubtype::ErrorMaxTurns, true);
        for (termination, outcome) in [
            (Termination::Stall, Outcome::Stalled),
            (Termination::Timeout, Outcome::TimedOut),
            (Termination::Requested, Outcome::Killed),
            (Termination::Budget, Outcome::Budget),
        ] {
            for r in [None, Some(&max_turns)] {
                for commits in [0, 5] {
                    assert_eq!(
                        classify_with(r, ExitStatus::Signal(9), Some(termination), commits),
                        outcome
                    );
                }
            }
        }
    }

    #[test]
    fn without_a_result_the_exit_status_decides() {
        assert_eq!(
            classify_with(None, ExitStatus::Code(1), None, 3),
            Outcome::Crashed
        );
        assert_eq!(
            classify_with(None, ExitStatus::Signal(11), None, 0),
            Outcome::Crashed
        );
        assert_eq!(
            classify_with(None, ExitStatus::Signal(6), None, 0),
            Outcome::Crashed
        );
        for signal in [1, 2, 9, 15] {
            assert_eq!(
                classify_with(None, ExitStatus::Signal(signal), None, 1),
                Outcome::Killed
            );
        }
        assert_eq!(classify_with(None, OK, None, 1), Outcome::AgentError);
    }

    #[test]
    fn an_agent_that_ended_unwatched_is_judged_by_its_log() {
        let success = result(ResultSubtype::Success, false);
        let max_turns = result(ResultSubtype::ErrorMaxTurns, true);
        let unknown = ExitStatus::Unknown;
        assert_eq!(
            classify_with(Some(&success), unknown, None, 1),
            Outcome::Success
        );
        assert_eq!(
            classify_with(Some(&max_turns), unknown, None, 0),
            Outcome::MaxTurns
        );
        assert_eq!(classify_with(None, unknown, None, 2), Outcome::Crashed);
    }

    #[test]
    fn runtimes_without_results_succeed_on_a_clean_exit_with_commits() {
        let plain = |exit, commits_ahead| {
            classify(&Evidence {
                result: None,
                exit,
                terminated: None,
                commits_ahead,
                reports_result: false,
            })
        };
        assert_eq!(plain(OK, 1).outcome, Outcome::Success);
        let none = plain(OK, 0);
        assert_eq!(none.outcome, Outcome::AgentError);
        assert!(none.reason.contains("no commits"));
        assert_eq!(plain(ExitStatus::Code(2), 1).outcome, Outcome::Crashed);
    }

    #[test]
    fn outcomes_print_as_their_config_words() {
        let words: Vec<String> = [
            Outcome::Success,
            Outcome::MaxTurns,
            Outcome::Budget,
            Outcome::AgentError,
            Outcome::Crashed,
            Outcome::Killed,
            Outcome::Stalled,
            Outcome::TimedOut,
        ]
        .iter()
        .map(|o| {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
            o.to_string()
        })
        .collect();
        assert_eq!(
            words,
            [
                "success",
                "max_turns",
                "budget",
                "agent_error",
                "crashed",
                "killed",
                "stalled",
                "timed_out"
            ]
        );
    }
}
