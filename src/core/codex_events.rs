//! Codex's `exec --json` events (one JSON object per line: `thread.started`, `turn.started`,
//! `item.started` / `item.updated` / `item.completed`, `turn.completed`, `turn.failed`,
//! `error`), read into the same [`AgentEvent`]s as Claude Code's stream, so the supervisor,
//! `monitor` and the classification work unchanged.
//!
//! A `codex exec` run is one Codex turn, so `turn.completed` is its verdict (a `success`
//! result) and `turn.failed` or a top-level `error` an error result. Codex also prints `error`
//! while it retries a dropped stream; the turn's own verdict then follows and replaces it, as
//! [`super::agent_events::AttemptTotals`] keeps the last result.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::agent_events::{AgentEvent, ResultEvent, ResultSubtype, Usage};

/// The item types that are the agent acting, counted as turns like Claude Code's tool calls.
const TOOL_ITEMS: &[&str] = &[
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "web_search",
];

/// Reads `event` if its `type` is one of Codex's; `None` leaves it to the other readers.
pub fn parse_codex_event(event_type: &str, event: &Map<String, Value>) -> Option<AgentEvent> {
    let text = |value: Option<&Value>, key: &str| {
        value
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let event_value = event.get("item");
    let parsed = match event_type {
        "thread.started" => AgentEvent::Init {
            session_id: event
                .get("thread_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            model: None,
            tools: Vec::new(),
        },
        "turn.completed" => result(ResultSubtype::Success, codex_usage(event.get("usage"))),
        "turn.failed" | "error" => result(ResultSubtype::ErrorDuringExecution, Usage::default()),
        "item.completed" => {
            let item_type = text(event_value, "type").unwrap_or_default();
            match item_type.as_str() {
                "agent_message" => AgentEvent::Assistant {
                    text: text(event_value, "text").unwrap_or_default(),
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
            }
        }
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

fn result(subtype: ResultSubtype, usage: Usage) -> AgentEvent {
    AgentEvent::Result(ResultEvent {
        is_error: subtype != ResultSubtype::Success,
        subtype,
        num_turns: None,
        total_cost_usd: None,
        usage,
        session_id: None,
    })
}

/// The token counts of `turn.completed`. Codex's `input_tokens` include the cached ones.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodexUsage {
    input_tokens: u64,
    cached_input_tokens: u64,
    cache_write_input_tokens: u64,
    output_tokens: u64,
}

fn codex_usage(value: Option<&Value>) -> Usage {
    let usage: CodexUsage = value
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Usage {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: usage.cache_write_input_tokens,
        cache_read_input_tokens: usage.cached_input_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::super::agent_events::{AttemptTotals, parse_line};
    use super::*;

    /// Printed by the real `codex exec --json` 0.169.0 against a scripted model server: one
    /// shell command, then a closing message.
    const RECORDED: &str = r#"{"type":"thread.started","thread_id":"01a1fce2-c72a-70c1-8450-85888182b9bd"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-test` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > hello.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > hello.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":40,"cache_write_input_tokens":0,"output_tokens":20,"reasoning_output_tokens":0}}"#;

    /// Also printed by the real binary, when the model server answered with an error.
    const RECORDED_FAILURE: &str = r#"{"type":"thread.started","thread_id":"01a1fce2-ab11-7d43-9ac2-7e50eed259bd"}
{"type":"turn.started"}
{"type":"error","message":"We’re currently experiencing high demand, which may cause temporary errors."}
{"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, which may cause temporary errors."}}"#;

    fn totals(stream: &str) -> AttemptTotals {
        let mut totals = AttemptTotals::default();
        for line in stream.lines() {
            totals.record(&parse_line(line));
        }
        totals
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
                input_tokens: 200,
                output_tokens: 20,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 40,
            }
        );
        assert_eq!(
            totals.session_id.as_deref(),
            Some("01a1fce2-c72a-70c1-8450-85888182b9bd")
        );
        assert_eq!(totals.turns, 2, "the command and the closing message");
        assert_eq!(totals.events, 7);
    }

    #[test]
    fn a_failed_turn_is_an_error_result() {
        let result = totals(RECORDED_FAILURE).result.unwrap();
        assert_eq!(result.subtype, ResultSubtype::ErrorDuringExecution);
        assert!(result.is_error);
    }

    #[test]
    fn an_error_is_a_verdict_until_the_turn_completes_after_a_retry() {
        let error = r#"{"type":"error","message":"Reconnecting... 2/5"}"#;
        assert!(totals(error).result.unwrap().is_error);
        let recovered = format!("{error}\n{RECORDED}");
        assert!(!totals(&recovered).result.unwrap().is_error);
    }

    #[test]
    fn items_become_turns_or_activity() {
        assert_eq!(
            parse_line(r#"{"type":"item.completed","item":{"type":"agent_message","text":"Hi"}}"#),
            AgentEvent::Assistant {
                text: "Hi".to_owned(),
                tool_uses: Vec::new(),
                usage: Usage::default(),
            }
        );
        for tool in TOOL_ITEMS {
            let line = format!(r#"{{"type":"item.completed","item":{{"type":"{tool}"}}}}"#);
            let AgentEvent::Assistant { tool_uses, .. } = parse_line(&line) else {
                panic!("{line}");
            };
            assert_eq!(tool_uses, [*tool]);
        }
        for (line, event_type) in [
            (
                r#"{"type":"item.completed","item":{"type":"reasoning","text":"hm"}}"#,
                "item.completed/reasoning",
            ),
            (r#"{"type":"item.completed","item":7}"#, "item.completed/"),
            (r#"{"type":"item.started","item":{}}"#, "item.started"),
            (r#"{"type":"item.updated"}"#, "item.updated"),
            (r#"{"type":"turn.started"}"#, "turn.started"),
            (r#"{"type":"thread.archived"}"#, "thread.archived"),
        ] {
            assert_eq!(
                parse_line(line),
                AgentEvent::Other {
                    event_type: event_type.to_owned()
                },
                "{line}"
            );
        }
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
