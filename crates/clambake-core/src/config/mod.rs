//! `clambake.toml`: the typed configuration, its key registry, and validation that points at
//! the offending spot. Pure: callers hand in the file's text and the environment's overrides.

use std::collections::BTreeMap;
use std::fmt;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use toml_edit::{Document, DocumentMut, Item};

/// The name of the configuration file at the repository root.
pub const CONFIG_FILE: &str = "clambake.toml";

/// The prefix of environment variables that override the file: `CLAMBAKE_AGENTS__MAX_CONCURRENT`.
pub const ENV_PREFIX: &str = "CLAMBAKE_";

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub github: GithubConfig,
    pub forge: ForgeConfig,
    pub agents: AgentsConfig,
    pub bundling: BundlingConfig,
    pub state_machine: StateMachineConfig,
    pub recovery: RecoveryConfig,
    pub github_actions: GithubActionsConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GithubConfig {
    pub owner: String,
    pub repo: String,
    pub api_base_url: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            owner: String::new(),
            repo: String::new(),
            api_base_url: "https://api.github.com".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForgeConfig {
    pub backend: ForgeBackend,
    pub poll_interval_seconds: u32,
}

impl Default for ForgeConfig {
    fn default() -> Self {
        Self {
            backend: ForgeBackend::default(),
            poll_interval_seconds: 15,
        }
    }
}

/// Where issues, labels and pull requests live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForgeBackend {
    /// The embedded forge: SQLite under `.clambake/` plus the repository's own refs.
    #[default]
    Local,
    /// GitHub's REST API.
    Github,
}

impl fmt::Display for ForgeBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Github => "github",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentsConfig {
    pub runtime: AgentRuntimeKind,
    pub claude_code_path: String,
    pub max_concurrent: u32,
    pub timeout_minutes: u32,
    pub stall_timeout_minutes: u32,
    pub max_attempts: u32,
    pub cleanup_on_failure: bool,
    pub real_processes: bool,
    pub terminate_grace_seconds: u32,
    pub retry_backoff_seconds: u32,
    pub env_passthrough: String,
    pub command: String,
    pub claude_permission_mode: String,
    pub claude_max_turns: u32,
    pub claude_model: String,
    pub claude_append_system_prompt: String,
    pub claude_extra_args: String,
    pub codex_path: String,
    pub codex_sandbox: String,
    pub codex_model: String,
    pub codex_extra_args: String,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            runtime: AgentRuntimeKind::Claude,
            claude_code_path: "claude".to_owned(),
            max_concurrent: 4,
            timeout_minutes: 60,
            stall_timeout_minutes: 10,
            max_attempts: 3,
            cleanup_on_failure: false,
            real_processes: true,
            terminate_grace_seconds: 30,
            retry_backoff_seconds: 60,
            env_passthrough: DEFAULT_ENV_PASSTHROUGH.to_owned(),
            command: String::new(),
            claude_permission_mode: "acceptEdits".to_owned(),
            claude_max_turns: 50,
            claude_model: String::new(),
            claude_append_system_prompt: String::new(),
            claude_extra_args: String::new(),
            codex_path: "codex".to_owned(),
            codex_sandbox: "workspace-write".to_owned(),
            codex_model: String::new(),
            codex_extra_args: String::new(),
        }
    }
}

/// The variables agents see besides the basic allowlist: what Claude Code and Codex need to
/// reach their models, besides their keys (see [`crate::agents::command::ModelKeys`]). Forge
/// tokens are never passed, whatever this says.
pub const DEFAULT_ENV_PASSTHROUGH: &str =
    "ANTHROPIC_BASE_URL CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC IS_SANDBOX CODEX_HOME";

/// Which agent CLI runs an attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRuntimeKind {
    #[default]
    Claude,
    Codex,
    Command,
    Simulated,
}

impl AgentRuntimeKind {
    /// The name as `agents.runtime` and `--runtime` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Command => "command",
            Self::Simulated => "simulated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BundlingConfig {
    pub enabled: bool,
    pub schedule_minutes: u32,
    pub max_bundle_size: u32,
    pub conflict_strategy: ConflictStrategy,
    pub trigger: BundleTrigger,
}

impl Default for BundlingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule_minutes: 10,
            max_bundle_size: 8,
            conflict_strategy: ConflictStrategy::IndividualFallback,
            trigger: BundleTrigger::Schedule,
        }
    }
}

/// What a train does with a branch that conflicts with the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStrategy {
    /// Open an individual pull request for it.
    #[default]
    IndividualFallback,
    /// Leave it waiting for the next train.
    SkipConflicts,
}

/// When a train departs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleTrigger {
    #[default]
    Schedule,
    OnLand,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateMachineConfig {
    pub enabled: bool,
    pub inconsistency_check_interval_minutes: u32,
    pub auto_recovery_enabled: bool,
    pub transition_logging: TransitionLogging,
}

