//! An attempt's log as a person reads it (`clambake logs`, `monitor`): each line of Claude
//! Code's stream-json or Codex's `exec --json` retold in a few lines, every tool call with its
//! command or file, results and text abridged with what was cut said, and the verdict last.
//!
//! Everything shown came from a model or a tool, so it is data: each rendered line has its
//! secrets redacted and its control characters (terminal escapes among them) neutralised.

use serde_json::Value;

use crate::agents::events::{AttemptTotals, Usage};
use crate::text::inert::terminal_line;
use crate::text::redact::Redactor;

/// How many lines of a tool's result are shown.
const RESULT_LINES: usize = 3;
/// How many lines of the model's text are shown.
const TEXT_LINES: usize = 6;
/// The longest line shown; the rest of it is cut.
const LINE_CHARS: usize = 200;

/// Renders log lines for a terminal, with the secrets it knows redacted.
#[derive(Debug, Clone, Copy)]
pub struct Renderer<'a> {
    redactor: &'a Redactor,
}

impl<'a> Renderer<'a> {
    pub fn new(redactor: &'a Redactor) -> Self {
        Self { redactor }
    }

    /// One log line, numbered `number` from 0, as the lines a person reads: none for an
    /// event that says nothing (Codex's `turn.started`), a marked line for a damaged one.
    pub fn line(&self, number: u64, line: &str) -> Vec<String> {
        let trimmed = line.trim();
        let told = if trimmed.is_empty() {
            Vec::new()
        } else {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(event @ Value::Object(_)) => event_lines(&event),
                Ok(_) => vec![trimmed.to_owned()],
                // Output of a plain command agent, or a JSON line cut short (a full disk, a kill).
                Err(_) if trimmed.starts_with('{') => vec![format!(
                    "[line {} is damaged, not JSON: {}]",
                    number + 1,
                    cut(trimmed, 80)
                )],
                Err(_) => vec![trimmed.to_owned()],
            }
        };
        told.iter().map(|told| self.inert(told)).collect()
    }

    /// The verdict and what the attempt cost, after its events.
    pub fn summary(&self, verdict: Option<&Verdict>, totals: &AttemptTotals) -> Vec<String> {
        let mut lines = vec![match verdict {
            Some(verdict) => format!("verdict: {}: {}", verdict.outcome, verdict.reason),
            None => "verdict: not recorded yet".to_owned(),
        }];
        let cost = verdict
            .and_then(|v| v.cost_usd)
            .or(totals.cost_usd)
            .map_or_else(|| "not reported".to_owned(), |c| format!("${c:.4}"));
        let turns = verdict.map_or(totals.turns, |v| v.turns.max(totals.turns));
        lines.push(format!(
            "{turns} turn(s), cost {cost}, tokens {}",
            tokens(&totals.usage)
        ));
        lines.iter().map(|line| self.inert(line)).collect()
    }

    fn inert(&self, text: &str) -> String {
        terminal_line(&self.redactor.redact(text))
    }
}

/// An attempt's verdict as the journal recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The outcome's word: `success`, `max_turns`, ...
    pub outcome: String,
    pub reason: String,
    pub cost_usd: Option<f64>,
    pub turns: u32,
}

fn tokens(usage: &Usage) -> String {
    let mut told = format!("{} in / {} out", usage.input_tokens, usage.output_tokens);
    if usage.cache_read_input_tokens > 0 || usage.cache_creation_input_tokens > 0 {
        told.push_str(&format!(
            " (cache: {} read, {} written)",
            usage.cache_read_input_tokens, usage.cache_creation_input_tokens
        ));
    }
    told
}

/// A JSON object's lines. It is read as a `Value`, whose index answers `null` for a missing
/// key where a `Map`'s would panic.
fn event_lines(event: &Value) -> Vec<String> {
    let text = |key: &str| event[key].as_str().unwrap_or_default();
    match (text("type"), text("subtype")) {
        ("system", "init") => vec![format!(
            "session {} started: model {}",
            text("session_id"),
            text("model")
        )],
        ("system", "api_retry") => vec![format!(
            "API retry {} of {}: HTTP {} {}",
            event["attempt"], event["max_retries"], event["error_status"], event["error"]
        )],
        ("assistant", _) => blocks(event).iter().flat_map(assistant_block).collect(),
        ("user", _) => blocks(event)
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .flat_map(tool_result)
            .collect(),
        ("result", subtype) => vec![claude_result(subtype, event)],
        ("thread.started", _) => vec![format!("session {} started", text("thread_id"))],
        ("turn.started", _) => Vec::new(),
        ("turn.completed", _) => vec!["result: success".to_owned()],
        ("turn.failed", _) => vec![format!(
            "result: failed: {}",
            event["error"]["message"].as_str().unwrap_or_default()
        )],
        ("error", _) => vec![format!("error: {}", text("message"))],
        ("item.started", _) => codex_started(&event["item"]),
        ("item.completed", _) => codex_completed(&event["item"]),
        ("item.updated", _) => Vec::new(),
        ("", _) => vec![format!(
            "event without a type: {}",
            cut(&event.to_string(), 80)
        )],
        (kind, "") => vec![format!("event {kind}")],
        (kind, subtype) => vec![format!("event {kind}/{subtype}")],
    }
}

