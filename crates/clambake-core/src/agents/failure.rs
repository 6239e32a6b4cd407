//! What an agent's final result says about why it went wrong: the model API's error status,
//! the CLI's terminal reason and closing message, and the tool calls its permission mode
//! denied. Claude Code puts all of these in its `result` event; Codex gives a message.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::text::inert::code_span;

/// How much of a closing message or a denied tool call's input a verdict quotes.
const QUOTED_CHARS: usize = 200;

/// The parts of a result that explain a failure. Empty when the CLI says nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResultDetails {
    /// The HTTP status of the model API's error (`api_error_status`), if the run ended on one.
    pub api_error_status: Option<u16>,
    /// The model API's error type (`api_error_type`), e.g. `overloaded_error`.
    pub api_error_type: Option<String>,
    /// Why the CLI's loop stopped (`terminal_reason`), e.g. `api_error`, `completed`.
    pub terminal_reason: Option<String>,
    /// The CLI's closing text (`result`, or Codex's error message), cut short.
    pub message: Option<String>,
    /// Tool calls the permission mode refused (`permission_denials`).
    pub permission_denials: Vec<PermissionDenial>,
}

/// One tool call the CLI refused to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionDenial {
    pub tool: String,
    /// What it would have run or touched: a command line, a file path, or its input as JSON.
    pub input: String,
}

