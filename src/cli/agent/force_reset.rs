//! `clambake agent force-reset`: a slot back to Idle, its work archived, its labels cleaned.

use clap::Args;

use super::describe::{print_plans, print_steps};
use super::health::Health;
use crate::app::AppResult;
use crate::app::recovery::repair::{StepReport, World, force_reset};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
pub struct ForceResetArgs {
    /// The slot to reset, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(world: &World<'_>, args: ForceResetArgs) -> AppResult<Health> {
    let report = force_reset(world, &args.agent, jiff::Timestamp::now()).await?;
    if args.json {
        print_json(&report);
    } else {
        let steps: Vec<&StepReport> = report.steps.iter().collect();
        print_steps(
            &steps,
            &format!("{} was already idle with nothing to release.", args.agent),
        );
        if !report.remaining.is_empty() {
            println!();
            print_plans(&report.remaining, "");
        }
    }
    if report.failed() {
        return Ok(Health::Failed);
    }
    Ok(Health::of(report.remaining.is_empty()))
}