impl Default for StateMachineConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            inconsistency_check_interval_minutes: 5,
            auto_recovery_enabled: true,
            transition_logging: TransitionLogging::Detailed,
        }
    }
}

/// How much of each transition the journal records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionLogging {
    #[default]
    Detailed,
    Minimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecoveryConfig {
    pub max_stuck_time_minutes: u32,
    pub force_reset_after_minutes: u32,
    pub cleanup_abandoned_branches: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_stuck_time_minutes: 90,
            force_reset_after_minutes: 180,
            cleanup_abandoned_branches: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GithubActionsConfig {
    pub enabled: bool,
    pub bundling_workflow: String,
    pub manual_trigger_enabled: bool,
    pub workflow_timeout_minutes: u32,
}

impl Default for GithubActionsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            bundling_workflow: "clambake-bundle.yml".to_owned(),
            manual_trigger_enabled: true,
            workflow_timeout_minutes: 30,
        }
    }
}

/// The kind of value a key takes, with its allowed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Bool,
    /// A whole number in `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    Text,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("true or false"),
            Self::Integer { min, max } if *max == i64::from(u32::MAX) => {
                write!(f, "a whole number, {min} or more")
            }
            Self::Integer { min, max } => write!(f, "a whole number from {min} to {max}"),
            Self::Text => f.write_str("a string"),
            Self::Choice(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
                write!(f, "one of {}", quoted.join(", "))
            }
        }
    }
}

/// One configuration key: where it lives, what it takes and why it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub section: &'static str,
    pub name: &'static str,
    pub kind: ValueKind,
    pub doc: &'static str,
}

impl KeySpec {
    /// The dotted name used on the command line: `agents.max_concurrent`.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// The environment variable that overrides this key.
    pub fn env_var(&self) -> String {
        format!(
            "{ENV_PREFIX}{}__{}",
            self.section.to_ascii_uppercase(),
            self.name.to_ascii_uppercase()
        )
    }
}

/// One section of the file, with the comment `init` writes above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionSpec {
    pub name: &'static str,
    pub doc: &'static str,
}

const WHOLE: ValueKind = ValueKind::Integer {
    min: 0,
    max: u32::MAX as i64,
};
const POSITIVE: ValueKind = ValueKind::Integer {
    min: 1,
    max: u32::MAX as i64,
};

/// The sections, in the order `init` writes them.
pub const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        name: "forge",
        doc: "Where issues, labels and pull requests live: \"local\" keeps them in .clambake/ \
              beside your repository (no account, no network); \"github\" uses GitHub.",
    },
    SectionSpec {
        name: "github",
        doc: "The GitHub repository, used when forge.backend = \"github\".",
    },
    SectionSpec {
        name: "agents",
        doc: "The agent processes: which CLI runs, how many at once, and when to give up on one.",
    },
    SectionSpec {
        name: "bundling",
        doc: "Trains: finished branches leave together in one pull request on a schedule; \
              branches that conflict get pull requests of their own.",
    },
    SectionSpec {
        name: "state_machine",
        doc: "The lifecycle state machine that checks what Clambake believes against the forge, \
              git and the OS, and repairs drift.",
    },
    SectionSpec {
        name: "recovery",
        doc: "When a stuck agent is repaired or reset. Work is never dropped: branch tips are \
              archived under refs/clambake/archive/ first.",
    },
    SectionSpec {
        name: "github_actions",
        doc: "Run bundling as a scheduled GitHub Actions workflow instead of on this machine.",
    },
];

