//! `clambake terminate`

use clap::Args;

use super::output::print_json;
use crate::app::agents::terminate::terminate;
use crate::app::{AppResult, Workspace};
use crate::ports::agent_host::Stopped;

#[derive(Debug, Args)]
pub struct TerminateArgs {
    /// The agent slot, e.g. agent001.
    #[arg(long)]
    agent: String,
    /// How long it may take to stop after SIGTERM before SIGKILL: 30s, 2m, 500ms ...
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace: std::time::Duration,
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, args: TerminateArgs) -> AppResult<()> {
    let report = terminate(workspace, &args.agent, args.grace).await?;
    if args.json {
        print_json(&report);
    } else {
        let how = match (report.stopped, report.run) {
            (Stopped::Gracefully, Some(_)) => {
                "GitHub cancels its run; what it pushed stays on the remote"
            }
            (Stopped::Gracefully, None) => "it stopped on SIGTERM",
            (Stopped::Killed, _) => "it outlived the grace period and was killed",
            (Stopped::AlreadyGone, _) => "it had already ended",
        };
        let which = match report.run {
            Some(run) => format!("run {run} on GitHub Actions"),
            None => format!("pid {}", report.pid),
        };
        println!(
            "terminated {} on issue #{} ({which}): {how}",
            report.agent, report.issue
        );
    }
    Ok(())
}
