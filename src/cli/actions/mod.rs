//! `clambake actions ...`: Clambake on GitHub Actions.

mod install;

pub(super) use install::print_written;

use clap::{Args, Subcommand};

use crate::app::{AppResult, Workspace};

#[derive(Debug, Args)]
pub struct ActionsArgs {
    #[command(subcommand)]
    command: ActionsCommand,
}

#[derive(Debug, Subcommand)]
enum ActionsCommand {
    /// Write Clambake's workflows into .github/workflows/ as clambake.toml says them.
    Install(install::InstallArgs),
}

pub async fn run(workspace: &Workspace, args: ActionsArgs) -> AppResult<()> {
    match args.command {
        ActionsCommand::Install(args) => install::run(workspace, args),
    }
}