/// Every key, grouped by section. A test checks this list against [`Config`]'s fields.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        section: "forge",
        name: "backend",
        kind: ValueKind::Choice(&["local", "github"]),
        doc: "\"local\" (embedded, the default) or \"github\".",
    },
    KeySpec {
        section: "forge",
        name: "poll_interval_seconds",
        kind: POSITIVE,
        doc: "How often `run` polls the forge when nothing else wakes it (an agent exiting \
              wakes it at once).",
    },
    KeySpec {
        section: "github",
        name: "owner",
        kind: ValueKind::Text,
        doc: "The user or organisation that owns the repository.",
    },
    KeySpec {
        section: "github",
        name: "repo",
        kind: ValueKind::Text,
        doc: "The repository's name.",
    },
    KeySpec {
        section: "github",
        name: "api_base_url",
        kind: ValueKind::Text,
        doc: "The REST API's base URL (change it for GitHub Enterprise Server).",
    },
    KeySpec {
        section: "agents",
        name: "runtime",
        kind: ValueKind::Choice(&["claude", "codex", "command", "simulated"]),
        doc: "The agent CLI: \"claude\" (Claude Code), \"codex\", \"command\" or \"simulated\".",
    },
    KeySpec {
        section: "agents",
        name: "claude_code_path",
        kind: ValueKind::Text,
        doc: "The Claude Code executable, a name on PATH or a path.",
    },
    KeySpec {
        section: "agents",
        name: "max_concurrent",
        kind: POSITIVE,
        doc: "How many agents work at once.",
    },
    KeySpec {
        section: "agents",
        name: "timeout_minutes",
        kind: POSITIVE,
        doc: "An attempt running longer than this is terminated.",
    },
    KeySpec {
        section: "agents",
        name: "stall_timeout_minutes",
        kind: POSITIVE,
        doc: "An agent silent for this long is considered stalled and terminated.",
    },
    KeySpec {
        section: "agents",
        name: "max_attempts",
        kind: POSITIVE,
        doc: "Attempts per issue before it is labelled route:failed.",
    },
    KeySpec {
        section: "agents",
        name: "cleanup_on_failure",
        kind: ValueKind::Bool,
        doc: "Remove a failed attempt's worktree (its branch is always kept).",
    },
    KeySpec {
        section: "agents",
        name: "real_processes",
        kind: ValueKind::Bool,
        doc: "false runs the built-in simulated agent instead of a real CLI.",
    },
    KeySpec {
        section: "agents",
        name: "terminate_grace_seconds",
        kind: WHOLE,
        doc: "After SIGTERM, how long an agent's process group has before SIGKILL.",
    },
    KeySpec {
        section: "agents",
        name: "retry_backoff_seconds",
        kind: WHOLE,
        doc: "The wait before retrying a failed issue; it doubles with each failure (30 minutes at most).",
    },
    KeySpec {
        section: "agents",
        name: "env_passthrough",
        kind: ValueKind::Text,
        doc: "Space-separated variables agents inherit beyond PATH, HOME, locale and the like; \
              NAME_* passes a prefix. Forge tokens are never passed; claude gets the Anthropic \
              keys and codex the OpenAI keys without being named, and neither the other's.",
    },
    KeySpec {
        section: "agents",
        name: "command",
        kind: ValueKind::Text,
        doc: "For runtime = \"command\": the argv, split like a shell would but never run by \
              one; {issue}, {branch}, {prompt_file} and {worktree} are filled in.",
    },
    KeySpec {
        section: "agents",
        name: "claude_permission_mode",
        kind: ValueKind::Text,
        doc: "Claude Code's --permission-mode. \"acceptEdits\" lets an unattended agent edit \
              files and run read-only commands; allow more with --allowedTools in \
              claude_extra_args, or \"bypassPermissions\" (as root Claude Code wants IS_SANDBOX=1).",
    },
    KeySpec {
        section: "agents",
        name: "claude_max_turns",
        kind: WHOLE,
        doc: "Claude Code's --max-turns (0: the CLI's own limit).",
    },
    KeySpec {
        section: "agents",
        name: "claude_model",
        kind: ValueKind::Text,
        doc: "Claude Code's --model (empty: the CLI's default).",
    },
    KeySpec {
        section: "agents",
        name: "claude_append_system_prompt",
        kind: ValueKind::Text,
        doc: "Text for Claude Code's --append-system-prompt (empty: none).",
    },
    KeySpec {
        section: "agents",
        name: "claude_extra_args",
        kind: ValueKind::Text,
        doc: "More arguments for Claude Code, split like a shell would but never run by one.",
    },
    KeySpec {
        section: "agents",
        name: "codex_path",
        kind: ValueKind::Text,
        doc: "The Codex CLI executable, a name on PATH or a path.",
    },
    KeySpec {
        section: "agents",
        name: "codex_sandbox",
        kind: ValueKind::Choice(&["read-only", "workspace-write", "danger-full-access"]),
        doc: "Codex's --sandbox. \"workspace-write\" lets it edit the worktree but not git's \
              metadata, so Clambake commits its work when it exits; \"danger-full-access\" \
              lets it commit itself.",
    },
    KeySpec {
        section: "agents",
        name: "codex_model",
        kind: ValueKind::Text,
        doc: "Codex's --model (empty: the CLI's default).",
    },
    KeySpec {
        section: "agents",
        name: "codex_extra_args",
        kind: ValueKind::Text,
        doc: "More arguments for `codex exec`, split like a shell would but never run by one.",
    },
    KeySpec {
        section: "bundling",
        name: "enabled",
        kind: ValueKind::Bool,
        doc: "false gives every landed branch a pull request of its own.",
    },
    KeySpec {
        section: "bundling",
        name: "schedule_minutes",
        kind: POSITIVE,
        doc: "A train departs at every UTC multiple of this many minutes.",
    },
    KeySpec {
        section: "bundling",
        name: "max_bundle_size",
        kind: POSITIVE,
        doc: "The most branches one bundle pull request carries.",
    },
    KeySpec {
        section: "bundling",
        name: "conflict_strategy",
        kind: ValueKind::Choice(&["individual_fallback", "skip_conflicts"]),
        doc: "\"individual_fallback\" opens a pull request per conflicting branch; \
              \"skip_conflicts\" leaves it for the next train.",
    },
    KeySpec {
        section: "bundling",
        name: "trigger",
        kind: ValueKind::Choice(&["schedule", "on_land", "manual"]),
        doc: "\"schedule\", \"on_land\" (as soon as work lands) or \"manual\".",
    },
    KeySpec {
        section: "state_machine",
        name: "enabled",
        kind: ValueKind::Bool,
        doc: "false manages agents by labels alone.",
    },
    KeySpec {
        section: "state_machine",
        name: "inconsistency_check_interval_minutes",
        kind: POSITIVE,
        doc: "How often the running orchestrator compares its state with the world.",
    },
    KeySpec {
        section: "state_machine",
        name: "auto_recovery_enabled",
        kind: ValueKind::Bool,
        doc: "Repair the drift it finds without asking.",
    },
    KeySpec {
        section: "state_machine",
        name: "transition_logging",
        kind: ValueKind::Choice(&["detailed", "minimal"]),
        doc: "\"detailed\" journals each transition's cause and evidence; \"minimal\" only the \
              states.",
    },
    KeySpec {
        section: "recovery",
        name: "max_stuck_time_minutes",
        kind: POSITIVE,
        doc: "A claim with no activity for this long is stale.",
    },
    KeySpec {
        section: "recovery",
        name: "force_reset_after_minutes",
        kind: POSITIVE,
        doc: "A stale agent is reset to idle after this long (its work archived first).",
    },
    KeySpec {
        section: "recovery",
        name: "cleanup_abandoned_branches",
        kind: ValueKind::Bool,
        doc: "Delete abandoned branches, but only those with no commits ahead of the base.",
    },
    KeySpec {
        section: "github_actions",
        name: "enabled",
        kind: ValueKind::Bool,
        doc: "Depart trains from a GitHub Actions workflow.",
    },
    KeySpec {
        section: "github_actions",
        name: "bundling_workflow",
        kind: ValueKind::Text,
        doc: "The workflow file under .github/workflows/.",
    },
    KeySpec {
        section: "github_actions",
        name: "manual_trigger_enabled",
        kind: ValueKind::Bool,
        doc: "Allow starting the workflow by hand (workflow_dispatch).",
    },
    KeySpec {
        section: "github_actions",
        name: "workflow_timeout_minutes",
        kind: WHOLE,
        doc: "How long a workflow run may take (0: GitHub's own limit).",
    },
];

