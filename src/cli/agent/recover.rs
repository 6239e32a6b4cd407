//! `clambake agent recover`: repair inconsistencies, or with --dry-run say how.

use clap::Args;

use super::describe::{print_plans, print_steps};
use super::health::Health;
use crate::app::AppResult;
use crate::app::recovery::repair::{StepReport, World, diagnose, recover};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["agent", "all"])))]
pub struct RecoverArgs {
    /// Only this slot's inconsistencies, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// Every inconsistency.
    #[arg(long)]
    all: bool,
    /// Say what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(world: &World<'_>, args: RecoverArgs) -> AppResult<Health> {
    let now = jiff::Timestamp::now();
    let agent = args.agent.as_deref();
    if args.dry_run {
        let plans = diagnose(world, agent, now).await?.plans;
        if args.json {
            print_json(&plans);
        } else {
            print_plans(&plans, "Nothing to recover.");
        }
        return Ok(Health::of(plans.is_empty()));
    }
    let report = recover(world, agent, now).await?;
    if args.json {
        print_json(&report);
    } else {
        let steps: Vec<&StepReport> = report.executed.iter().flat_map(|p| &p.steps).collect();
        print_steps(&steps, "Nothing to recover.");
        if !report.remaining.is_empty() {
            println!();
            print_plans(&report.remaining, "");
        }
    }
    if report.executed.iter().any(|p| p.failed()) {
        return Ok(Health::Failed);
    }
    Ok(Health::of(report.remaining.is_empty()))
}
