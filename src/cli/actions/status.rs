//! `clambake actions status`

use clap::Args;

use crate::app::actions::status::status;
use crate::app::{AppResult, Workspace};
use crate::cli::output::{print_json, print_table, table, when};
use crate::core::text::human_time::span;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The most runs shown of each workflow.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    limit: u16,
    #[arg(long)]
    json: bool,
}

impl Default for StatusArgs {
    fn default() -> Self {
        Self {
            limit: 10,
            json: false,
        }
    }
}

pub async fn run(workspace: &Workspace, args: StatusArgs) -> AppResult<()> {
    let status = status(workspace, args.limit.into()).await?;
    if args.json {
        print_json(&status);
        return Ok(());
    }
    let mut runs = table([
        "RUN",
        "WORKFLOW",
        "EVENT",
        "STATUS",
        "CONCLUSION",
        "STARTED",
        "DURATION",
        "URL",
    ]);
    for report in &status.runs {
        let run = &report.run;
        let seconds = u64::try_from(report.duration_seconds).unwrap_or_default();
        runs.add_row(vec![
            run.id.to_string(),
            report.workflow.clone(),
            run.event.clone(),
            run.status.as_str().to_owned(),
            run.conclusion.map_or("-", |c| c.as_str()).to_owned(),
            when(&report.started_at),
            span(std::time::Duration::from_secs(seconds)),
            run.html_url.clone(),
        ]);
    }
    print_table(&runs, "no runs of Clambake's workflows yet");
    for file in &status.missing_workflows {
        println!("no workflow .github/workflows/{file}: `clambake actions install` writes it");
    }
    Ok(())
}
