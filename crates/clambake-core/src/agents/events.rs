//! Claude Code's `--output-format stream-json` events (and Codex's, through
//! [`crate::agents::codex_events`]), one JSON object per line, read tolerantly: unknown fields are ignored, unknown event types and non-JSON lines are kept as
//! activity without meaning, so a newer CLI never breaks monitoring.

use serde::Serialize;
use serde_json::Value;

pub use crate::agents::agent_event::{AgentEvent, ResultEvent, ResultSubtype, Usage};
use crate::agents::codex_events::parse_codex_event;
use crate::agents::failure::ResultDetails;

/// Reads one line of agent output. Never fails: what is not understood is kept as `Other` or
/// `Text`, because every line is still a sign of life.
pub fn parse_line(line: &str) -> AgentEvent {
    let trimmed = line.trim();
    let Ok(Value::Object(event)) = serde_json::from_str::<Value>(trimmed) else {
        return AgentEvent::Text {
            line: trimmed.to_owned(),
        };
    };
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    let event_type = text("type").unwrap_or_default();
    if let Some(codex) = parse_codex_event(&event_type, &event) {
        return codex;
    }
    match (event_type.as_str(), text("subtype").as_deref()) {
        ("system", Some("init")) => AgentEvent::Init {
            session_id: text("session_id"),
            model: text("model"),
            tools: event
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| {
                    tools
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        },
        ("assistant", _) => {
            let message = event.get("message");
            let blocks = content_blocks(message);
            AgentEvent::Assistant {
                text: blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                tool_uses: blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
                    .filter_map(|b| b.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect(),
                usage: Usage::from_value(message.and_then(|m| m.get("usage"))),
            }
        }
        ("user", _) => {
            let blocks = content_blocks(event.get("message"));
            let results: Vec<&Value> = blocks
                .into_iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .collect();
            AgentEvent::User {
                tool_results: results.len(),
                errors: results
                    .iter()
                    .filter(|b| b.get("is_error").and_then(Value::as_bool) == Some(true))
                    .count(),
            }
        }
        ("result", subtype) => {
            let subtype = ResultSubtype::parse(subtype.unwrap_or(""));
            AgentEvent::Result(ResultEvent {
                is_error: event
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(subtype != ResultSubtype::Success),
                subtype,
                num_turns: event
                    .get("num_turns")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
                total_cost_usd: event.get("total_cost_usd").and_then(Value::as_f64),
                usage: Usage::from_value(event.get("usage")),
                session_id: text("session_id"),
                details: ResultDetails::from_event(&event),
            })
        }
        ("cost", _)
            if let Some(total_cost_usd) = event.get("total_cost_usd").and_then(Value::as_f64) =>
        {
            AgentEvent::Spent { total_cost_usd }
        }
        (other, subtype) => AgentEvent::Other {
            event_type: match subtype {
                Some(subtype) => format!("{other}/{subtype}"),
                None => other.to_owned(),
            },
        },
    }
}

fn content_blocks(message: Option<&Value>) -> Vec<&Value> {
    message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map(|blocks| blocks.iter().collect())
        .unwrap_or_default()
}

/// What the events of one attempt add up to: the figures `monitor` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttemptTotals {
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Assistant turns seen, replaced by the CLI's own count when the result arrives.
    pub turns: u32,
    pub cost_usd: Option<f64>,
    /// Summed from the assistant turns, replaced by the result's totals when it arrives.
    pub usage: Usage,
    pub events: u64,
    /// The final result, if the CLI got as far as printing one.
    pub result: Option<ResultEvent>,
}

impl AttemptTotals {
    pub fn record(&mut self, event: &AgentEvent) {
        self.events += 1;
        match event {
            AgentEvent::Init {
                session_id, model, ..
            } => {
                self.session_id = session_id.clone().or(self.session_id.take());
                self.model = model.clone().or(self.model.take());
            }
            AgentEvent::Assistant { usage, .. } => {
                self.turns += 1;
                self.usage.add(usage);
            }
            AgentEvent::Result(result) => {
                if let Some(turns) = result.num_turns {
                    self.turns = turns;
                }
                if result.usage != Usage::default() {
                    self.usage = result.usage;
                }
                self.cost_usd = result.total_cost_usd.or(self.cost_usd);
                self.session_id = result.session_id.clone().or(self.session_id.take());
                self.result = Some(result.clone());
            }
            AgentEvent::Spent { total_cost_usd } => self.cost_usd = Some(*total_cost_usd),
            AgentEvent::User { .. } | AgentEvent::Other { .. } | AgentEvent::Text { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"s-1","tools":["Bash","Edit","Read"],"mcp_servers":[],"model":"claude-sonnet-4-5","permissionMode":"acceptEdits","apiKeySource":"ANTHROPIC_API_KEY"}"#;
    const ASSISTANT: &str = r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"I will commit."},{"type":"tool_use","id":"tu_1","name":"Bash","input":{"command":"git commit -am x"}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2}},"parent_tool_use_id":null,"session_id":"s-1"}"#;
    const USER: &str = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"tu_1","type":"tool_result","content":"ok","is_error":false},{"tool_use_id":"tu_2","type":"tool_result","content":"boom","is_error":true}]},"parent_tool_use_id":null,"session_id":"s-1"}"#;
    const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":1234,"duration_api_ms":1000,"num_turns":3,"result":"Done.","session_id":"s-1","total_cost_usd":0.0123,"usage":{"input_tokens":30,"output_tokens":12,"server_tool_use":{"web_search_requests":0}},"permission_denials":[],"uuid":"u"}"#;

    #[test]
    fn init_carries_session_model_and_tools() {
        assert_eq!(
            parse_line(INIT),
            AgentEvent::Init {
                session_id: Some("s-1".to_owned()),
                model: Some("claude-sonnet-4-5".to_owned()),
                tools: vec!["Bash".to_owned(), "Edit".to_owned(), "Read".to_owned()],
            }
        );
    }

    #[test]
    fn assistant_turns_carry_text_tools_and_usage() {
        let AgentEvent::Assistant {
            text,
            tool_uses,
            usage,
        } = parse_line(ASSISTANT)
        else {
            panic!("not an assistant event");
        };
        assert_eq!(text, "I will commit.");
        assert_eq!(tool_uses, ["Bash"]);
        assert_eq!(usage.input_tokens, 10);
        assert_eq!(usage.cache_read_input_tokens, 2);
    }

    #[test]
    fn user_events_count_tool_results_and_errors() {
        assert_eq!(
            parse_line(USER),
            AgentEvent::User {
                tool_results: 2,
                errors: 1
            }
        );
    }

    #[test]
    fn the_result_event_is_read_whole() {
        let AgentEvent::Result(result) = parse_line(RESULT) else {
            panic!("not a result");
        };
        assert_eq!(result.subtype, ResultSubtype::Success);
        assert!(!result.is_error);
        assert_eq!(result.num_turns, Some(3));
        assert_eq!(result.total_cost_usd, Some(0.0123));
        assert_eq!(result.usage.output_tokens, 12);
        assert_eq!(result.session_id.as_deref(), Some("s-1"));
    }

    #[test]
    fn every_result_subtype_is_known() {
        for (text, subtype) in [
            ("success", ResultSubtype::Success),
            ("error_max_turns", ResultSubtype::ErrorMaxTurns),
            (
                "error_during_execution",
                ResultSubtype::ErrorDuringExecution,
            ),
            ("error_max_budget_usd", ResultSubtype::ErrorMaxBudgetUsd),
            (
                "error_new_thing",
                ResultSubtype::Unknown("error_new_thing".to_owned()),
            ),
        ] {
            let line = format!(r#"{{"type":"result","subtype":"{text}"}}"#);
            let AgentEvent::Result(result) = parse_line(&line) else {
                panic!("{line}");
            };
            assert_eq!(result.subtype, subtype);
            assert_eq!(
                result.is_error,
                text != "success",
                "is_error defaults from the subtype"
            );
        }
    }

    #[test]
    fn an_explicit_is_error_wins_over_the_subtype() {
        let AgentEvent::Result(result) =
            parse_line(r#"{"type":"result","subtype":"success","is_error":true}"#)
        else {
            panic!();
        };
        assert!(result.is_error);
    }

    #[test]
    fn unknown_events_and_plain_text_are_kept() {
        assert_eq!(
            parse_line(r#"{"type":"stream_event","event":{}}"#),
            AgentEvent::Other {
                event_type: "stream_event".to_owned()
            }
        );
        assert_eq!(
            parse_line(r#"{"type":"system","subtype":"compact_boundary"}"#),
            AgentEvent::Other {
                event_type: "system/compact_boundary".to_owned()
            }
        );
        assert_eq!(
            parse_line("  building...  "),
            AgentEvent::Text {
                line: "building...".to_owned()
            }
        );
        assert_eq!(
            parse_line("[1,2]"),
            AgentEvent::Text {
                line: "[1,2]".to_owned()
            }
        );
        assert_eq!(
            parse_line("{}"),
            AgentEvent::Other {
                event_type: String::new()
            }
        );
    }

    #[test]
    fn malformed_fields_do_not_break_parsing() {
        let AgentEvent::Result(result) = parse_line(
            r#"{"type":"result","subtype":"success","num_turns":"three","usage":"lots","total_cost_usd":null}"#,
        ) else {
            panic!();
        };
        assert_eq!(result.num_turns, None);
        assert_eq!(result.usage, Usage::default());
        assert_eq!(result.total_cost_usd, None);
    }

    #[test]
    fn totals_follow_the_session_and_prefer_the_result() {
        let mut totals = AttemptTotals::default();
        for line in [INIT, ASSISTANT, USER, ASSISTANT] {
            totals.record(&parse_line(line));
        }
        assert_eq!(totals.turns, 2);
        assert_eq!(totals.usage.input_tokens, 20);
        assert_eq!(totals.session_id.as_deref(), Some("s-1"));
        assert_eq!(totals.model.as_deref(), Some("claude-sonnet-4-5"));
        assert!(totals.result.is_none());
        totals.record(&parse_line(RESULT));
        assert_eq!(totals.turns, 3);
        assert_eq!(totals.usage.input_tokens, 30);
        assert_eq!(totals.cost_usd, Some(0.0123));
        assert_eq!(totals.events, 5);
        assert!(totals.result.is_some());
    }

    #[test]
    fn a_cost_event_says_what_the_attempt_has_cost_so_far() {
        let mut totals = AttemptTotals::default();
        for line in [
            r#"{"type":"cost","total_cost_usd":0.5}"#,
            r#"{"type":"cost","total_cost_usd":1.25}"#,
        ] {
            totals.record(&parse_line(line));
        }
        assert_eq!(totals.cost_usd, Some(1.25));
        assert!(matches!(
            parse_line(r#"{"type":"cost","total_cost_usd":"lots"}"#),
            AgentEvent::Other { .. }
        ));
    }
}
