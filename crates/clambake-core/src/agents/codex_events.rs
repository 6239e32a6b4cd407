//! Codex's `exec --json` events (one JSON object per line: `thread.started`, `turn.started`,
//! `item.started` / `item.updated` / `item.completed`, `turn.completed`, `turn.failed`,
//! `error`), read into the same [`AgentEvent`]s as Claude Code's stream, so the supervisor,
//! `monitor` and the classification work unchanged.
//!
//! A `codex exec` run is one Codex turn, so `turn.completed` is its verdict (a `success`
//! result) and `turn.failed` or a top-level `error` an error result. Codex also prints `error`
//! while it retries a dropped stream; the turn's own verdict then follows and replaces it, as
//! [`crate::agents::events::AttemptTotals`] keeps the last result.
//!
//! Each item of a turn is one completed step: a tool item (a shell command, a patch, an MCP or
//! sub-agent call, a web search) or an `agent_message` counts as a turn, like Claude Code's
//! assistant messages. Everything else (`reasoning`, `todo_list`, `error` warnings, the
//! `item.started` / `item.updated` of unfinished items, types a newer Codex adds) is activity.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::agents::agent_event::{AgentEvent, ResultEvent, ResultSubtype, Usage};
use crate::agents::failure::ResultDetails;

/// The item types that are the agent acting, counted as turns like Claude Code's tool calls.
const TOOL_ITEMS: &[&str] = &[
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "collab_tool_call",
    "web_search",
];

