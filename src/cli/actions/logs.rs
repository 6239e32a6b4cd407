//! `clambake actions logs`

use clap::Args;

use crate::app::actions::logs::logs;
use crate::app::{AppResult, Workspace};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The workflow run, as `clambake actions status` lists it.
    #[arg(value_name = "RUN_ID")]
    pub run_id: u64,
}

impl LogsArgs {
    pub fn of(run_id: u64) -> Self {
        Self { run_id }
    }
}

pub async fn run(workspace: &Workspace, args: LogsArgs) -> AppResult<()> {
    let (run, logs) = logs(workspace, args.run_id).await?;
    let conclusion = run.conclusion.map_or("no conclusion", |c| c.as_str());
    println!(
        "run {} ({}, {conclusion}): {}",
        run.id, run.name, run.html_url
    );
    if logs.is_empty() {
        println!("its logs archive holds no job's log");
    }
    for log in logs {
        println!("\n=== job {} ===", log.job);
        print!("{}", log.text);
        if !log.text.ends_with('\n') {
            println!();
        }
    }
    Ok(())
}
