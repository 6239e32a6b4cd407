//! What an agent process is started with: its argv (never a shell line) and its scrubbed
//! environment.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use miette::Diagnostic;
use regex::{Captures, Regex};

use crate::config::AgentsConfig;

/// Variables every agent inherits: what ordinary tools need to run and print.
/// Set in every agent process's environment (and inherited by its children), so that a
/// stray one can be told from a person's shell that happens to sit in the same directory.
pub const AGENT_MARKER: &str = "CLAMBAKE_AGENT";

pub const BASE_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TERM",
    "TMPDIR",
    "TZ",
    "NO_COLOR",
];

pub use crate::config::never_passed;

/// Claude Code's model keys: given to the `claude` runtime, and to no other unless named.
pub const ANTHROPIC_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
];
/// Codex's model keys: given to the `codex` runtime, and to no other unless named.
pub const OPENAI_KEYS: &[&str] = &["OPENAI_API_KEY", "CODEX_API_KEY"];

/// Which model keys an agent receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKeys {
    /// A runtime with keys of its own (`claude`, `codex`): these, and no other runtime's,
    /// whatever the pass-through names.
    Own(&'static [&'static str]),
    /// Any other agent: only the keys the pass-through names.
    Named,
}

#[derive(Debug, thiserror::Error, Diagnostic, PartialEq, Eq)]
pub enum AgentCommandError {
    #[error("agents.{key} is not a valid argument list: {value}")]
    #[diagnostic(help(
        "close every quote; arguments are split like a shell would, but no shell runs"
    ))]
    Unsplittable { key: &'static str, value: String },
    #[error("agents.command is empty")]
    #[diagnostic(help(
        "set it, e.g. `clambake config set agents.command \"my-agent --issue {{issue}} --prompt {{prompt_file}}\"`"
    ))]
    EmptyCommand,
    #[error("agents.command uses the unknown placeholder {{{name}}}")]
    #[diagnostic(help(
        "the placeholders are {{issue}}, {{branch}}, {{prompt_file}} and {{worktree}}"
    ))]
    UnknownPlaceholder { name: String },
}

/// The values an argv template can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateValues {
    pub issue: u64,
    pub branch: String,
    pub prompt_file: String,
    pub worktree: String,
}

static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([A-Za-z_]+)\}").expect("the placeholder pattern compiles"));

/// The `command` runtime's argv: the template split into words, then placeholders filled in
/// within each word, so a value with spaces or quotes stays one argument.
pub fn expand_command(
    template: &str,
    values: &TemplateValues,
) -> Result<Vec<String>, AgentCommandError> {
    let words = split("command", template)?;
    if words.is_empty() {
        return Err(AgentCommandError::EmptyCommand);
    }
    let mut unknown = None;
    let argv = words
        .iter()
        .map(|word| {
            PLACEHOLDER
                .replace_all(word, |c: &Captures<'_>| match &c[1] {
                    "issue" => values.issue.to_string(),
                    "branch" => values.branch.clone(),
                    "prompt_file" => values.prompt_file.clone(),
                    "worktree" => values.worktree.clone(),
                    other => {
                        unknown.get_or_insert_with(|| other.to_owned());
                        String::new()
                    }
                })
                .into_owned()
        })
        .collect();
    match unknown {
        Some(name) => Err(AgentCommandError::UnknownPlaceholder { name }),
        None => Ok(argv),
    }
}

/// The program `agents.command` starts: the template's first word.
pub fn expand_command_program(template: &str) -> Result<String, AgentCommandError> {
    split("command", template)?
        .into_iter()
        .next()
        .ok_or(AgentCommandError::EmptyCommand)
}

/// Claude Code's argv: `-p --output-format stream-json --verbose` (stream-json needs
/// `--verbose`; with no prompt argument `-p` reads the prompt from standard input, which has
/// no length limit) and the configured options, plus `--resume <session>` to continue an
/// earlier session. The executable comes first.
pub fn claude_argv(
    config: &AgentsConfig,
    resume_session: Option<&str>,
    max_budget_usd: Option<f64>,
) -> Result<Vec<String>, AgentCommandError> {
    let mut argv: Vec<String> = [
        config.claude_code_path.as_str(),
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
    ]
    .map(str::to_owned)
    .into();
    let mut option = |flag: &str, value: &str| {
        if !value.is_empty() {
            argv.extend([flag.to_owned(), value.to_owned()]);
        }
    };
    if let Some(session) = resume_session {
        option("--resume", session);
    }
    option("--permission-mode", &config.claude_permission_mode);
    if config.claude_max_turns > 0 {
        option("--max-turns", &config.claude_max_turns.to_string());
    }
    if let Some(usd) = max_budget_usd {
        // Claude Code stops itself there, with an `error_max_budget_usd` result.
        option("--max-budget-usd", &format!("{usd:.4}"));
    }
    option("--model", &config.claude_model);
    option(
        "--append-system-prompt",
        &config.claude_append_system_prompt,
    );
    argv.extend(split("claude_extra_args", &config.claude_extra_args)?);
    Ok(argv)
}

