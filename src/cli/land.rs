//! `clambake land`

use clap::Args;

use super::output::print_json;
use serde::Serialize;

use crate::app::compose;
use crate::app::trains::bundle::{TrainReport, train_after_landing};
use crate::app::trains::land::{LandReport, land};
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

/// The landing, and the train it set off when the bundling trigger said one was due.
#[derive(Debug, Serialize)]
struct Landed {
    #[serde(flatten)]
    report: LandReport,
    train: Option<TrainReport>,
}

pub async fn run(workspace: &Workspace, forge: &dyn Forge, args: LandArgs) -> AppResult<()> {
    let now = compose::clock().now();
    let report = land(workspace, forge, &args.agent, now).await?;
    let train = train_after_landing(workspace, forge, now).await?;
    if args.json {
        print_json(&Landed { report, train });
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
        if let Some(number) = report.pull_request {
            println!("pull request #{number} carries it");
        }
        for bundle in train.iter().flat_map(|train| &train.bundles) {
            println!(
                "a train left: bundle pull request #{} carries {} issue(s)",
                bundle.number,
                bundle.issues.len()
            );
        }
    }
    Ok(())
}
