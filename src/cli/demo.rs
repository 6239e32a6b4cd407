//! `clambake demo`

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::output::print_json;
use super::run::{count_signals, print_summary};
use crate::app::AppResult;
use crate::app::setup::demo::{DemoRuntime, demo};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the sample repository (it must not exist, or be empty).
    #[arg(default_value = "clambake-demo")]
    directory: PathBuf,
    /// Who works the issues: the built-in simulated agent, or Claude Code as configured in
    /// your environment (`claude` on PATH and an API key).
    #[arg(long, value_enum, default_value_t = Runtime::Simulated)]
    runtime: Runtime,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Runtime {
    Simulated,
    Claude,
}

pub async fn run(args: DemoArgs) -> AppResult<()> {
    let runtime = match args.runtime {
        Runtime::Simulated => DemoRuntime::Simulated,
        Runtime::Claude => DemoRuntime::Claude,
    };
    let report = demo(&args.directory, runtime, count_signals()).await?;
    if args.json {
        print_json(&report);
        return Ok(());
    }
    println!(
        "Created a sample repository with twelve issues in {}",
        report.directory.display()
    );
    print_summary(&report.run);
    let dir = report.directory.display();
    println!(
        "\nLook around:\n  cd {dir}\n  clambake status\n  clambake issue list --state all\n  \
         clambake pr list\n  clambake pr show <N>\n  clambake agent history --agent agent001\n\
         Merge a pull request with `clambake pr merge <N>`: the issues it names close."
    );
    Ok(())
}