/// Codex's argv: `exec --json` (JSONL events on stdout) in `worktree`, with the configured
/// sandbox and never asking for approval, since nobody is there to answer. The prompt is `-`:
/// Codex reads it from standard input, so it has no length limit. With `resume_session`,
/// `exec resume <session> -` continues that session (its thread id) instead.
pub fn codex_argv(
    config: &AgentsConfig,
    worktree: &str,
    resume_session: Option<&str>,
) -> Result<Vec<String>, AgentCommandError> {
    let mut argv: Vec<String> = [
        config.codex_path.as_str(),
        "exec",
        "--json",
        "--cd",
        worktree,
        "--sandbox",
        config.codex_sandbox.as_str(),
        "--config",
        "approval_policy=\"never\"",
    ]
    .map(str::to_owned)
    .into();
    if !config.codex_model.is_empty() {
        argv.extend(["--model".to_owned(), config.codex_model.clone()]);
    }
    argv.extend(split("codex_extra_args", &config.codex_extra_args)?);
    match resume_session {
        // `--` would make `resume` the prompt; a thread id never starts with `-`.
        Some(session) => argv.extend(["resume", session, "-"].map(str::to_owned)),
        None => argv.extend(["--", "-"].map(str::to_owned)),
    }
    Ok(argv)
}

fn split(key: &'static str, value: &str) -> Result<Vec<String>, AgentCommandError> {
    shlex::split(value).ok_or_else(|| AgentCommandError::Unsplittable {
        key,
        value: value.to_owned(),
    })
}