impl ResultDetails {
    /// Reads Claude Code's `result` event (Codex's `turn.failed` and `error` carry only a
    /// message, under `error.message` or `message`).
    pub fn from_event(event: &Map<String, Value>) -> Self {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
        let message = text("result")
            .or_else(|| text("message"))
            .or_else(|| {
                event
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .map(|m| cut(m.trim(), QUOTED_CHARS))
            .filter(|m| !m.is_empty());
        Self {
            api_error_status: event
                .get("api_error_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            api_error_type: text("api_error_type"),
            terminal_reason: text("terminal_reason"),
            message,
            permission_denials: event
                .get("permission_denials")
                .and_then(Value::as_array)
                .map(|denials| denials.iter().map(PermissionDenial::from_value).collect())
                .unwrap_or_default(),
        }
    }

    /// The model API's failure in words, when the run ended on one.
    pub fn api_failure(&self) -> Option<String> {
        let status = self.api_error_status;
        let kind = self.api_error_type.as_deref();
        if status.is_none()
            && kind.is_none()
            && self.terminal_reason.as_deref() != Some("api_error")
        {
            return None;
        }
        let what = match (status, kind) {
            (Some(529), _) | (_, Some("overloaded_error")) => "the model API was overloaded",
            (Some(401), _) | (_, Some("authentication_error")) => {
                "the model API refused the agent's API key"
            }
            (Some(403), _) | (_, Some("permission_error")) => {
                "the model API denied the agent's API key access"
            }
            (Some(429), _) | (_, Some("rate_limit_error")) => {
                "the model API rate-limited the agent"
            }
            (Some(400..=499), _) | (_, Some("invalid_request_error")) => {
                "the model API rejected the agent's request"
            }
            _ => "the model API failed",
        };
        let code = match (status, kind) {
            (Some(status), Some(kind)) => format!(" (HTTP {status}, {})", word(kind)),
            (Some(status), None) => format!(" (HTTP {status})"),
            (None, Some(kind)) => format!(" ({})", word(kind)),
            (None, None) => String::new(),
        };
        let advice = match status {
            Some(401 | 403) => "; check the key the agent is given (agents.env_passthrough)",
            _ => "",
        };
        Some(format!("{what}{code}{advice}{}", self.quoted_message()))
    }

    /// Whether the model API refused the agent's key (401, 403): every attempt would fail
    /// alike until someone fixes the key, so it is a configuration error, not an agent's.
    pub fn refuses_key(&self) -> bool {
        matches!(self.api_error_status, Some(401 | 403))
            || matches!(
                self.api_error_type.as_deref(),
                Some("authentication_error" | "permission_error")
            )
    }

    /// The denied tool calls in words, with what would allow them, if there were any.
    pub fn denials(&self) -> Option<String> {
        let first = self.permission_denials.first()?;
        let count = self.permission_denials.len();
        let calls = if count == 1 {
            "1 tool call".to_owned()
        } else {
            format!("{count} tool calls")
        };
        let more = if count > 1 { " and others" } else { "" };
        Some(format!(
            "the agent's permission mode denied {calls} ({} {}{more}); allow it with \
             agents.claude_permission_mode or --allowedTools in agents.claude_extra_args",
            word(&first.tool),
            code_span(&first.input)
        ))
    }

    /// ` (terminal_reason prompt_too_long)` when the CLI's loop stopped for a reason other
    /// than completing, or nothing.
    pub fn terminal_note(&self) -> String {
        match self.terminal_reason.as_deref() {
            None | Some("completed") => String::new(),
            Some(reason) => format!(" (terminal_reason {})", word(reason)),
        }
    }

    /// `: `closing message``, or nothing. What the agent, the model or the API wrote is an
    /// inert code span here: these words reach issue comments.
    pub fn quoted_message(&self) -> String {
        self.message
            .as_deref()
            .map_or_else(String::new, |m| format!(": {}", code_span(m)))
    }
}

impl PermissionDenial {
    fn from_value(value: &Value) -> Self {
        let input = value.get("tool_input");
        let field = |key: &str| input.and_then(|i| i.get(key)).and_then(Value::as_str);
        let input = field("command")
            .or_else(|| field("file_path"))
            .or_else(|| field("path"))
            .map_or_else(
                || input.map(Value::to_string).unwrap_or_default(),
                str::to_owned,
            );
        Self {
            tool: value
                .get("tool_name")
                .and_then(Value::as_str)
                .unwrap_or("a tool")
                .to_owned(),
            input: cut(input.trim(), QUOTED_CHARS),
        }
    }
}

/// An identifier the CLI or the API reports (`overloaded_error`, `Bash`) as it is, anything
/// else as an inert code span: these words reach issue comments.
fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain {
        text.to_owned()
    } else {
        code_span(text)
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}{}", &text[..at], crate::text::redact::CUT),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(json: &str) -> ResultDetails {
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(json) else {
            panic!("{json}");
        };
        ResultDetails::from_event(&event)
    }

    // Printed by the real Claude Code 2.1.328 against a server answering 529 and 401.
    const OVERLOADED: &str = r#"{"type":"result","subtype":"success","is_error":true,"num_turns":1,"api_error_status":529,"api_error_type":"overloaded_error","terminal_reason":"api_error","permission_denials":[],"result":"API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment."}"#;
    const UNAUTHORIZED: &str = r#"{"type":"result","subtype":"success","is_error":true,"num_turns":1,"api_error_status":401,"api_error_type":"authentication_error","terminal_reason":"api_error","permission_denials":[],"result":"Invalid API key · Fix external API key"}"#;
    const DENIED: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"api_error_status":null,"terminal_reason":"completed","result":"done","permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_1","tool_input":{"command":"echo hi > a.txt && git add a.txt && git commit -qm `x`","description":"d"}}]}"#;

    #[test]
    fn an_overloaded_api_is_named_with_its_status() {
        let found = details(OVERLOADED).api_failure().unwrap();
        assert!(
            found.starts_with("the model API was overloaded (HTTP 529, overloaded_error)"),
            "{found}"
        );
        assert!(found.contains("API Error: 529 Overloaded"), "{found}");
    }

    #[test]
    fn a_refused_key_is_named_with_advice() {
        let found = details(UNAUTHORIZED).api_failure().unwrap();
        assert!(
            found.starts_with("the model API refused the agent's API key (HTTP 401, authentication_error); check the key"),
            "{found}"
        );
        assert!(found.ends_with(": `Invalid API key · Fix external API key`"));
    }

    #[test]
    fn other_statuses_are_named_too() {
        for (status, kind, words) in [
            (429, "rate_limit_error", "rate-limited"),
            (403, "permission_error", "denied the agent's API key access"),
            (400, "invalid_request_error", "rejected the agent's request"),
            (
                500,
                "api_error",
                "the model API failed (HTTP 500, api_error)",
            ),
        ] {
            let json = format!(
                r#"{{"type":"result","is_error":true,"api_error_status":{status},"api_error_type":"{kind}"}}"#
            );
            let found = details(&json).api_failure().unwrap();
            assert!(found.contains(words), "{found}");
        }
    }

    #[test]
    fn a_result_without_an_api_error_names_none() {
        assert_eq!(details(DENIED).api_failure(), None);
        assert_eq!(details(r#"{"type":"result"}"#), ResultDetails::default());
    }

    #[test]
    fn denied_tool_calls_are_named_with_their_command() {
        let found = details(DENIED).denials().unwrap();
        assert!(
            found.starts_with(
                "the agent's permission mode denied 1 tool call (Bash `` echo hi > a.txt && git add a.txt && git commit -qm `x` ``)"
            ),
            "{found}"
        );
        assert!(found.contains("agents.claude_permission_mode"));
        let two = details(
            r#"{"permission_denials":[{"tool_name":"Write","tool_input":{"file_path":"/etc/x"}},{"tool_name":"Bash","tool_input":{}}]}"#,
        );
        let found = two.denials().unwrap();
        assert!(
            found.contains("denied 2 tool calls (Write `/etc/x` and others)"),
            "{found}"
        );
        assert_eq!(details(OVERLOADED).denials(), None);
    }

    #[test]
    fn a_terminal_reason_other_than_completing_is_noted() {
        let stopped = details(r#"{"terminal_reason":"prompt_too_long"}"#);
        assert_eq!(
            stopped.terminal_note(),
            " (terminal_reason prompt_too_long)"
        );
        assert_eq!(details(DENIED).terminal_note(), "");
    }

    #[test]
    fn codex_messages_are_kept_and_long_ones_cut() {
        let failed = details(r#"{"type":"turn.failed","error":{"message":"high demand"}}"#);
        assert_eq!(failed.message.as_deref(), Some("high demand"));
        let long = format!(r#"{{"type":"error","message":"{}"}}"#, "x".repeat(500));
        let message = details(&long).message.unwrap();
        assert_eq!(message.chars().count(), QUOTED_CHARS + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn only_a_refused_key_is_a_configuration_error() {
        assert!(details(UNAUTHORIZED).refuses_key());
        assert!(!details(OVERLOADED).refuses_key());
        assert!(!details(DENIED).refuses_key());
        assert!(details(r#"{"api_error_status":403}"#).refuses_key());
    }
}
