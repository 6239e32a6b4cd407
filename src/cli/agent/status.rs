//! `clambake agent status`: each slot's journaled state, checked against the world.

use clap::Args;

use super::describe::describe_state;
use super::health::Health;
use crate::app::AppResult;
use crate::app::recovery::repair::{World, agent_status};
use crate::cli::output::{print_json, print_table, table};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this slot, such as agent001.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// Show the full state (issue, branch, commits) instead of its name.
    #[arg(long)]
    show_state: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(world: &World<'_>, args: StatusArgs) -> AppResult<Health> {
    let statuses = agent_status(world, args.agent.as_deref(), jiff::Timestamp::now()).await?;
    let health = Health::of(statuses.iter().all(|s| s.inconsistencies.is_empty()));
    if args.json {
        print_json(&statuses);
        return Ok(health);
    }
    let mut rows = table([
        "AGENT", "STATE", "LABELLED", "BRANCH", "PROCESS", "PROBLEMS",
    ]);
    for status in &statuses {
        let state = if args.show_state {
            describe_state(&status.state)
        } else {
            status.state.kind().to_string()
        };
        let labelled: Vec<String> = status.labelled.iter().map(|i| format!("#{i}")).collect();
        let branch = status.branch.as_ref().map_or_else(String::new, |b| {
            format!("{} (+{})", b.name, b.commits_ahead)
        });
        let problems: Vec<&str> = status.inconsistencies.iter().map(|i| i.kind()).collect();
        rows.add_row([
            status.agent.clone(),
            state,
            labelled.join(" "),
            branch,
            match (status.process_alive, &status.finished) {
                (true, _) => "alive",
                (false, Some(_)) => "finished",
                (false, None) => "-",
            }
            .to_owned(),
            if problems.is_empty() {
                "ok".to_owned()
            } else {
                problems.join(", ")
            },
        ]);
    }
    print_table(&rows, "No agent slot has been used yet.");
    for work in statuses.iter().filter_map(|s| s.finished.as_ref()) {
        println!(
            "{agent} finished #{issue} (attempt {attempt}, {ahead} ahead on {branch}): \
             `clambake land --agent {agent}` lands it, or the next `clambake run` does.",
            agent = work.agent,
            issue = work.issue,
            attempt = work.attempt,
            ahead = work.commits_ahead,
            branch = work.branch,
        );
    }
    Ok(health)
}
