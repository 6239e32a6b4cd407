//! `clambake agent diagnose` and `clambake agent validate`: every inconsistency with its
//! evidence and the recovery it would take, or just whether there is any.

use clap::Args;

use super::agent::{Health, print_plans};
use super::output::print_json;
use crate::app::AppResult;
use crate::app::recover::{World, diagnose};

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

/// `diagnose`: the plans in full.
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

/// `validate`: one line (or a JSON verdict) and the exit status.
pub async fn validate(world: &World<'_>, args: DiagnoseArgs) -> AppResult<Health> {
    let diagnosis = diagnose(world, args.agent.as_deref(), jiff::Timestamp::now()).await?;
    let kinds: Vec<&str> = diagnosis
        .plans
        .iter()
        .map(|p| p.inconsistency.kind())
        .collect();
    if args.json {
        print_json(&serde_json::json!({
            "consistent": kinds.is_empty(),
            "inconsistencies": kinds,
        }));
    } else if kinds.is_empty() {
        println!("Consistent.");
    } else {
        println!(
            "{} inconsistencies: {}. `clambake agent diagnose --all` explains them.",
            kinds.len(),
            kinds.join(", ")
        );
    }
    Ok(Health::of(kinds.is_empty()))
}
