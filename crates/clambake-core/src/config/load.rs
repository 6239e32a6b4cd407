//! Reading `clambake.toml` and the `CLAMBAKE_*` overrides into a [`Config`], refusing with
//! the key, the place and what would be accepted: a misspelt key (with a suggestion), a value
//! of the wrong kind, or keys that need others (the GitHub backend its repository, GitHub
//! Actions the GitHub backend).

use std::collections::BTreeMap;
use std::fmt;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Serialize;
use serde_json::Value;
use toml_edit::{Document, Item};

use super::minutes::Minutes;
use super::schema::{KeySpec, ValueKind};
use super::sections::{
    AgentExecutor, BundleChecks, BundlingExecutor, Config, ForgeBackend, KEYS, SECTIONS,
};
use super::usd::Usd;
use super::{CONFIG_FILE, ENV_PREFIX};

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
    #[error(
        "{} need forge.backend = \"github\", not \"{backend}\" ({backend_origin}): GitHub Actions \
         runs on GitHub",
        keys.iter().map(|(key, origin)| format!("`{key}` ({origin})")).collect::<Vec<_>>().join(", ")
    )]
    #[diagnostic(
        code(clambake::config::needs_github),
        help(
            "`clambake init --backend github`, or set them back to run everything on this \
             machine (`github_actions.enabled = false`, the executors \"local\", \
             `agents.actions_slots = 0`)"
        )
    )]
    NeedsGithub {
        /// Each key that asks for GitHub Actions, with where it was set.
        keys: Vec<(String, String)>,
        backend: String,
        backend_origin: String,
    },
    #[error("checks.bundles = \"{bundles}\" ({origin}) needs {needs}")]
    #[diagnostic(code(clambake::config::bundle_checks))]
    BundleChecksNeed {
        bundles: String,
        origin: String,
        needs: String,
        #[help]
        help: String,
    },
    #[error("`{key}` must be set when {because}")]
    #[diagnostic(
        code(clambake::config::required),
        help(
            "`clambake config set {key} VALUE`, or `clambake init --backend github` in a clone of the repository"
        )
    )]
    Required { key: String, because: String },
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
            let span = item.span().or(key_span).map(Into::into);
            let value =
                check_item(spec, item).map_err(|(expected, found)| ConfigError::InvalidValue {
                    key: dotted.clone(),
                    origin: origin.clone(),
                    help: None,
                    expected,
                    found,
                    src: Some(source()),
                    span,
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
    require_together(&config, &values)?;
    require_valid_checks(&config, &values)?;
    require_bundle_checks(&config, &values)?;
    require_webhook_url(&config, &values)?;
    Ok(LoadedConfig { config, values })
}

/// Refuses a configuration that asks for something without a key it cannot work without: GitHub
/// Actions without the GitHub backend, the GitHub backend without its repository.
fn require_together(
    config: &Config,
    values: &BTreeMap<String, (Value, ValueSource)>,
) -> Result<(), ConfigError> {
    if config.forge.backend != ForgeBackend::Github {
        let asking = [
            ("github_actions.enabled", config.github_actions.enabled),
            (
                "bundling.executor",
                config.bundling.executor == BundlingExecutor::Actions,
            ),
            (
                "agents.executor",
                config.agents.executor == AgentExecutor::Actions,
            ),
            ("agents.actions_slots", config.agents.actions_slots > 0),
        ];
        let keys: Vec<(String, String)> = asking
            .into_iter()
            .filter(|(_, asks)| *asks)
            .map(|(key, _)| (key.to_owned(), values[key].1.to_string()))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        return Err(ConfigError::NeedsGithub {
            keys,
            backend: config.forge.backend.to_string(),
            backend_origin: values["forge.backend"].1.to_string(),
        });
    }
    for (key, value) in [
        ("github.owner", &config.github.owner),
        ("github.repo", &config.github.repo),
    ] {
        if value.trim().is_empty() {
            return Err(ConfigError::Required {
                key: key.to_owned(),
                because: "forge.backend = \"github\"".to_owned(),
            });
        }
    }
    Ok(())
}

/// Refuses a `checks.command` or `checks.env` that cannot be split into words, or an env word
/// that is not an assignment the checks may be given.
fn require_valid_checks(
    config: &Config,
    values: &BTreeMap<String, (Value, ValueSource)>,
) -> Result<(), ConfigError> {
    let invalid = |key: &str, found: &str, error: super::words::ChecksConfigError| {
        ConfigError::InvalidValue {
            key: key.to_owned(),
            origin: values[key].1.to_string(),
            expected: "words split like a shell would (NAME=VALUE for checks.env)".to_owned(),
            found: format!("{found:?}"),
            help: Some(error.to_string()),
            src: None,
            span: None,
        }
    };
    super::words::argv(&config.checks)
        .map_err(|error| invalid("checks.command", &config.checks.command, error))?;
    super::words::extra_env(&config.checks)
        .map_err(|error| invalid("checks.env", &config.checks.env, error))?;
    Ok(())
}

/// Refuses bundle checks that cannot run: "forge" needs the GitHub backend (its CI), "command"
/// a checks.command.
fn require_bundle_checks(
    config: &Config,
    values: &BTreeMap<String, (Value, ValueSource)>,
) -> Result<(), ConfigError> {
    let bundles = config.checks.bundles;
    let need = |needs: String, help: &str| ConfigError::BundleChecksNeed {
        bundles: bundles.to_string(),
        origin: values["checks.bundles"].1.to_string(),
        needs,
        help: help.to_owned(),
    };
    match bundles {
        BundleChecks::Forge if config.forge.backend != ForgeBackend::Github => Err(need(
            format!(
                "forge.backend = \"github\", not \"{}\" ({}): the forge's CI is GitHub's",
                config.forge.backend, values["forge.backend"].1
            ),
            "`clambake config set checks.bundles command` runs checks.command on each bundle \
             here instead",
        )),
        BundleChecks::Command if config.checks.command.trim().is_empty() => Err(need(
            "checks.command, which is empty".to_owned(),
            "`clambake config set checks.command \"cargo test --locked\"` (your checks), or \
             checks.bundles = \"auto\"",
        )),
        _ => Ok(()),
    }
}

/// Refuses a `notify.webhook_url` that is not an http(s) URL, without quoting it: it may hold
/// a credential.
fn require_webhook_url(
    config: &Config,
    values: &BTreeMap<String, (Value, ValueSource)>,
) -> Result<(), ConfigError> {
    const KEY: &str = "notify.webhook_url";
    let raw = &config.notify.webhook_url;
    super::webhook::WebhookUrl::parse(raw).map_err(|error| ConfigError::InvalidValue {
        key: KEY.to_owned(),
        origin: values[KEY].1.to_string(),
        expected: "an http:// or https:// URL, or empty for no notifications".to_owned(),
        found: format!("a value that is not one: {error}"),
        help: Some("`clambake config set notify.webhook_url https://HOST/PATH`".to_owned()),
        src: None,
        span: None,
    })?;
    Ok(())
}

/// A key's value as Clambake shows it (`config get|list|set`, `--json`): one that may hold a
/// credential redacted.
pub fn shown_value(dotted: &str, value: &Value) -> Value {
    match (dotted, value) {
        ("notify.webhook_url", Value::String(raw)) => Value::String(super::webhook::shown(raw)),
        _ => value.clone(),
    }
}

/// Parses a command-line or environment string as a value for `spec`.
pub fn parse_value(spec: &KeySpec, raw: &str, origin: &str) -> Result<Value, ConfigError> {
    let invalid = |found: String| ConfigError::InvalidValue {
        key: spec.dotted(),
        origin: origin.to_owned(),
        expected: spec.kind.to_string(),
        found,
        help: Some(spec.describe()),
        src: None,
        span: None,
    };
    let trimmed = raw.trim();
    let value = match spec.kind {
        ValueKind::Bool => match trimmed {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid(format!("\"{raw}\""))),
        },
        ValueKind::Integer { min, max } => {
            let number: i64 = trimmed.parse().map_err(|_| invalid(format!("\"{raw}\"")))?;
            if number < min || number > max {
                return Err(invalid(number.to_string()));
            }
            Value::from(number)
        }
        ValueKind::Text => Value::String(raw.to_owned()),
        ValueKind::Minutes => {
            let number: f64 = trimmed.parse().map_err(|_| invalid(format!("\"{raw}\"")))?;
            Minutes::new(number)
                .ok_or_else(|| invalid(number.to_string()))?
                .to_json()
        }
        ValueKind::Usd => {
            let number: f64 = trimmed.parse().map_err(|_| invalid(format!("\"{raw}\"")))?;
            Usd::new(number)
                .ok_or_else(|| invalid(number.to_string()))?
                .to_json()
        }
        ValueKind::Choice(words) => {
            if !words.contains(&trimmed) {
                return Err(invalid(format!("\"{raw}\"")));
            }
            Value::String(trimmed.to_owned())
        }
    };
    Ok(value)
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

pub(super) fn parse_document(path: &str, text: &str) -> Result<Document<String>, ConfigError> {
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
    let minutes = |number: f64| {
        Minutes::new(number)
            .map(Minutes::to_json)
            .ok_or_else(|| (expected.clone(), found()))
    };
    let dollars = |number: f64| {
        Usd::new(number)
            .map(Usd::to_json)
            .ok_or_else(|| (expected.clone(), found()))
    };
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
        (ValueKind::Minutes, toml_edit::Value::Integer(i)) => minutes(*i.value() as f64),
        (ValueKind::Minutes, toml_edit::Value::Float(f)) => minutes(*f.value()),
        (ValueKind::Usd, toml_edit::Value::Integer(i)) => dollars(*i.value() as f64),
        (ValueKind::Usd, toml_edit::Value::Float(f)) => dollars(*f.value()),
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

/// Every key at its default.
pub(super) fn defaults() -> BTreeMap<String, (Value, ValueSource)> {
    let json = serde_json::to_value(Config::default()).expect("the config serializes");
    KEYS.iter()
        .map(|spec| {
            let value = json[spec.section][spec.name].clone();
            (spec.dotted(), (value, ValueSource::Default))
        })
        .collect()
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

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;

    fn load_text(text: &str) -> Result<LoadedConfig, ConfigError> {
        load("clambake.toml", text, std::iter::empty())
    }

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
    fn file_values_are_read_and_typed() {
        let loaded = load_text(
            "[agents]\nruntime = \"simulated\"\nmax_concurrent = 12\nreal_processes = false\n\
             [bundling]\nconflict_strategy = \"skip_conflicts\"\ntrigger = \"on_land\"\n\
             [forge]\nbackend = \"local\"\n",
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
        assert_eq!(c.forge.backend, ForgeBackend::Local);
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
        assert!(error.to_string().contains("1 or more, not -1"), "{error}");
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
    fn suggestions_are_not_offered_for_nonsense() {
        assert_eq!(suggest_key("zzzzqqq"), None);
        assert_eq!(
            suggest_key("bundling.max_bundle"),
            Some("bundling.max_bundle_size".to_owned())
        );
    }

    #[test]
    fn the_github_backend_is_read_with_its_repository() {
        let loaded = load_text(
            "[forge]\nbackend = \"github\"\n[github]\nowner = \"octo\"\nrepo = \"cat\"\n\
             api_url = \"https://ghe.example/api/v3\"\n",
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.forge.backend, ForgeBackend::Github);
        assert_eq!(
            (c.github.owner.as_str(), c.github.repo.as_str()),
            ("octo", "cat")
        );
        assert_eq!(c.github.api_url, "https://ghe.example/api/v3");
        assert_eq!(Config::default().github.api_url, "https://api.github.com");
    }

    #[test]
    fn the_github_backend_without_its_repository_names_the_missing_key() {
        let error =
            load_text("[forge]\nbackend = \"github\"\n[github]\nrepo = \"cat\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`github.owner` must be set when forge.backend = \"github\""
        );
        let error =
            load_text("[forge]\nbackend = \"github\"\n[github]\nowner = \"octo\"\n").unwrap_err();
        assert!(
            matches!(&error, ConfigError::Required { key, .. } if key == "github.repo"),
            "{error:?}"
        );
        let env = vec![("CLAMBAKE_GITHUB__REPO".to_owned(), "cat".to_owned())];
        let text = "[forge]\nbackend = \"github\"\n[github]\nowner = \"octo\"\n";
        assert!(load("clambake.toml", text, env).is_ok());
    }

    #[test]
    fn github_actions_without_the_github_backend_names_every_key_asking_and_where() {
        let text = "[github_actions]\nenabled = true\n[agents]\nactions_slots = 2\n";
        let env = vec![(
            "CLAMBAKE_BUNDLING__EXECUTOR".to_owned(),
            "actions".to_owned(),
        )];
        let error = load("clambake.toml", text, env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`github_actions.enabled` (clambake.toml), `bundling.executor` \
             (CLAMBAKE_BUNDLING__EXECUTOR), `agents.actions_slots` (clambake.toml) need \
             forge.backend = \"github\", not \"local\" (default): GitHub Actions runs on GitHub"
        );
        let error = load_text("[agents]\nexecutor = \"actions\"\n").unwrap_err();
        assert!(
            matches!(&error, ConfigError::NeedsGithub { keys, .. } if keys[0].0 == "agents.executor"),
            "{error:?}"
        );
        let github = "[forge]\nbackend = \"github\"\n[github]\nowner = \"o\"\nrepo = \"r\"\n";
        let loaded = load_text(&format!("{github}{text}")).unwrap();
        assert!(loaded.config.github_actions.enabled);
    }

    #[test]
    fn the_old_name_of_the_api_url_points_to_the_new_one() {
        let error = load_text("[github]\napi_base_url = \"https://x\"\n").unwrap_err();
        let ConfigError::UnknownKey { help, .. } = error else {
            panic!("expected an unknown key");
        };
        assert!(help.contains("github.api_url"), "{help}");
    }

    #[test]
    fn a_length_in_minutes_may_be_a_fraction_but_never_under_a_second_or_nan() {
        let key = "recovery.max_stuck_time_minutes";
        let quarter = load_text("[recovery]\nmax_stuck_time_minutes = 0.25\n").unwrap();
        let limit = quarter.config.recovery.max_stuck_time_minutes;
        assert_eq!(limit.duration(), jiff::SignedDuration::from_secs(15));
        assert_eq!(quarter.values[key].0, serde_json::json!(0.25));
        let whole = load_text("[recovery]\nmax_stuck_time_minutes = 2\n").unwrap();
        let limit = whole.config.recovery.max_stuck_time_minutes;
        assert_eq!(limit.duration(), jiff::SignedDuration::from_mins(2));
        for refused in ["0", "-1", "-0.5", "nan", "inf", "\"soon\"", "1e-9"] {
            let text = format!("[recovery]\nmax_stuck_time_minutes = {refused}\n");
            let error = load_text(&text).unwrap_err().to_string();
            assert!(
                error.contains("must be a number of minutes, 1 second (0.0167) or more"),
                "{refused}: {error}"
            );
        }
        let spec = key_spec(key).unwrap();
        assert_eq!(
            parse_value(spec, "0.5", "test").unwrap(),
            serde_json::json!(0.5)
        );
        for refused in ["0", "-3", "NaN", "0.0", "a minute", "0.000001"] {
            let error = parse_value(spec, refused, "test").unwrap_err().to_string();
            assert!(
                error.contains("1 second (0.0167) or more"),
                "{refused}: {error}"
            );
        }
        let env = [(
            "CLAMBAKE_RECOVERY__MAX_STUCK_TIME_MINUTES".to_owned(),
            "0.1".to_owned(),
        )];
        let overridden = load("clambake.toml", "", env).unwrap();
        let limit = overridden.config.recovery.max_stuck_time_minutes;
        assert_eq!(limit.duration(), jiff::SignedDuration::from_secs(6));
    }

    #[test]
    fn a_webhook_url_must_be_http_and_is_never_quoted_nor_shown() {
        let secret = "https://hooks.example/services/T1/B2/s3cr3tT0k3n";
        let loaded = load_text(&format!("[notify]\nwebhook_url = \"{secret}\"\n")).unwrap();
        assert_eq!(loaded.config.notify.webhook_url, secret);
        assert_eq!(
            shown_value("notify.webhook_url", &loaded.values["notify.webhook_url"].0),
            Value::from("https://hooks.example/[redacted]")
        );
        assert_eq!(
            shown_value("serve.address", &Value::from("127.0.0.1:1")),
            Value::from("127.0.0.1:1")
        );
        for bad in [
            "ftp://hooks.example/s3cr3tT0k3n",
            "hooks.example/s3cr3tT0k3n",
        ] {
            let error = load_text(&format!("[notify]\nwebhook_url = \"{bad}\"\n")).unwrap_err();
            let said = format!("{:?}", miette::Report::new(error));
            assert!(said.contains("notify.webhook_url"), "{said}");
            assert!(said.contains("clambake.toml"), "{said}");
            assert!(!said.contains("s3cr3t"), "{said}");
        }
        let env = [(
            "CLAMBAKE_NOTIFY__WEBHOOK_URL".to_owned(),
            "gopher://x/s3cr3tT0k3n".to_owned(),
        )];
        let error = load("clambake.toml", "", env).unwrap_err().to_string();
        assert!(error.contains("CLAMBAKE_NOTIFY__WEBHOOK_URL"), "{error}");
        assert!(error.contains("gopher"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn every_default_is_a_value_its_key_accepts() {
        let defaults = defaults();
        for spec in KEYS {
            let default = defaults[&spec.dotted()].0.clone();
            let raw = match &default {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let parsed = parse_value(spec, &raw, "test");
            assert_eq!(parsed.ok(), Some(default), "{}", spec.dotted());
        }
    }

    #[test]
    fn bundle_checks_that_cannot_run_are_refused_saying_what_they_need() {
        let error = load_text("[checks]\nbundles = \"forge\"\ncommand = \"make\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "checks.bundles = \"forge\" (clambake.toml) needs forge.backend = \"github\", \
             not \"local\" (default): the forge's CI is GitHub's"
        );
        let env = vec![("CLAMBAKE_CHECKS__BUNDLES".to_owned(), "command".to_owned())];
        let error = load("clambake.toml", "", env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "checks.bundles = \"command\" (CLAMBAKE_CHECKS__BUNDLES) needs checks.command, \
             which is empty"
        );
        let github = "[forge]\nbackend = \"github\"\n[github]\nowner = \"o\"\nrepo = \"r\"\n";
        assert!(load_text(&format!("{github}[checks]\nbundles = \"forge\"\n")).is_ok());
        assert!(load_text("[checks]\nbundles = \"command\"\ncommand = \"make\"\n").is_ok());
        assert!(load_text("[checks]\nbundles = \"auto\"\n").is_ok());
        assert!(load_text("[checks]\nbundles = \"off\"\n").is_ok());
    }

    #[test]
    fn checks_that_cannot_be_split_or_set_refused_variables_are_refused() {
        for (text, key) in [
            ("[checks]\ncommand = \"cargo 'test\"\n", "checks.command"),
            ("[checks]\nenv = \"GH_TOKEN=x\"\n", "checks.env"),
            ("[checks]\nenv = \"NOEQUALS\"\n", "checks.env"),
        ] {
            let error = load("clambake.toml", text, []).unwrap_err();
            assert!(
                matches!(&error, ConfigError::InvalidValue { key: k, .. } if k == key),
                "{text}: {error:?}"
            );
        }
        let fine = "[checks]\ncommand = \"cargo test --locked\"\nenv = \"CI=true\"\n";
        assert!(load("clambake.toml", fine, []).is_ok());
    }

    #[test]
    fn every_key_and_section_is_documented() {
        for spec in KEYS {
            assert!(spec.describe().ends_with('.'), "{spec:?}");
        }
        for section in SECTIONS {
            assert!(!section.doc.trim().is_empty(), "{section:?}");
        }
    }
}