/// The environment an agent starts with: the base allowlist plus the configured pass-through
/// (`NAME` or `PREFIX_*`) plus its runtime's own model `keys`, minus forge tokens,
/// `CLAMBAKE_*` and other runtimes' model keys. Sorted by name.
pub fn agent_environment(
    inherited: impl IntoIterator<Item = (String, String)>,
    passthrough: &str,
    keys: ModelKeys,
) -> Vec<(String, String)> {
    let patterns: Vec<&str> = passthrough.split_whitespace().collect();
    let own = |name: &str| matches!(keys, ModelKeys::Own(own) if own.contains(&name));
    let wanted = |name: &str| {
        BASE_ALLOWLIST.contains(&name)
            || own(name)
            || patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *p == name,
            })
    };
    let foreign = |name: &str| {
        matches!(keys, ModelKeys::Own(_))
            && !own(name)
            && (ANTHROPIC_KEYS.contains(&name) || OPENAI_KEYS.contains(&name))
    };
    let refused = |name: &str| never_passed(name) || foreign(name);
    inherited
        .into_iter()
        .filter(|(name, _)| wanted(name) && !refused(name))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues {
        TemplateValues {
            issue: 7,
            branch: "agent001/7-fix".to_owned(),
            prompt_file: "/tmp/p q/prompt.md".to_owned(),
            worktree: "/w/agent001-7".to_owned(),
        }
    }

    #[test]
    fn templates_fill_placeholders_inside_words() {
        let argv = expand_command(
            "my-agent --issue={issue} -b '{branch}' --prompt {prompt_file} -C {worktree}",
            &values(),
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "my-agent",
                "--issue=7",
                "-b",
                "agent001/7-fix",
                "--prompt",
                "/tmp/p q/prompt.md",
                "-C",
                "/w/agent001-7"
            ]
        );
    }

    #[test]
    fn shell_metacharacters_stay_literal() {
        let argv = expand_command("echo $(rm -rf /) ; `x` | y", &values()).unwrap();
        assert_eq!(argv, ["echo", "$(rm", "-rf", "/)", ";", "`x`", "|", "y"]);
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            expand_command("  ", &values()),
            Err(AgentCommandError::EmptyCommand)
        );
        assert_eq!(
            expand_command("x {issu}", &values()),
            Err(AgentCommandError::UnknownPlaceholder {
                name: "issu".to_owned()
            })
        );
        assert!(matches!(
            expand_command("x 'open", &values()),
            Err(AgentCommandError::Unsplittable { key: "command", .. })
        ));
    }

    #[test]
    fn the_claude_argv_has_stream_json_and_the_configured_options() {
        let config = AgentsConfig {
            claude_model: "sonnet".to_owned(),
            claude_append_system_prompt: "Be brief.".to_owned(),
            claude_extra_args: "--add-dir '/a b'".to_owned(),
            ..AgentsConfig::default()
        };
        let argv = claude_argv(&config, None, None).unwrap();
        assert_eq!(
            argv,
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                "--max-turns",
                "50",
                "--model",
                "sonnet",
                "--append-system-prompt",
                "Be brief.",
                "--add-dir",
                "/a b"
            ]
        );
    }

    #[test]
    fn empty_claude_options_are_left_out() {
        let config = AgentsConfig {
            claude_permission_mode: String::new(),
            claude_max_turns: 0,
            ..AgentsConfig::default()
        };
        let argv = claude_argv(&config, None, None).unwrap();
        assert_eq!(
            argv,
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose"
            ]
        );
    }

    #[test]
    fn an_attempt_budget_is_claude_codes_max_budget() {
        let argv = claude_argv(&AgentsConfig::default(), None, Some(1.5)).unwrap();
        let at = argv.iter().position(|a| a == "--max-budget-usd").unwrap();
        assert_eq!(argv[at + 1], "1.5000");
    }

    #[test]
    fn a_resumed_claude_session_is_named_before_the_options() {
        let argv = claude_argv(&AgentsConfig::default(), Some("s-1"), None).unwrap();
        assert_eq!(
            argv[5..9],
            ["--resume", "s-1", "--permission-mode", "acceptEdits"]
        );
    }

    #[test]
    fn the_codex_argv_runs_exec_json_unattended_in_the_worktree() {
        let config = AgentsConfig {
            codex_model: "gpt-5".to_owned(),
            codex_extra_args: "--add-dir '/a b' --ephemeral".to_owned(),
            ..AgentsConfig::default()
        };
        let argv = codex_argv(&config, "/w/agent001-7", None).unwrap();
        assert_eq!(
            argv,
            [
                "codex",
                "exec",
                "--json",
                "--cd",
                "/w/agent001-7",
                "--sandbox",
                "workspace-write",
                "--config",
                "approval_policy=\"never\"",
                "--model",
                "gpt-5",
                "--add-dir",
                "/a b",
                "--ephemeral",
                "--",
                "-"
            ]
        );
    }

    #[test]
    fn the_codex_argv_leaves_out_an_empty_model_and_refuses_bad_extra_args() {
        let argv = codex_argv(&AgentsConfig::default(), "/w", None).unwrap();
        assert!(!argv.contains(&"--model".to_owned()));
        assert_eq!(argv[argv.len() - 2..], ["--", "-"]);
        let config = AgentsConfig {
            codex_extra_args: "--add-dir 'open".to_owned(),
            ..AgentsConfig::default()
        };
        assert!(matches!(
            codex_argv(&config, "/w", None),
            Err(AgentCommandError::Unsplittable {
                key: "codex_extra_args",
                ..
            })
        ));
    }

    #[test]
    fn a_resumed_codex_session_is_continued_with_exec_resume() {
        let argv = codex_argv(&AgentsConfig::default(), "/w", Some("01a1-thread")).unwrap();
        assert_eq!(argv[1..3], ["exec", "--json"]);
        assert_eq!(argv[argv.len() - 3..], ["resume", "01a1-thread", "-"]);
        assert!(!argv.contains(&"--".to_owned()));
    }

    #[test]
    fn the_environment_is_scrubbed_to_the_allowlist_and_pass_through() {
        let inherited = [
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("GH_TOKEN", "t"),
            ("GITHUB_TOKEN", "t"),
            ("CLAMBAKE_AGENTS__RUNTIME", "x"),
            ("ANTHROPIC_API_KEY", "k"),
            ("MY_TOOL_HOME", "/opt"),
            ("MY_TOOL_LEVEL", "3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = agent_environment(
            inherited,
            "ANTHROPIC_API_KEY MY_TOOL_* GH_TOKEN CLAMBAKE_*",
            ModelKeys::Named,
        );
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "ANTHROPIC_API_KEY",
                "HOME",
                "MY_TOOL_HOME",
                "MY_TOOL_LEVEL",
                "PATH"
            ]
        );
    }

    #[test]
    fn each_runtime_gets_its_own_model_keys_and_no_other() {
        let inherited = || {
            [
                ("PATH", "/bin"),
                ("ANTHROPIC_API_KEY", "a"),
                ("ANTHROPIC_AUTH_TOKEN", "b"),
                ("OPENAI_API_KEY", "o"),
                ("CODEX_API_KEY", "c"),
                ("GH_TOKEN", "t"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let names = |passthrough: &str, keys: ModelKeys| {
            agent_environment(inherited(), passthrough, keys)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        let everything = "ANTHROPIC_API_KEY OPENAI_API_KEY CODEX_API_KEY GH_TOKEN";
        assert_eq!(
            names(everything, ModelKeys::Own(ANTHROPIC_KEYS)),
            ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "PATH"]
        );
        assert_eq!(
            names("", ModelKeys::Own(OPENAI_KEYS)),
            ["CODEX_API_KEY", "OPENAI_API_KEY", "PATH"]
        );
        assert_eq!(names("", ModelKeys::Named), ["PATH"]);
        assert_eq!(
            names("OPENAI_API_KEY", ModelKeys::Named),
            ["OPENAI_API_KEY", "PATH"]
        );
    }
}
