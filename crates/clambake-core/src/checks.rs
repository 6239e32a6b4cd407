//! The project's checks as `[checks]` describes them: their argv and environment, checked
//! when the configuration is, and the end of their output as a comment or a prompt quotes it.

pub mod ci;

use crate::agents::command::{ModelKeys, agent_environment};
use crate::agents::failure::cut;
use crate::config::ChecksConfig;
pub use crate::config::words::{ChecksConfigError, argv, extra_env};

/// How many of the output's last lines a tail keeps.
const TAIL_LINES: usize = 40;
/// The longest line a tail quotes.
const LINE_CHARS: usize = 300;

/// The whole environment the checks run with: what an agent would inherit (`passthrough` as
/// agents.env_passthrough says, no model keys) with `checks.env` on top. Sorted by name.
pub fn environment(
    inherited: impl IntoIterator<Item = (String, String)>,
    passthrough: &str,
    config: &ChecksConfig,
) -> Result<Vec<(String, String)>, ChecksConfigError> {
    let mut env = agent_environment(inherited, passthrough, ModelKeys::Own(&[]));
    for (name, value) in extra_env(config)? {
        env.retain(|(existing, _)| *existing != name);
        env.push((name, value));
    }
    env.sort();
    Ok(env)
}

/// The last lines of the checks' output, each cut to a readable length; not redacted (the
/// caller redacts first, before a secret could be cut in two).
pub fn output_tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let skipped = lines.len().saturating_sub(TAIL_LINES);
    let mut tail: Vec<String> = lines[skipped..]
        .iter()
        .map(|line| cut(line.trim_end(), LINE_CHARS))
        .collect();
    if tail.is_empty() {
        return "(the checks printed nothing)".to_owned();
    }
    if skipped > 0 {
        tail.insert(0, format!("({skipped} earlier lines not shown)"));
    }
    tail.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(command: &str, env: &str) -> ChecksConfig {
        ChecksConfig {
            command: command.to_owned(),
            env: env.to_owned(),
            ..ChecksConfig::default()
        }
    }

    #[test]
    fn the_command_is_split_into_words_without_a_shell() {
        assert_eq!(
            argv(&config("cargo test --locked -- 'a b'", "")).unwrap(),
            ["cargo", "test", "--locked", "--", "a b"]
        );
        assert_eq!(argv(&config("", "")).unwrap(), Vec::<String>::new());
        assert!(matches!(
            argv(&config("cargo 'test", "")),
            Err(ChecksConfigError::Unsplittable { key: "command", .. })
        ));
    }

    #[test]
    fn env_words_are_assignments_and_never_forge_tokens() {
        assert_eq!(
            extra_env(&config("", "RUST_BACKTRACE=1 'MSG=a b' EMPTY=")).unwrap(),
            [
                ("RUST_BACKTRACE".to_owned(), "1".to_owned()),
                ("MSG".to_owned(), "a b".to_owned()),
                ("EMPTY".to_owned(), String::new()),
            ]
        );
        for word in ["NOEQUALS", "=1", "1A=2", "A-B=1"] {
            assert!(
                matches!(
                    extra_env(&config("", word)),
                    Err(ChecksConfigError::NotAnAssignment { .. })
                ),
                "{word}"
            );
        }
        for word in ["GH_TOKEN=x", "CLAMBAKE_FORGE__BACKEND=github"] {
            assert!(
                matches!(
                    extra_env(&config("", word)),
                    Err(ChecksConfigError::Refused { .. })
                ),
                "{word}"
            );
        }
    }

    #[test]
    fn the_environment_is_an_agents_without_model_keys_plus_checks_env() {
        let inherited = [
            ("PATH", "/bin"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("RANDOM_THING", "x"),
            ("CI", "false"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = environment(inherited, "CI", &config("", "CI=true EXTRA=1")).unwrap();
        assert_eq!(
            env,
            [("CI", "true"), ("EXTRA", "1"), ("PATH", "/bin")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn a_tail_keeps_the_last_lines_and_says_how_many_it_left_out() {
        let output: String = (1..=50).map(|n| format!("line {n}\n\n")).collect();
        let tail = output_tail(&output);
        assert!(tail.starts_with("(10 earlier lines not shown)\nline 11\n"));
        assert!(tail.ends_with("line 50"));
        assert_eq!(output_tail(" \n"), "(the checks printed nothing)");
        let long = "x".repeat(1000);
        assert!(output_tail(&long).chars().count() < 400);
    }
}
