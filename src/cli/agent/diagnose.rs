//! `clambake agent diagnose`: every inconsistency with its evidence and the recovery it would
//! take.

use clap::Args;

use super::describe::print_plans;
use super::health::Health;
use crate::app::AppResult;
use crate::app::recovery::repair::{World, diagnose};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Every agent slot (the default); with --agent, only that one.
    #[arg(long, conflicts_with = "agent")]
    all: bool,
    /// Only this slot, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(world: &World<'_>, args: DiagnoseArgs) -> AppResult<Health> {
    let diagnosis = diagnose(world, args.agent.as_deref(), jiff::Timestamp::now()).await?;
    if args.json {
        print_json(&diagnosis.plans);
    } else {
        print_plans(
            &diagnosis.plans,
            "Consistent: the journal, the forge, git and the processes agree.",
        );
    }
    Ok(Health::of(diagnosis.plans.is_empty()))
}
