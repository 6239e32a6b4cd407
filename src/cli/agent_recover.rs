//! `clambake agent recover` and `clambake agent force-reset`.

use clap::Args;

use super::agent::{Health, print_plans};
use super::output::{print_json, print_table, table};
use crate::app::AppResult;
use crate::app::recover::{StepOutcome, StepReport, World, diagnose, force_reset, recover};

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

#[derive(Debug, Args)]
pub struct ForceResetArgs {
    /// The slot to reset, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: String,
    #[arg(long)]
    json: bool,
}

pub async fn force(world: &World<'_>, args: ForceResetArgs) -> AppResult<Health> {
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

fn print_steps(steps: &[&StepReport], empty: &str) {
    let mut rows = table(["STEP", "OUTCOME"]);
    for report in steps {
        let outcome = match &report.outcome {
            StepOutcome::Done => "done".to_owned(),
            StepOutcome::AlreadyDone => "already done".to_owned(),
            StepOutcome::LeftForHuman => "left for a human".to_owned(),
            StepOutcome::Failed { error } => format!("failed: {error}"),
        };
        rows.add_row([super::agent::describe_step(&report.step), outcome]);
    }
    print_table(&rows, empty);
}
