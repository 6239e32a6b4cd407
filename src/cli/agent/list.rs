//! `clambake agent list`

use std::time::Duration;

use clap::Args;
use jiff::Timestamp;

use crate::app::agents::monitor::{AgentState, list_agents};
use crate::app::{AppResult, Workspace};
use crate::cli::output::{print_json, print_table, table, when};

#[derive(Debug, Args)]
pub struct AgentListArgs {
    #[arg(long)]
    json: bool,
}

/// Lists the registered agent processes.
pub async fn run(workspace: &Workspace, args: AgentListArgs) -> AppResult<()> {
    let agents = list_agents(workspace, Timestamp::now()).await?;
    if args.json {
        print_json(&agents);
        return Ok(());
    }
    let mut rows = table([
        "AGENT",
        "ISSUE",
        "STATE",
        "PID",
        "UPTIME",
        "LAST ACTIVITY",
        "TURNS",
        "RUNTIME",
    ]);
    for agent in &agents {
        let uptime = Duration::from_secs(agent.uptime_seconds.unsigned_abs());
        rows.add_row([
            agent.agent.clone(),
            format!("#{}", agent.issue),
            match agent.state {
                AgentState::Running => "running".to_owned(),
                AgentState::Exited => "exited".to_owned(),
            },
            // An attempt on GitHub Actions has no process here: its run instead.
            agent.run.as_ref().map_or_else(
                || agent.pid.to_string(),
                |run| format!("run {}", run.run_id),
            ),
            humantime::format_duration(uptime).to_string(),
            agent
                .last_activity
                .as_ref()
                .map_or_else(|| "-".to_owned(), when),
            agent.turns.to_string(),
            agent.runtime.clone(),
        ]);
    }
    print_table(&rows, "no agents are running");
    Ok(())
}
