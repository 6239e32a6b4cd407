//! `clambake config get|set|list`

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;

use super::output::{print_json, print_table, table};
use crate::app::setup::workflows::{self, WorkflowChange};
use crate::app::{AppResult, Workspace};
use crate::core::config::{self, KEYS, ValueSource};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print one key's effective value (file, then environment, then default).
    Get {
        /// A dotted key, such as agents.max_concurrent.
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a key in clambake.toml, keeping the file's comments and order; an installed workflow
    /// of Clambake's that the key changes is rewritten.
    Set {
        /// A dotted key, such as agents.max_concurrent.
        key: String,
        /// The new value; a negative number needs no `--`, so that it can be refused properly.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// List every key with its effective value and where it came from.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Entry<'a> {
    key: String,
    value: &'a Value,
    source: &'a ValueSource,
    description: String,
}

/// A value given on the command line or in the environment, as `config` shows it back.
fn shown(key: &str, raw: &str) -> String {
    display(&config::shown_value(key, &Value::from(raw)))
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(workspace: &Workspace, args: ConfigArgs) -> AppResult<()> {
    match args.command {
        ConfigCommand::Get { key, json } => {
            let loaded = workspace.load_config()?;
            let Some((value, source)) = loaded.values.get(&key) else {
                return Err(
                    config::unknown_key(&key, "command line".to_owned(), None, None).into(),
                );
            };
            let value = &config::shown_value(&key, value);
            if json {
                let spec = config::key_spec(&key).expect("every loaded key has a spec");
                print_json(&Entry {
                    key,
                    value,
                    source,
                    description: spec.describe(),
                });
            } else {
                println!("{}", display(value));
            }
        }
        ConfigCommand::Set { key, value } => {
            let path = workspace.config_path().display().to_string();
            let text = workspace.read_config_text()?.ok_or_else(|| {
                crate::app::AppError::NotInitialized {
                    root: workspace.root.clone(),
                }
            })?;
            let new_text = config::set_in_text(&path, &text, &key, &value)?;
            if new_text == text {
                println!("{key} is already {}", shown(&key, &value));
            } else {
                workspace.write_config_text(&new_text)?;
                println!("{key} = {}", shown(&key, &value));
                for rewritten in workflows::follow_config(workspace, &text, &new_text)? {
                    if rewritten.change == WorkflowChange::Updated {
                        println!("rewrote {} (commit and push it)", rewritten.path);
                    }
                }
            }
            let spec = config::key_spec(&key).expect("set_in_text accepted the key");
            if let Ok(overridden) = std::env::var(spec.env_var()) {
                eprintln!(
                    "note: {} is set in the environment ({}) and overrides the file",
                    spec.env_var(),
                    shown(&key, &overridden)
                );
            }
        }
        ConfigCommand::List { json } => {
            let loaded = workspace.load_config()?;
            let values: Vec<Value> = KEYS
                .iter()
                .map(|spec| config::shown_value(&spec.dotted(), &loaded.values[&spec.dotted()].0))
                .collect();
            let entries: Vec<Entry<'_>> = KEYS
                .iter()
                .zip(&values)
                .map(|(spec, value)| {
                    let source = &loaded.values[&spec.dotted()].1;
                    Entry {
                        key: spec.dotted(),
                        value,
                        source,
                        description: spec.describe(),
                    }
                })
                .collect();
            if json {
                print_json(&entries);
            } else {
                let mut rows = table(["KEY", "VALUE", "SOURCE"]);
                for entry in &entries {
                    rows.add_row([
                        entry.key.clone(),
                        display(entry.value),
                        entry.source.to_string(),
                    ]);
                }
                print_table(&rows, "no keys");
            }
        }
    }
    Ok(())
}