/// Finds a key by its dotted name.
pub fn key_spec(dotted: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.dotted() == dotted)
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    Default,
    File,
    Env(String),
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File => f.write_str(CONFIG_FILE),
            Self::Env(var) => f.write_str(var),
        }
    }
}

/// A loaded configuration with, for every key, its value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    pub config: Config,
    pub values: BTreeMap<String, (Value, ValueSource)>,
}

/// A configuration that could not be read, set or overridden. Each says what and where.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    #[error("{path} is not valid TOML: {message} (line {line}, column {column})")]
    #[diagnostic(code(clambake::config::syntax))]
    Syntax {
        path: String,
        message: String,
        line: usize,
        column: usize,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: SourceSpan,
    },
    #[error("unknown key `{key}` ({origin})")]
    #[diagnostic(code(clambake::config::unknown_key))]
    UnknownKey {
        key: String,
        origin: String,
        #[help]
        help: String,
        #[source_code]
        src: Option<NamedSource<String>>,
        #[label("not a clambake setting")]
        span: Option<SourceSpan>,
    },
    #[error("`{key}` ({origin}) must be {expected}, not {found}")]
    #[diagnostic(code(clambake::config::invalid_value))]
    InvalidValue {
        key: String,
        origin: String,
        expected: String,
        found: String,
        #[help]
        help: Option<String>,
        #[source_code]
        src: Option<NamedSource<String>>,
        #[label("{expected}")]
        span: Option<SourceSpan>,
    },
}

