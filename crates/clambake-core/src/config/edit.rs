//! Writing `clambake.toml`: `config set` (keeping the file's comments and order) and the
//! commented template `init` writes.

use serde_json::Value;
use toml_edit::{DocumentMut, Item};

use super::load::{
    ConfigError, ValueSource, defaults, key_spec, load, parse_document, parse_value, unknown_key,
};
use super::sections::SECTIONS;

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
        return checked(path, new_text, dotted);
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
    checked(path, new_text, dotted)
}

/// `new_text` once it loads, or despite a required key not set yet, or a key that needs another
/// (`github_actions.enabled` the GitHub backend), other than `dotted`: refusing every edit would
/// leave no way to mend such a file (or to write one) key by key. The value set has been checked
/// on its own already.
fn checked(path: &str, new_text: String, dotted: &str) -> Result<String, ConfigError> {
    match load(path, &new_text, std::iter::empty()) {
        Err(ConfigError::Required { key, .. }) if key != dotted => Ok(new_text),
        Err(ConfigError::NeedsGithub { keys, .. })
            if dotted != "forge.backend" && !keys.iter().any(|(key, _)| key == dotted) =>
        {
            Ok(new_text)
        }
        Err(error) => Err(error),
        Ok(_) => Ok(new_text),
    }
}

/// The text `clambake init` writes: every key at its default (or `overrides`), each explained.
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
        for key in section.keys() {
            let (value, _) = &values[&key.dotted()];
            for line in wrap(&key.describe(), 96) {
                out.push_str(&format!("# {line}\n"));
            }
            out.push_str(&format!("{} = {}\n", key.name, to_toml_value(value)));
        }
    }
    out
}

fn to_toml_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(whole) => whole.into(),
            None => n.as_f64().expect("config numbers are finite").into(),
        },
        Value::String(s) => s.as_str().into(),
        other => unreachable!("config values are scalars, not {other}"),
    }
}

/// `text`'s words in lines of at most `width` characters (a longer word has its own line).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
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
    use crate::config::*;

    fn load_text(text: &str) -> Result<LoadedConfig, ConfigError> {
        load("clambake.toml", text, std::iter::empty())
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
    fn set_writes_a_fraction_of_a_minute_as_a_number() {
        let key = "recovery.max_stuck_time_minutes";
        let new = set_in_text("clambake.toml", "", key, "0.25").unwrap();
        assert!(new.contains("max_stuck_time_minutes = 0.25\n"), "{new}");
        let limit = load_text(&new)
            .unwrap()
            .config
            .recovery
            .max_stuck_time_minutes;
        assert_eq!(limit.duration(), jiff::SignedDuration::from_secs(15));
        let whole = set_in_text("clambake.toml", &new, key, "5").unwrap();
        assert!(whole.contains("max_stuck_time_minutes = 5\n"), "{whole}");
        assert!(template(&[]).contains("max_stuck_time_minutes = 90\n"));
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
    fn the_github_backend_is_configured_one_key_at_a_time() {
        let once = set_in_text("clambake.toml", "", "forge.backend", "github").unwrap();
        let twice = set_in_text("clambake.toml", &once, "github.owner", "octo").unwrap();
        assert!(load("clambake.toml", &twice, std::iter::empty()).is_err());
        let done = set_in_text("clambake.toml", &twice, "github.repo", "cat").unwrap();
        let loaded = load("clambake.toml", &done, std::iter::empty()).unwrap();
        assert_eq!(loaded.config.github.repo, "cat");
        // Emptying a required key is refused.
        let error = set_in_text("clambake.toml", &done, "github.repo", "").unwrap_err();
        assert!(matches!(error, ConfigError::Required { .. }), "{error:?}");
    }

    #[test]
    fn github_actions_is_refused_on_the_local_backend_and_the_local_backend_under_it() {
        let error = set_in_text("clambake.toml", "", "github_actions.enabled", "true").unwrap_err();
        assert!(
            matches!(error, ConfigError::NeedsGithub { .. }),
            "{error:?}"
        );
        let github = "[forge]\nbackend = \"github\"\n[github]\nowner = \"o\"\nrepo = \"r\"\n";
        let on = set_in_text("clambake.toml", github, "bundling.executor", "actions").unwrap();
        let error = set_in_text("clambake.toml", &on, "forge.backend", "local").unwrap_err();
        assert!(
            matches!(error, ConfigError::NeedsGithub { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn the_template_writes_every_section() {
        let text = template(&[]);
        for section in [
            "forge",
            "github",
            "agents",
            "bundling",
            "state_machine",
            "recovery",
            "github_actions",
        ] {
            assert!(
                text.contains(&format!("[{section}]\n")),
                "{section}: {text}"
            );
        }
    }
}