/// Reads `event` if its `type` is one of Codex's; `None` leaves it to the other readers.
pub fn parse_codex_event(event_type: &str, event: &Map<String, Value>) -> Option<AgentEvent> {
    let item = event.get("item");
    let item_text = |key: &str| {
        item.and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let parsed = match event_type {
        "thread.started" => AgentEvent::Init {
            session_id: event
                .get("thread_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            model: None,
            tools: Vec::new(),
        },
        "turn.completed" => result(
            ResultSubtype::Success,
            codex_usage(event.get("usage")),
            ResultDetails::default(),
        ),
        "turn.failed" | "error" => result(
            ResultSubtype::ErrorDuringExecution,
            Usage::default(),
            ResultDetails::from_event(event),
        ),
        "item.completed" => match item_text("type").as_str() {
            "agent_message" => AgentEvent::Assistant {
                text: item_text("text"),
                tool_uses: Vec::new(),
                usage: Usage::default(),
            },
            tool if TOOL_ITEMS.contains(&tool) => AgentEvent::Assistant {
                text: String::new(),
                tool_uses: vec![tool.to_owned()],
                usage: Usage::default(),
            },
            other => AgentEvent::Other {
                event_type: format!("item.completed/{other}"),
            },
        },
        "item.started" | "item.updated" => AgentEvent::Other {
            event_type: format!("{event_type}/{}", item_text("type")),
        },
        other if is_codex_type(other) => AgentEvent::Other {
            event_type: other.to_owned(),
        },
        _ => return None,
    };
    Some(parsed)
}

fn is_codex_type(event_type: &str) -> bool {
    ["thread.", "turn.", "item."]
        .iter()
        .any(|prefix| event_type.starts_with(prefix))
}

fn result(subtype: ResultSubtype, usage: Usage, details: ResultDetails) -> AgentEvent {
    AgentEvent::Result(ResultEvent {
        is_error: subtype != ResultSubtype::Success,
        subtype,
        num_turns: None,
        total_cost_usd: None,
        usage,
        session_id: None,
        details,
    })
}

/// The token counts of `turn.completed`, summed over the whole run. As in the Responses API,
/// `input_tokens` include the cached and the cache-writing ones, and `output_tokens` the
/// `reasoning_output_tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodexUsage {
    input_tokens: u64,
    cached_input_tokens: u64,
    cache_write_input_tokens: u64,
    output_tokens: u64,
}

/// Codex's counts in the Messages API's terms, where the three input counts are disjoint, so
/// that a Codex attempt's tokens add up the same way as Claude Code's.
fn codex_usage(value: Option<&Value>) -> Usage {
    let usage: CodexUsage = value
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Usage {
        input_tokens: usage
            .input_tokens
            .saturating_sub(usage.cached_input_tokens)
            .saturating_sub(usage.cache_write_input_tokens),
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: usage.cache_write_input_tokens,
        cache_read_input_tokens: usage.cached_input_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::events::{AttemptTotals, parse_line};

    // Every stream below was printed by the real `codex exec --json` 0.169.0 against a scripted
    // Responses API server, each usage reply counting 100 input tokens (20 of them cached), 10
    // output tokens (3 of them reasoning).

    /// One shell command, then a closing message.
    const RECORDED: &str = r#"{"type":"thread.started","thread_id":"01a1fce2-c72a-70c1-8450-85888182b9bd"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-test` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > hello.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > hello.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":40,"cache_write_input_tokens":0,"output_tokens":20,"reasoning_output_tokens":0}}"#;

    /// The model server answered with an error, and Codex gave up at once.
    const RECORDED_FAILURE: &str = r#"{"type":"thread.started","thread_id":"01a1fce2-ab11-7d43-9ac2-7e50eed259bd"}
{"type":"turn.started"}
{"type":"error","message":"We’re currently experiencing high demand, which may cause temporary errors."}
{"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, which may cause temporary errors."}}"#;

    /// The same with `stream_max_retries = 2`: Codex reports each retry as an `error`.
    const RECORDED_RETRIES: &str = r#"{"type":"thread.started","thread_id":"01a1fd32-29bd-7953-91d5-015355e7a879"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `scripted-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/2 (We’re currently experiencing high demand, which may cause temporary errors.)"}
{"type":"error","message":"Reconnecting... 2/2 (We’re currently experiencing high demand, which may cause temporary errors.)"}
{"type":"error","message":"We’re currently experiencing high demand, which may cause temporary errors."}
{"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, which may cause temporary errors."}}"#;

    /// A reasoning summary and a web search (whose item carries `id` twice, as Codex prints
    /// it), then a closing message; model `gpt-5.5`, which has no "metadata not found" warning.
    const RECORDED_SEARCH: &str = r#"{"type":"thread.started","thread_id":"01a1fd31-3086-7d32-9bdd-69fe08d80fe1"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Planning** the change"}}
{"type":"item.started","item":{"id":"item_1","type":"web_search","id":"ws_1","query":"codex exec json","action":{"type":"search","query":"codex exec json"}}}
{"type":"item.completed","item":{"id":"item_1","type":"web_search","id":"ws_1","query":"codex exec json","action":{"type":"search","query":"codex exec json"}}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":300,"cached_input_tokens":60,"cache_write_input_tokens":0,"output_tokens":30,"reasoning_output_tokens":9}}"#;

    /// A call to the `ping` tool of an MCP server named `probe`.
    const RECORDED_MCP: &str = r#"{"type":"thread.started","thread_id":"01a1fd31-70fc-7223-983b-a6e673692599"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `scripted-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"mcp_tool_call","server":"probe","tool":"ping","arguments":{},"result":null,"error":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"mcp_tool_call","server":"probe","tool":"ping","arguments":{},"result":{"content":[{"type":"text","text":"pong"}],"structured_content":null},"error":null,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":40,"cache_write_input_tokens":0,"output_tokens":20,"reasoning_output_tokens":6}}"#;

    /// A patch through the `apply_patch` tool, a patch that failed to apply (Codex prints no
    /// item for it), and a command that exited 3; model `gpt-5.5`.
    const RECORDED_PATCH: &str = r#"{"type":"thread.started","thread_id":"01a1fd31-7d49-7f72-aee2-e762b40d66ef"}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_0","type":"file_change","changes":[{"path":"/tmp/tmp.im6HQx4ZMU/hello.txt","kind":"add"}],"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"/tmp/tmp.im6HQx4ZMU/hello.txt","kind":"add"}],"status":"completed"}}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo oops; exit 3'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo oops; exit 3'","aggregated_output":"oops\n","exit_code":3,"status":"failed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":400,"cached_input_tokens":80,"cache_write_input_tokens":0,"output_tokens":40,"reasoning_output_tokens":12}}"#;

    /// Stopped by SIGTERM while its shell command ran: no verdict follows.
    const RECORDED_INTERRUPTED: &str = r#"{"type":"thread.started","thread_id":"01a1fd31-c911-7690-a662-58d3a9907a20"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `scripted-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'sleep 171'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#;

    fn totals(stream: &str) -> AttemptTotals {
        let mut totals = AttemptTotals::default();
        for line in stream.lines() {
            totals.record(&parse_line(line));
        }
        totals
    }

    /// What each line of `stream` reads as: the tools of a turn, `"message"` for a closing
    /// message, `"result"` or `"init"`, or the type of an event that is only activity.
    fn readings(stream: &str) -> Vec<String> {
        stream
            .lines()
            .map(|line| match parse_line(line) {
                AgentEvent::Init { .. } => "init".to_owned(),
                AgentEvent::Assistant { tool_uses, .. } if tool_uses.is_empty() => {
                    "message".to_owned()
                }
                AgentEvent::Assistant { tool_uses, .. } => tool_uses.join(","),
                AgentEvent::Result(result) => format!("result/{:?}", result.subtype),
                AgentEvent::Other { event_type } => event_type,
                other => panic!("{line} read as {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_completed_turn_is_a_success_with_its_usage() {
        let totals = totals(RECORDED);
        let result = totals.result.expect("turn.completed is the result");
        assert_eq!(result.subtype, ResultSubtype::Success);
        assert!(!result.is_error);
        assert_eq!(
            totals.usage,
            Usage {
                input_tokens: 160,
                output_tokens: 20,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 40,
            }
        );
        assert_eq!(totals.cost_usd, None, "Codex reports no cost");
        assert_eq!(
            totals.session_id.as_deref(),
            Some("01a1fce2-c72a-70c1-8450-85888182b9bd")
        );
        assert_eq!(totals.turns, 2, "the command and the closing message");
        assert_eq!(totals.events, 7);
    }

    #[test]
    fn cached_and_cache_writing_input_are_told_apart_from_fresh_input() {
        let AgentEvent::Result(result) = parse_line(
            r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":20,"cache_write_input_tokens":30,"output_tokens":10,"reasoning_output_tokens":3}}"#,
        ) else {
            panic!("not a result");
        };
        assert_eq!(
            result.usage,
            Usage {
                input_tokens: 50,
                output_tokens: 10,
                cache_creation_input_tokens: 30,
                cache_read_input_tokens: 20,
            }
        );
        let AgentEvent::Result(inconsistent) = parse_line(
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":20}}"#,
        ) else {
            panic!("not a result");
        };
        assert_eq!(inconsistent.usage.input_tokens, 0);
    }

    #[test]
    fn a_failed_turn_is_an_error_result() {
        let result = totals(RECORDED_FAILURE).result.unwrap();
        assert_eq!(result.subtype, ResultSubtype::ErrorDuringExecution);
        assert!(result.is_error);
    }

    #[test]
    fn retries_are_errors_until_the_turn_has_its_verdict() {
        assert_eq!(
            readings(RECORDED_RETRIES),
            [
                "init",
                "item.completed/error",
                "turn.started",
                "result/ErrorDuringExecution",
                "result/ErrorDuringExecution",
                "result/ErrorDuringExecution",
                "result/ErrorDuringExecution",
            ]
        );
        let retry = RECORDED_RETRIES.lines().nth(3).unwrap();
        assert!(totals(retry).result.unwrap().is_error);
        let recovered = format!("{retry}\n{RECORDED}");
        assert!(!totals(&recovered).result.unwrap().is_error);
    }

    #[test]
    fn reasoning_is_activity_and_a_web_search_is_a_turn() {
        assert_eq!(
            readings(RECORDED_SEARCH),
            [
                "init",
                "turn.started",
                "item.completed/reasoning",
                "item.started/web_search",
                "web_search",
                "message",
                "result/Success",
            ]
        );
        let totals = totals(RECORDED_SEARCH);
        assert_eq!(totals.turns, 2);
        assert_eq!(totals.usage.input_tokens, 240);
        assert_eq!(totals.usage.cache_read_input_tokens, 60);
    }

    #[test]
    fn an_mcp_tool_call_is_a_turn() {
        assert_eq!(
            readings(RECORDED_MCP),
            [
                "init",
                "item.completed/error",
                "turn.started",
                "item.started/mcp_tool_call",
                "mcp_tool_call",
                "message",
                "result/Success",
            ]
        );
    }

    #[test]
    fn patches_and_failed_commands_are_turns() {
        assert_eq!(
            readings(RECORDED_PATCH),
            [
                "init",
                "turn.started",
                "item.started/file_change",
                "file_change",
                "item.started/command_execution",
                "command_execution",
                "message",
                "result/Success",
            ]
        );
        assert_eq!(totals(RECORDED_PATCH).turns, 3);
    }

    #[test]
    fn an_interrupted_run_has_no_result() {
        let totals = totals(RECORDED_INTERRUPTED);
        assert_eq!(totals.result, None);
        assert_eq!(totals.turns, 0, "the command never completed");
        assert_eq!(totals.events, 4);
    }

    /// The plan and sub-agent items, in the shapes of Codex's own event types: 0.169.0 offers
    /// no plan tool to an API-key model, so these were not seen from the binary.
    #[test]
    fn plans_are_activity_and_sub_agent_calls_are_turns() {
        let plan = r#"{"id":"item_3","type":"todo_list","items":[{"text":"Write hello","completed":false}]}"#;
        for (event_type, reading) in [
            ("item.started", "item.started/todo_list"),
            ("item.updated", "item.updated/todo_list"),
            ("item.completed", "item.completed/todo_list"),
        ] {
            let line = format!(r#"{{"type":"{event_type}","item":{plan}}}"#);
            assert_eq!(readings(&line), [reading]);
        }
        let collab = r#"{"type":"item.completed","item":{"id":"item_4","type":"collab_tool_call","tool":"spawn_agent","sender_thread_id":"t","receiver_thread_ids":[],"prompt":null,"agents_states":{},"status":"completed"}}"#;
        assert_eq!(readings(collab), ["collab_tool_call"]);
    }

    #[test]
    fn unknown_and_malformed_events_are_activity() {
        for (line, event_type) in [
            (r#"{"type":"item.completed","item":7}"#, "item.completed/"),
            (r#"{"type":"item.started","item":{}}"#, "item.started/"),
            (r#"{"type":"item.updated"}"#, "item.updated/"),
            (
                r#"{"type":"item.plan.delta","item_id":"item_1","delta":"Step"}"#,
                "item.plan.delta",
            ),
            (r#"{"type":"thread.archived"}"#, "thread.archived"),
            (
                r#"{"type":"request_user_input","id":"t","call_id":"c","questions":[]}"#,
                "request_user_input",
            ),
        ] {
            assert_eq!(
                parse_line(line),
                AgentEvent::Other {
                    event_type: event_type.to_owned()
                },
                "{line}"
            );
        }
        let mut totals = AttemptTotals::default();
        totals.record(&parse_line(r#"{"type":"item.frobnicated","item":{}}"#));
        assert_eq!((totals.events, totals.turns), (1, 0));
        assert_eq!(totals.result, None);
    }

    #[test]
    fn malformed_usage_counts_as_none() {
        let AgentEvent::Result(result) =
            parse_line(r#"{"type":"turn.completed","usage":{"input_tokens":"many"}}"#)
        else {
            panic!("not a result");
        };
        assert_eq!(result.usage, Usage::default());
        assert!(!result.is_error);
    }

    #[test]
    fn other_streams_are_left_alone() {
        let event = Map::new();
        assert_eq!(parse_codex_event("assistant", &event), None);
        assert_eq!(parse_codex_event("result", &event), None);
        assert_eq!(parse_codex_event("", &event), None);
    }
}