/// Parses, validates and resolves `clambake.toml` plus `CLAMBAKE_*` overrides.
///
/// `path` names the file in messages; `env` is every environment variable (those without the
/// prefix are ignored). An unknown or invalid key anywhere is an error, never silently dropped.
pub fn load(
    path: &str,
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let document = parse_document(path, text)?;
    let source = || NamedSource::new(path, text.to_owned());
    let mut values = defaults();

    for (section_name, section_item) in document.as_table().iter() {
        let section_key_span = document.as_table().key(section_name).and_then(|k| k.span());
        let Some(section) = section_item.as_table_like() else {
            return Err(unknown_key(
                section_name,
                format!("{path} (a setting needs a [section])"),
                Some(source()),
                section_key_span.map(Into::into),
            ));
        };
        if !SECTIONS.iter().any(|s| s.name == section_name) {
            return Err(unknown_key(
                section_name,
                path.to_owned(),
                Some(source()),
                section_key_span.map(Into::into),
            ));
        }
        for (name, item) in section.iter() {
            let dotted = format!("{section_name}.{name}");
            let key_span = section.get_key_value(name).and_then(|(k, _)| k.span());
            let Some(spec) = key_spec(&dotted) else {
                return Err(unknown_key(
                    &dotted,
                    path.to_owned(),
                    Some(source()),
                    key_span.map(Into::into),
                ));
            };
            let origin = match item.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("{path}:{line}:{column}")
                }
                None => path.to_owned(),
            };
            let value =
                check_item(spec, item).map_err(|(expected, found)| ConfigError::InvalidValue {
                    key: dotted.clone(),
                    origin,
                    help: None,
                    expected,
                    found,
                    src: Some(source()),
                    span: item.span().or(key_span).map(Into::into),
                })?;
            values.insert(dotted, (value, ValueSource::File));
        }
    }

    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, name)) = rest.split_once("__") else {
            continue;
        };
        let dotted = format!(
            "{}.{}",
            section.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
        let origin = format!("environment variable {var}");
        let Some(spec) = key_spec(&dotted) else {
            return Err(unknown_key(&dotted, origin, None, None));
        };
        let value = parse_value(spec, &raw, &origin)?;
        values.insert(dotted, (value, ValueSource::Env(var)));
    }

    let config = assemble(&values);
    Ok(LoadedConfig { config, values })
}

/// Parses a command-line or environment string as a value for `spec`.
pub fn parse_value(spec: &KeySpec, raw: &str, origin: &str) -> Result<Value, ConfigError> {
    let invalid = |found: String| ConfigError::InvalidValue {
        key: spec.dotted(),
        origin: origin.to_owned(),
        expected: spec.kind.to_string(),
        found,
        help: Some(spec.doc.to_owned()),
        src: None,
        span: None,
    };
    let trimmed = raw.trim();
    match spec.kind {
        ValueKind::Bool => match trimmed {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid(format!("\"{raw}\""))),
        },
        ValueKind::Integer { min, max } => {
            let number: i64 = trimmed.parse().map_err(|_| invalid(format!("\"{raw}\"")))?;
            if number < min || number > max {
                return Err(invalid(number.to_string()));
            }
            Ok(Value::from(number))
        }
        ValueKind::Text => Ok(Value::String(raw.to_owned())),
        ValueKind::Choice(words) => {
            if words.contains(&trimmed) {
                Ok(Value::String(trimmed.to_owned()))
            } else {
                Err(invalid(format!("\"{raw}\"")))
            }
        }
    }
}

/// Sets `dotted` to `raw` in the file's text, keeping every comment and the order of keys.
/// Returns the new text; the value and the resulting file are validated first.
pub fn set_in_text(path: &str, text: &str, dotted: &str, raw: &str) -> Result<String, ConfigError> {
    let spec = key_spec(dotted)
        .ok_or_else(|| unknown_key(dotted, "command line".to_owned(), None, None))?;
    let value = parse_value(spec, raw, "command line")?;
    parse_document(path, text)?;
    let mut document: DocumentMut = text.parse().expect("text parsed a moment ago");
    let new_value = to_toml_value(&value);
    if !document.contains_key(spec.section) {
        // A new section goes at the end, after any trailing comments, as a person would add it.
        let mut new_text = text.to_owned();
        if !new_text.is_empty() && !new_text.ends_with('\n') {
            new_text.push('\n');
        }
        new_text.push_str(&format!(
            "\n[{}]\n{} = {new_value}\n",
            spec.section, spec.name
        ));
        load(path, &new_text, std::iter::empty())?;
        return Ok(new_text);
    }
    let Some(section) = document[spec.section].as_table_like_mut() else {
        return Err(unknown_key(
            spec.section,
            format!("{path} (not a section)"),
            None,
            None,
        ));
    };
    match section.get_mut(spec.name).and_then(Item::as_value_mut) {
        Some(existing) => {
            // Keep the comment that trails the old value on its line.
            let decor = existing.decor().clone();
            *existing = new_value;
            *existing.decor_mut() = decor;
        }
        None => {
            section.insert(spec.name, Item::Value(new_value));
        }
    }
    let new_text = document.to_string();
    load(path, &new_text, std::iter::empty())?;
    Ok(new_text)
}

