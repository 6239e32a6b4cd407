//! `clambake land`

use clap::Args;

use super::output::print_json;
use crate::app::land::land;
use crate::app::{AppResult, Workspace};
use crate::ports::Forge;

#[derive(Debug, Args)]
pub struct LandArgs {
    /// The agent slot whose work goes to review, e.g. agent001.
    #[arg(long)]
    agent: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, forge: &dyn Forge, args: LandArgs) -> AppResult<()> {
    let report = land(workspace, forge, &args.agent).await?;
    if args.json {
        print_json(&report);
    } else {
        println!(
            "landed issue #{} from {}: {} ({} commit(s) ahead of {}) is in review; {} is free",
            report.issue,
            report.agent,
            report.branch,
            report.commits_ahead,
            report.base,
            report.agent
        );
    }
    Ok(())
}
