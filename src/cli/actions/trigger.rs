//! `clambake actions trigger`

use clap::Args;

use crate::app::actions::trigger::trigger;
use crate::app::{AppResult, Workspace};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Depart a train even if none is due (the workflow's force_bundle input).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    json: bool,
}

impl TriggerArgs {
    pub fn forced(force: bool) -> Self {
        Self { force, json: false }
    }
}

pub async fn run(workspace: &Workspace, args: TriggerArgs) -> AppResult<()> {
    let triggered = trigger(workspace, args.force).await?;
    if args.json {
        print_json(&triggered);
    } else {
        let forced = if triggered.force { " (forced)" } else { "" };
        println!(
            "started run {} of {}{forced}: {}",
            triggered.run.id, triggered.workflow, triggered.run.html_url
        );
    }
    Ok(())
}
