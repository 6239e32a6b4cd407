//! `clambake agent history`: the agent slots and their lifecycle.

use clap::{Args, Subcommand};

use super::output::{print_json, print_table, table, when};
use crate::app::lifecycle::{history, open_journal};
use crate::app::{AppResult, Workspace};
use crate::core::lifecycle::{Event, State};

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// The slot's lifecycle transitions, oldest first.
    History {
        /// The agent slot, such as agent001.
        #[arg(long, value_name = "AGENT")]
        agent: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(workspace: &Workspace, args: AgentArgs) -> AppResult<()> {
    match args.command {
        AgentCommand::History { agent, json } => {
            let journal = open_journal(workspace)?;
            let entries = history(&journal, &agent)?;
            if json {
                print_json(&entries);
                return Ok(());
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
        }
    }
    Ok(())
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Assign { issue, .. } => format!("Assign #{issue}"),
        Event::StartWork { commits_ahead } => format!("StartWork ({commits_ahead} ahead)"),
        Event::Bundle { bundle_pr } => format!("Bundle into #{bundle_pr}"),
        other => other.kind().to_string(),
    }
}

fn describe_state(state: &State) -> String {
    let list = |issues: &[u64]| {
        issues
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match state {
        State::Idle {} => "Idle".to_owned(),
        State::Assigned { issue, branch, .. } => format!("Assigned #{issue} on {branch}"),
        State::Working {
            issue,
            commits_ahead,
            ..
        } => format!("Working #{issue}, {commits_ahead} ahead"),
        State::Landed { issue } => format!("Landed #{issue}"),
        State::Bundled { issues, bundle_pr } => format!("Bundled {} in #{bundle_pr}", list(issues)),
        State::Merged { issues } => format!("Merged {}", list(issues)),
    }
}