fn blocks(event: &Value) -> Vec<Value> {
    event["message"]["content"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn assistant_block(block: &Value) -> Vec<String> {
    match block["type"].as_str() {
        Some("text") => abridged(
            "assistant: ",
            block["text"].as_str().unwrap_or_default(),
            TEXT_LINES,
        ),
        Some("thinking") => abridged(
            "thinking: ",
            block["thinking"].as_str().unwrap_or_default(),
            1,
        ),
        Some("tool_use") => vec![tool_call(
            block["name"].as_str().unwrap_or("a tool"),
            &block["input"],
        )],
        _ => Vec::new(),
    }
}

/// `→ Bash: git commit -qm x`: a Claude Code tool call by what it acts on.
fn tool_call(name: &str, input: &Value) -> String {
    let field = |key: &str| input[key].as_str();
    let what = match name {
        "Bash" => field("command").map(str::to_owned),
        "Read" | "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => field("file_path")
            .or_else(|| field("notebook_path"))
            .map(str::to_owned),
        "Grep" | "Glob" => field("pattern").map(|pattern| match field("path") {
            Some(path) => format!("{pattern} in {path}"),
            None => pattern.to_owned(),
        }),
        "WebFetch" => field("url").map(str::to_owned),
        "WebSearch" => field("query").map(str::to_owned),
        "Task" | "Agent" => field("description").map(str::to_owned),
        _ => None,
    };
    let what = what.unwrap_or_else(|| input.to_string());
    format!("→ {name}: {}", cut(&one_line(&what), LINE_CHARS))
}

fn tool_result(block: &Value) -> Vec<String> {
    let content = match &block["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let head = if block["is_error"] == true {
        "  ← error: "
    } else {
        "  ← "
    };
    abridged(head, &content, RESULT_LINES)
}

fn claude_result(subtype: &str, event: &Value) -> String {
    let mut parts = vec![subtype.to_owned()];
    if event.get("is_error").and_then(Value::as_bool) == Some(true) {
        parts.push("is_error".to_owned());
    }
    if let Some(status) = event.get("api_error_status").and_then(Value::as_u64) {
        parts.push(format!("HTTP {status}"));
    }
    let denials = event
        .get("permission_denials")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if denials > 0 {
        parts.push(format!("{denials} permission denial(s)"));
    }
    let message = event
        .get("result")
        .and_then(Value::as_str)
        .map_or_else(String::new, |m| {
            format!(": {}", cut(&one_line(m), LINE_CHARS))
        });
    format!("result: {}{message}", parts.join(", "))
}

fn codex_started(item: &Value) -> Vec<String> {
    match item["type"].as_str() {
        Some("command_execution") => vec![format!(
            "→ shell: {}",
            cut(
                &one_line(item["command"].as_str().unwrap_or_default()),
                LINE_CHARS
            )
        )],
        Some("mcp_tool_call") => vec![format!(
            "→ {}.{}: {}",
            item["server"].as_str().unwrap_or_default(),
            item["tool"].as_str().unwrap_or_default(),
            cut(&item["arguments"].to_string(), LINE_CHARS)
        )],
        _ => Vec::new(),
    }
}

fn codex_completed(item: &Value) -> Vec<String> {
    let text = |key: &str| item[key].as_str().unwrap_or_default();
    match text("type") {
        "agent_message" => abridged("assistant: ", text("text"), TEXT_LINES),
        "reasoning" => abridged("thinking: ", text("text"), 1),
        "command_execution" => {
            let head = match item["exit_code"].as_i64() {
                Some(0) => "  ← ".to_owned(),
                Some(code) => format!("  ← exit {code}: "),
                None => "  ← ".to_owned(),
            };
            abridged(&head, text("aggregated_output"), RESULT_LINES)
        }
        "file_change" => {
            let changes: Vec<String> = item["changes"]
                .as_array()
                .map(|changes| {
                    changes
                        .iter()
                        .map(|c| {
                            format!(
                                "{} {}",
                                c["kind"].as_str().unwrap_or("change"),
                                c["path"].as_str().unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![format!("→ patch: {}", cut(&changes.join(", "), LINE_CHARS))]
        }
        "mcp_tool_call" => {
            let result = match (&item["error"], &item["result"]["content"]) {
                (Value::Null, Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|part| part["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                (Value::Null, _) => String::new(),
                (error, _) => format!("error: {}", error["message"].as_str().unwrap_or_default()),
            };
            abridged("  ← ", &result, RESULT_LINES)
        }
        "web_search" => vec![format!(
            "→ web search: {}",
            cut(&one_line(text("query")), LINE_CHARS)
        )],
        "todo_list" => vec!["plan updated".to_owned()],
        "error" => vec![format!(
            "warning: {}",
            cut(&one_line(text("message")), LINE_CHARS)
        )],
        other => vec![format!("item {other}")],
    }
}

/// `text` after `head`, at most `max` of its lines, each cut to [`LINE_CHARS`], with a last
/// line saying how much was left out.
fn abridged(head: &str, text: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let indent = " ".repeat(head.chars().count());
    let mut told: Vec<String> = lines
        .iter()
        .take(max)
        .enumerate()
        .map(|(n, line)| {
            let lead = if n == 0 { head } else { indent.as_str() };
            format!("{lead}{}", cut(line, LINE_CHARS))
        })
        .collect();
    if told.is_empty() {
        told.push(format!("{head}(nothing)"));
    }
    if lines.len() > max {
        let left: usize = lines[max..].iter().map(|l| l.chars().count() + 1).sum();
        told.push(format!(
            "{indent}… {} more line(s), {left} character(s) cut",
            lines.len() - max
        ));
    }
    told
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(text: &str, max: usize) -> String {
    crate::agents::failure::cut(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(log: &str) -> String {
        let redactor = Redactor::from_variables([("ANTHROPIC_API_KEY", "sk-scripted-0123")]);
        let renderer = Renderer::new(&redactor);
        let mut totals = AttemptTotals::default();
        let mut lines = Vec::new();
        for (number, line) in (0..).zip(log.lines()) {
            totals.record(&crate::agents::events::parse_line(line));
            lines.extend(renderer.line(number, line));
        }
        let verdict = Verdict {
            outcome: "success".to_owned(),
            reason: "the agent finished with 1 commit".to_owned(),
            cost_usd: None,
            turns: 0,
        };
        lines.extend(renderer.summary(Some(&verdict), &totals));
        lines.join("\n")
    }

    #[test]
    fn a_captured_claude_code_log() {
        insta::assert_snapshot!(rendered(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/logs/claude_code.jsonl"
        ))));
    }

    #[test]
    fn a_captured_codex_log() {
        insta::assert_snapshot!(rendered(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/logs/codex.jsonl"
        ))));
    }

    fn one(line: &str) -> Vec<String> {
        let redactor = Redactor::from_variables([("GH_TOKEN", "ghp_0123456789")]);
        Renderer::new(&redactor).line(6, line)
    }

    #[test]
    fn a_damaged_line_is_marked_and_plain_text_kept() {
        assert_eq!(
            one(r#"{"type":"assistant","message":{"#),
            [r#"[line 7 is damaged, not JSON: {"type":"assistant","message":{]"#]
        );
        assert_eq!(
            one("  compiling \u{1b}[2Kfoo "),
            ["compiling \u{FFFD}[2Kfoo"]
        );
        assert_eq!(one("[1,2]"), ["[1,2]"]);
        assert!(one("").is_empty());
        assert!(one(r#"{"type":"turn.started"}"#).is_empty());
    }

    #[test]
    fn unknown_events_and_tools_are_named_and_secrets_redacted() {
        assert_eq!(one(r#"{"type":"stream_event"}"#), ["event stream_event"]);
        assert_eq!(
            one(r#"{"type":"system","subtype":"compact_boundary"}"#),
            ["event system/compact_boundary"]
        );
        let call = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"TodoWrite","input":{"todos":[]}},{"type":"tool_use","name":"Bash","input":{"command":"echo ghp_0123456789\necho two"}}]}}"#;
        assert_eq!(
            one(call),
            [
                r#"→ TodoWrite: {"todos":[]}"#,
                "→ Bash: echo [redacted] echo two"
            ]
        );
        let failed = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"denied"}],"is_error":true}]}}"#;
        assert_eq!(one(failed), ["  ← error: denied"]);
    }

    #[test]
    fn events_missing_their_fields_are_told_without_a_panic() {
        for line in [
            r#"{"type":"system","subtype":"api_retry"}"#,
            r#"{"type":"turn.failed"}"#,
            r#"{"type":"item.completed"}"#,
            r#"{"type":"item.completed","item":{"type":"file_change","changes":"x"}}"#,
            r#"{"type":"item.completed","item":{"type":"mcp_tool_call","error":{}}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use"}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","content":7}]}}"#,
            r#"{"type":"result"}"#,
            r#"{"type":7}"#,
        ] {
            assert!(!one(line).is_empty(), "{line}");
        }
        assert_eq!(one(r#"{"type":"turn.failed"}"#), ["result: failed: "]);
        assert!(one(r#"{"type":"item.started"}"#).is_empty());
    }

    #[test]
    fn an_attempt_without_a_verdict_says_so() {
        let redactor = Redactor::default();
        assert_eq!(
            Renderer::new(&redactor).summary(None, &AttemptTotals::default()),
            [
                "verdict: not recorded yet",
                "0 turn(s), cost not reported, tokens 0 in / 0 out"
            ]
        );
    }
}
