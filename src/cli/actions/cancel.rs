//! `clambake actions cancel`

use clap::Args;

use crate::app::actions::cancel::cancel;
use crate::app::{AppResult, Workspace};
use crate::cli::output::print_json;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The workflow run, as `clambake actions status` lists it.
    #[arg(value_name = "RUN_ID")]
    pub run_id: u64,
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, args: CancelArgs) -> AppResult<()> {
    let cancelled = cancel(workspace, args.run_id).await?;
    if args.json {
        print_json(&cancelled);
    } else if cancelled.already_completed {
        let conclusion = cancelled
            .run
            .conclusion
            .map_or("no conclusion", |c| c.as_str());
        println!(
            "run {} had completed already ({conclusion}): nothing to cancel",
            cancelled.run.id
        );
    } else {
        println!(
            "asked GitHub to cancel run {}: {}",
            cancelled.run.id, cancelled.run.html_url
        );
    }
    Ok(())
}
