//! The end of an attempt's log as a person reads it in a failure comment. Claude Code's
//! stream-json lines run to thousands of characters, with the fields that explain a failure
//! near their end, so each event is retold in a short line that leads with them.

use serde_json::{Map, Value};

use crate::agents::failure::cut;

/// The longest line a tail quotes.
const LINE_CHARS: usize = 300;
/// How many of the last stdout and stderr lines a tail quotes.
const STDOUT_LINES: usize = 15;
const STDERR_LINES: usize = 5;

/// The last lines of `stdout` (events retold) and of `stderr`, each cut to a readable length;
/// a comment quotes them as an inert code block.
pub fn log_tail(stdout: &str, stderr: &str) -> String {
    let last = |text: &str, count: usize, render: fn(&str) -> String| {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|line| cut(&render(line), LINE_CHARS))
            .collect::<Vec<_>>()
    };
    let mut lines = last(stdout, STDOUT_LINES, readable);
    let errors = last(stderr, STDERR_LINES, |l| l.trim_end().to_owned());
    if !errors.is_empty() {
        lines.push("(stderr)".to_owned());
        lines.extend(errors);
    }
    if lines.is_empty() {
        return "(the log is empty)".to_owned();
    }
    lines.join("\n")
}

/// One stdout line retold: an event by what it says, anything else as it is.
pub fn readable(line: &str) -> String {
    let trimmed = line.trim();
    let Ok(Value::Object(event)) = serde_json::from_str::<Value>(trimmed) else {
        return trimmed.to_owned();
    };
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
    match (text("type"), text("subtype")) {
        ("result", subtype) => result_line(subtype, &event),
        ("system", "init") => format!(
            "init: session {}, model {}",
            text("session_id"),
            text("model")
        ),
        ("system", "api_retry") => {
            // A `Map`'s index panics on a missing key; `get` does not.
            let field = |key: &str| event.get(key).unwrap_or(&Value::Null);
            format!(
                "api_retry: attempt {} of {}, HTTP {} {}",
                field("attempt"),
                field("max_retries"),
                field("error_status"),
                field("error")
            )
        }
        ("assistant", _) => format!("assistant: {}", blocks(&event)),
        ("user", _) => format!("tool result: {}", blocks(&event)),
        _ => trimmed.to_owned(),
    }
}

/// A `result` event, its cause first: `result: success, is_error, HTTP 529 overloaded_error,
/// terminal_reason api_error, num_turns 1: "API Error: ..."`.
fn result_line(subtype: &str, event: &Map<String, Value>) -> String {
    let mut parts = vec![subtype.to_owned()];
    if event.get("is_error").and_then(Value::as_bool) == Some(true) {
        parts.push("is_error".to_owned());
    }
    if let Some(status) = event.get("api_error_status").and_then(Value::as_u64) {
        let kind = event
            .get("api_error_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        parts.push(format!("HTTP {status} {kind}").trim_end().to_owned());
    }
    if let Some(reason) = event.get("terminal_reason").and_then(Value::as_str) {
        parts.push(format!("terminal_reason {reason}"));
    }
    if let Some(turns) = event.get("num_turns").and_then(Value::as_u64) {
        parts.push(format!("num_turns {turns}"));
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
        .map_or_else(String::new, |m| format!(": {}", m.trim()));
    format!("result: {}{message}", parts.join(", "))
}

/// The content blocks of a message, each in a few words: text, a tool call and its command, a
/// tool result (marked when it is an error).
fn blocks(event: &Map<String, Value>) -> String {
    let Some(blocks) = event
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
    else {
        return String::new();
    };
    let told: Vec<String> = blocks
        .iter()
        .map(|block| match block.get("type").and_then(Value::as_str) {
            Some("text") => block["text"].as_str().unwrap_or_default().to_owned(),
            Some("tool_use") => {
                let input = &block["input"];
                let what = input["command"]
                    .as_str()
                    .or_else(|| input["file_path"].as_str())
                    .map_or_else(|| input.to_string(), str::to_owned);
                format!("[{} {what}]", block["name"].as_str().unwrap_or("tool"))
            }
            Some("tool_result") => {
                let content = match &block["content"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let error = if block["is_error"] == true {
                    "(error) "
                } else {
                    ""
                };
                format!("{error}{content}")
            }
            _ => block.to_string(),
        })
        .collect();
    told.join(" ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail of a real Claude Code 2.1.328 log against a model API answering 529 (the
    /// result line trimmed of fields that do not matter here, yet still over 300 characters).
    const OVERLOADED: &str = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"150187c6","tools":["Bash"],"model":"claude-opus-5-5"}
{"type":"assistant","message":{"model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"API Error: 529 Overloaded."}]},"session_id":"150187c6","error":"server_error","is_api_error_message":true,"api_error_status":529}
{"duration_api_ms":0,"stop_reason":"stop_sequence","session_id":"150187c6-6eb9-4f58-8db0-f64a000c1b1f","total_cost_usd":0,"usage":{"output_tokens_details":{"thinking_tokens":0},"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0,"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard"},"modelUsage":{},"permission_denials":[],"terminal_reason":"api_error","is_error":true,"num_turns":1,"subtype":"success","api_error_status":529,"api_error_type":"overloaded_error","result":"API Error: 529 Overloaded.","type":"result"}"#;

    #[test]
    fn the_line_that_explains_the_failure_survives() {
        let tail = log_tail(OVERLOADED, "");
        let last = tail.lines().last().unwrap();
        assert_eq!(
            last,
            "result: success, is_error, HTTP 529 overloaded_error, terminal_reason api_error, \
             num_turns 1: API Error: 529 Overloaded."
        );
        assert!(tail.starts_with("init: session 150187c6, model claude-opus-5-5\n"));
        assert!(tail.contains("assistant: API Error: 529 Overloaded."));
    }

    #[test]
    fn tool_calls_and_results_are_told_briefly() {
        let call = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"I will commit."},{"type":"tool_use","name":"Bash","input":{"command":"git commit -qm x","description":"d"}}]}}"#;
        assert_eq!(
            readable(call),
            "assistant: I will commit. [Bash git commit -qm x]"
        );
        let denied = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"This command requires approval","is_error":true}]}}"#;
        assert_eq!(
            readable(denied),
            "tool result: (error) This command requires approval"
        );
        assert_eq!(readable("  plain output "), "plain output");
    }

    #[test]
    fn an_api_retry_without_its_fields_is_told_without_a_panic() {
        assert_eq!(
            readable(r#"{"type":"system","subtype":"api_retry"}"#),
            "api_retry: attempt null of null, HTTP null null"
        );
    }

    #[test]
    fn stderr_keeps_its_own_lines_after_stdout() {
        let stdout = (1..=40).map(|n| format!("out {n}\n")).collect::<String>();
        let stderr = (1..=40).map(|n| format!("err {n}\n")).collect::<String>();
        let tail = log_tail(&stdout, &stderr);
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), STDOUT_LINES + 1 + STDERR_LINES);
        assert_eq!(lines[0], "out 26");
        assert_eq!(lines[STDOUT_LINES - 1], "out 40");
        assert_eq!(lines[STDOUT_LINES], "(stderr)");
        assert_eq!(lines.last(), Some(&"err 40"));
    }

    #[test]
    fn empty_logs_say_so_and_fences_cannot_close() {
        assert_eq!(log_tail("", "\n"), "(the log is empty)");
        let long = "y".repeat(1000);
        assert_eq!(log_tail(&long, "").chars().count(), LINE_CHARS + 1);
    }
}
