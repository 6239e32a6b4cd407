//! What one line of an agent's output means, whichever CLI printed it: the events that both
//! the Claude Code parser ([`crate::agents::events`]) and the Codex one
//! ([`crate::agents::codex_events`]) produce.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agents::failure::ResultDetails;

/// One line of an agent's stdout, understood as far as it can be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentEvent {
    /// `system`/`init`: the session starts.
    Init {
        session_id: Option<String>,
        model: Option<String>,
        tools: Vec<String>,
    },
    /// A model turn: text and the tools it calls.
    Assistant {
        text: String,
        tool_uses: Vec<String>,
        usage: Usage,
    },
    /// Tool results handed back to the model.
    User { tool_results: usize, errors: usize },
    /// The final verdict of the CLI.
    Result(ResultEvent),
    /// `{"type":"cost","total_cost_usd":N}`: what the attempt has cost so far, as a runtime
    /// that reports it while it works says (the simulated agent; any command may). Clambake
    /// stops the attempt when it reaches the attempt's budget.
    Spent { total_cost_usd: f64 },
    /// A JSON event of a type (or `system` subtype) this version does not know.
    Other { event_type: String },
    /// A line that is not a JSON object: plain output of a non-Claude agent.
    Text { line: String },
}

/// The final `result` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultEvent {
    pub subtype: ResultSubtype,
    pub is_error: bool,
    pub num_turns: Option<u32>,
    pub total_cost_usd: Option<f64>,
    pub usage: Usage,
    pub session_id: Option<String>,
    /// What else it says about how it ended: API errors, denied tool calls, its last words.
    pub details: ResultDetails,
}

/// How the CLI says the session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultSubtype {
    Success,
    ErrorMaxTurns,
    ErrorDuringExecution,
    ErrorMaxBudgetUsd,
    /// A subtype this version does not know, kept verbatim.
    Unknown(String),
}

impl ResultSubtype {
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "success" => Self::Success,
            "error_max_turns" => Self::ErrorMaxTurns,
            "error_during_execution" => Self::ErrorDuringExecution,
            "error_max_budget_usd" => Self::ErrorMaxBudgetUsd,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

/// Token counts, as the Messages API reports them. Missing counts are zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    pub(crate) fn from_value(value: Option<&Value>) -> Self {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub(crate) fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}
