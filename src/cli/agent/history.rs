//! `clambake agent history`: a slot's lifecycle transitions, oldest first.

use super::describe::{describe_event, describe_state};
use super::health::Health;
use crate::app::lifecycle::transitions::{history, open_journal};
use crate::app::{AppResult, Workspace};
use crate::cli::output::{print_json, print_table, table, when};

/// Prints `agent`'s transitions, as a table or JSON.
pub fn run(workspace: &Workspace, agent: &str, json: bool) -> AppResult<Health> {
    let journal = open_journal(workspace)?;
    let entries = history(&journal, agent)?;
    if json {
        print_json(&entries);
        return Ok(Health::Consistent);
    }
    let mut rows = table(["WHEN", "EVENT", "FROM", "TO", "CAUSE"]);
    for entry in &entries {
        rows.add_row([
            when(&entry.at),
            describe_event(&entry.event),
            describe_state(&entry.from),
            describe_state(&entry.to),
            entry.cause.clone(),
        ]);
    }
    print_table(&rows, &format!("{agent} has no recorded transitions."));
    Ok(Health::Consistent)
}
