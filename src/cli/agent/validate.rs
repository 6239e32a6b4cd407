//! `clambake agent validate`: whether the journal and the world agree, in one line and the
//! exit status.

use clap::Args;

use super::health::Health;
use crate::app::AppResult;
use crate::app::recovery::repair::{World, diagnose};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Every agent slot (the default); with --agent, only that one.
    #[arg(long, conflicts_with = "agent")]
    all: bool,
    /// Only this slot, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(world: &World<'_>, args: ValidateArgs) -> AppResult<Health> {
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
