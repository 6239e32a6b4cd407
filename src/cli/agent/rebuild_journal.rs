//! `clambake agent rebuild-journal`: a new journal from the forge and git; the old file is
//! moved aside.

use clap::Args;

use super::describe::describe_state;
use super::health::Health;
use crate::app::compose;
use crate::app::recovery::rebuild_journal::rebuild_journal;
use crate::app::{AppResult, Workspace};
use crate::cli::output::{print_json, print_table, table};

#[derive(Debug, Args)]
pub struct RebuildJournalArgs {
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, args: RebuildJournalArgs) -> AppResult<Health> {
    let config = workspace.load_config()?.config;
    let forge = workspace.open_forge(config.forge.backend).await?;
    let report = rebuild_journal(workspace, forge.as_ref(), compose::clock().now()).await?;
    if args.json {
        print_json(&report);
        return Ok(Health::Consistent);
    }
    for moved in &report.moved_aside {
        println!("moved aside: {}", moved.display());
    }
    let mut rows = table(["AGENT", "REBUILT STATE"]);
    for (agent, state) in &report.slots {
        rows.add_row([agent.clone(), describe_state(state)]);
    }
    print_table(&rows, "No slot holds work: every slot starts Idle.");
    println!(
        "The journal was rebuilt; the attempts of earlier runs (retry counts) start afresh. \
         `clambake agent validate --all` checks it against the world."
    );
    Ok(Health::Consistent)
}