/// The text `clambake init` writes: every section and key at its default, each explained.
pub fn template(overrides: &[(&str, Value)]) -> String {
    let mut values = defaults();
    for (dotted, value) in overrides {
        if let Some(entry) = values.get_mut(*dotted) {
            *entry = (value.clone(), ValueSource::File);
        }
    }
    let mut out = String::from(
        "# Clambake configuration. Every key has a default: delete any line to use it.\n\
         # Environment variables override this file, e.g. CLAMBAKE_AGENTS__MAX_CONCURRENT=8.\n\
         # Edit with `clambake config set KEY VALUE`, which keeps these comments.\n",
    );
    for section in SECTIONS {
        out.push('\n');
        for line in wrap(section.doc, 96) {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str(&format!("[{}]\n", section.name));
        for key in KEYS.iter().filter(|k| k.section == section.name) {
            let (value, _) = &values[&key.dotted()];
            for line in wrap(key.doc, 96) {
                out.push_str(&format!("# {line}\n"));
            }
            out.push_str(&format!("{} = {}\n", key.name, to_toml_value(value)));
        }
    }
    out
}

/// Suggests the closest known key for a misspelt one.
pub fn suggest_key(unknown: &str) -> Option<String> {
    let bare = unknown.rsplit('.').next().unwrap_or(unknown);
    let candidates = KEYS
        .iter()
        .map(KeySpec::dotted)
        .chain(SECTIONS.iter().map(|s| s.name.to_owned()));
    candidates
        .map(|candidate| {
            let whole = strsim::jaro_winkler(unknown, &candidate);
            let tail = candidate.rsplit('.').next().unwrap_or(&candidate);
            let by_name = strsim::jaro_winkler(bare, tail);
            (whole.max(by_name), candidate)
        })
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// An unknown-key error with a "did you mean" suggestion.
pub fn unknown_key(
    key: &str,
    origin: String,
    src: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
) -> ConfigError {
    let help = match suggest_key(key) {
        Some(suggestion) => {
            format!("did you mean `{suggestion}`? `clambake config list` shows every key")
        }
        None => "`clambake config list` shows every key".to_owned(),
    };
    ConfigError::UnknownKey {
        key: key.to_owned(),
        origin,
        help,
        src,
        span,
    }
}

fn parse_document(path: &str, text: &str) -> Result<Document<String>, ConfigError> {
    Document::parse(text.to_owned()).map_err(|error| {
        let offset = error.span().map_or(0, |s| s.start);
        let (line, column) = line_column(text, offset);
        ConfigError::Syntax {
            path: path.to_owned(),
            message: error.message().trim().to_owned(),
            line,
            column,
            src: NamedSource::new(path, text.to_owned()),
            span: error.span().map_or_else(|| (offset, 0).into(), Into::into),
        }
    })
}

/// Checks one value from the file against its key's kind: `Err((expected, found))`.
fn check_item(spec: &KeySpec, item: &Item) -> Result<Value, (String, String)> {
    let expected = spec.kind.to_string();
    let Some(value) = item.as_value() else {
        return Err((expected, "a table".to_owned()));
    };
    let found = || value.to_string().trim().to_owned();
    match (spec.kind, value) {
        (ValueKind::Bool, toml_edit::Value::Boolean(b)) => Ok(Value::Bool(*b.value())),
        (ValueKind::Integer { min, max }, toml_edit::Value::Integer(i)) => {
            let number = *i.value();
            if number < min || number > max {
                Err((expected, number.to_string()))
            } else {
                Ok(Value::from(number))
            }
        }
        (ValueKind::Text, toml_edit::Value::String(s)) => Ok(Value::String(s.value().clone())),
        (ValueKind::Choice(words), toml_edit::Value::String(s)) => {
            if words.contains(&s.value().as_str()) {
                Ok(Value::String(s.value().clone()))
            } else {
                Err((expected, found()))
            }
        }
        _ => Err((expected, found())),
    }
}

fn defaults() -> BTreeMap<String, (Value, ValueSource)> {
    let json = serde_json::to_value(Config::default()).expect("the config serializes");
    let mut values = BTreeMap::new();
    for spec in KEYS {
        let value = json[spec.section][spec.name].clone();
        values.insert(spec.dotted(), (value, ValueSource::Default));
    }
    values
}

fn assemble(values: &BTreeMap<String, (Value, ValueSource)>) -> Config {
    let mut json = serde_json::Map::new();
    for spec in KEYS {
        let section = json
            .entry(spec.section)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        section[spec.name] = values[&spec.dotted()].0.clone();
    }
    serde_json::from_value(Value::Object(json)).expect("validated values always deserialize")
}

fn to_toml_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n.as_i64().expect("config numbers are integers").into(),
        Value::String(s) => s.as_str().into(),
        other => unreachable!("config values are scalars, not {other}"),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_are_spelt_as_in_the_configuration() {
        for kind in [
            AgentRuntimeKind::Claude,
            AgentRuntimeKind::Codex,
            AgentRuntimeKind::Command,
            AgentRuntimeKind::Simulated,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    fn load_text(text: &str) -> Result<LoadedConfig, ConfigError> {
        load("clambake.toml", text, std::iter::empty())
    }

    #[test]
    fn the_key_registry_matches_the_config_struct() {
        let json = serde_json::to_value(Config::default()).unwrap();
        let mut from_struct: Vec<String> = Vec::new();
        for (section, keys) in json.as_object().unwrap() {
            for key in keys.as_object().unwrap().keys() {
                from_struct.push(format!("{section}.{key}"));
            }
        }
        let mut from_registry: Vec<String> = KEYS.iter().map(KeySpec::dotted).collect();
        from_struct.sort();
        from_registry.sort();
        assert_eq!(from_struct, from_registry);
        for key in KEYS {
            assert!(SECTIONS.iter().any(|s| s.name == key.section), "{key:?}");
        }
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let loaded = load_text("").unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(
            loaded
                .values
                .values()
                .all(|(_, s)| *s == ValueSource::Default)
        );
    }

    #[test]
    fn the_template_loads_back_to_the_defaults_with_its_overrides() {
        let text = template(&[("agents.max_concurrent", Value::from(7))]);
        let loaded = load_text(&text).unwrap();
        assert_eq!(loaded.config.agents.max_concurrent, 7);
        let mut expected = Config::default();
        expected.agents.max_concurrent = 7;
        assert_eq!(loaded.config, expected);
        assert!(text.contains("# How many agents work at once."));
    }

    #[test]
    fn file_values_are_read_and_typed() {
        let loaded = load_text(
            "[agents]\nruntime = \"simulated\"\nmax_concurrent = 12\nreal_processes = false\n\
             [bundling]\nconflict_strategy = \"skip_conflicts\"\ntrigger = \"on_land\"\n\
             [forge]\nbackend = \"github\"\n",
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.agents.runtime, AgentRuntimeKind::Simulated);
        assert_eq!(c.agents.max_concurrent, 12);
        assert!(!c.agents.real_processes);
        assert_eq!(
            c.bundling.conflict_strategy,
            ConflictStrategy::SkipConflicts
        );
        assert_eq!(c.bundling.trigger, BundleTrigger::OnLand);
        assert_eq!(c.forge.backend, ForgeBackend::Github);
        assert_eq!(loaded.values["agents.max_concurrent"].1, ValueSource::File);
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = vec![
            ("CLAMBAKE_AGENTS__MAX_CONCURRENT".to_owned(), "9".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
            ("CLAMBAKE_LOG".to_owned(), "debug".to_owned()),
        ];
        let loaded = load("clambake.toml", "[agents]\nmax_concurrent = 2\n", env).unwrap();
        assert_eq!(loaded.config.agents.max_concurrent, 9);
        assert_eq!(
            loaded.values["agents.max_concurrent"].1,
            ValueSource::Env("CLAMBAKE_AGENTS__MAX_CONCURRENT".to_owned())
        );
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let env = vec![(
            "CLAMBAKE_AGENTS__MAX_CONCURRENT".to_owned(),
            "lots".to_owned(),
        )];
        let error = load("clambake.toml", "", env).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("CLAMBAKE_AGENTS__MAX_CONCURRENT"),
            "{message}"
        );
        assert!(message.contains("\"lots\""), "{message}");
    }

    #[test]
    fn an_unknown_environment_key_is_refused_with_a_suggestion() {
        let env = vec![("CLAMBAKE_AGENTS__MAX_CONCURENT".to_owned(), "3".to_owned())];
        let ConfigError::UnknownKey { key, help, .. } = load("clambake.toml", "", env).unwrap_err()
        else {
            panic!("expected an unknown key");
        };
        assert_eq!(key, "agents.max_concurent");
        assert!(help.contains("agents.max_concurrent"), "{help}");
    }

    #[test]
    fn an_unknown_key_suggests_the_nearest() {
        let error = load_text("[agents]\nmax_concurent = 3\n").unwrap_err();
        let ConfigError::UnknownKey {
            key, help, span, ..
        } = error
        else {
            panic!("expected an unknown key, got {error:?}");
        };
        assert_eq!(key, "agents.max_concurent");
        assert!(
            help.contains("did you mean `agents.max_concurrent`"),
            "{help}"
        );
        assert_eq!(span.unwrap().offset(), "[agents]\n".len());
    }

    #[test]
    fn a_key_in_the_wrong_section_points_to_the_right_one() {
        let error = load_text("[bundling]\nmax_concurrent = 3\n").unwrap_err();
        let ConfigError::UnknownKey { help, .. } = error else {
            panic!("expected an unknown key");
        };
        assert!(help.contains("agents.max_concurrent"), "{help}");
    }

    #[test]
    fn an_unknown_section_is_refused() {
        let error = load_text("[agnets]\nmax_concurrent = 3\n").unwrap_err();
        let ConfigError::UnknownKey { key, help, .. } = error else {
            panic!("expected an unknown key");
        };
        assert_eq!(key, "agnets");
        assert!(help.contains("`agents`"), "{help}");
    }

    #[test]
    fn a_key_outside_any_section_is_refused() {
        let error = load_text("max_concurrent = 3\n").unwrap_err();
        assert!(matches!(error, ConfigError::UnknownKey { .. }), "{error:?}");
    }

    #[test]
    fn a_wrong_type_says_what_was_expected_and_where() {
        let error = load_text("[agents]\n\nmax_concurrent = \"four\"\n").unwrap_err();
        let ConfigError::InvalidValue {
            key,
            origin,
            expected,
            found,
            ..
        } = error
        else {
            panic!("expected an invalid value");
        };
        assert_eq!(key, "agents.max_concurrent");
        assert_eq!(origin, "clambake.toml:3:18");
        assert_eq!(expected, "a whole number, 1 or more");
        assert_eq!(found, "\"four\"");
    }

    #[test]
    fn zero_agents_is_refused() {
        let error = load_text("[agents]\nmax_concurrent = 0\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("must be a whole number, 1 or more, not 0"),
            "{error}"
        );
    }

    #[test]
    fn a_negative_timeout_is_refused() {
        let error = load_text("[agents]\ntimeout_minutes = -5\n").unwrap_err();
        assert!(error.to_string().contains("not -5"), "{error}");
        let error = load_text("[github_actions]\nworkflow_timeout_minutes = -1\n").unwrap_err();
        assert!(error.to_string().contains("0 or more, not -1"), "{error}");
    }

    #[test]
    fn a_word_outside_the_choices_lists_them() {
        let error = load_text("[bundling]\ntrigger = \"hourly\"\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("one of \"schedule\", \"on_land\", \"manual\", not \"hourly\""),
            "{error}"
        );
    }

    #[test]
    fn malformed_toml_reports_line_and_column() {
        let error = load_text("[agents]\nmax_concurrent = 4\ntimeout_minutes = = 3\n").unwrap_err();
        let ConfigError::Syntax { line, column, .. } = error else {
            panic!("expected a syntax error, got {error:?}");
        };
        assert_eq!((line, column), (3, 19));
    }

    #[test]
    fn set_keeps_comments_and_order() {
        let text = "# my agents\n[agents]\n# how many\nmax_concurrent = 2 # two for now\n\
                    runtime = \"claude\"\n\n# trains\n[bundling]\nenabled = true\n";
        let new = set_in_text("clambake.toml", text, "agents.max_concurrent", "6").unwrap();
        assert_eq!(
            new,
            text.replace("max_concurrent = 2", "max_concurrent = 6")
        );
    }

    #[test]
    fn set_adds_a_missing_key_and_section() {
        let new = set_in_text("clambake.toml", "# mine\n", "bundling.enabled", "false").unwrap();
        assert!(new.starts_with("# mine\n"), "{new}");
        let loaded = load_text(&new).unwrap();
        assert!(!loaded.config.bundling.enabled);
    }

    #[test]
    fn set_refuses_bad_values_and_returns_no_text() {
        let text = "[agents]\nmax_concurrent = 2\n";
        for (key, value) in [
            ("agents.max_concurrent", "0"),
            ("agents.max_concurrent", "two"),
            ("agents.timeout_minutes", "-3"),
            ("agents.real_processes", "yes"),
            ("forge.backend", "gitlab"),
        ] {
            let error = set_in_text("clambake.toml", text, key, value).unwrap_err();
            assert!(
                matches!(error, ConfigError::InvalidValue { .. }),
                "{key}={value}: {error:?}"
            );
        }
        let error = set_in_text("clambake.toml", text, "agents.max_concurent", "3").unwrap_err();
        assert!(matches!(error, ConfigError::UnknownKey { .. }));
    }

    #[test]
    fn set_refuses_to_edit_a_malformed_file() {
        let error =
            set_in_text("clambake.toml", "[agents\n", "agents.max_concurrent", "3").unwrap_err();
        assert!(matches!(error, ConfigError::Syntax { .. }));
    }

    #[test]
    fn suggestions_are_not_offered_for_nonsense() {
        assert_eq!(suggest_key("zzzzqqq"), None);
        assert_eq!(
            suggest_key("bundling.max_bundle"),
            Some("bundling.max_bundle_size".to_owned())
        );
    }
}
