//! `clambake actions ...`: Clambake on GitHub Actions, its workflows and their runs. This file
//! parses and dispatches, each subcommand is a child module. The seed's spellings
//! (`--trigger-bundle [--force]`, `--status`, `--logs --run-id N`) still work, as flags of
//! `actions` itself that no subcommand goes with.

mod cancel;
mod install;
mod logs;
mod status;
mod trigger;

pub(super) use install::print_written;

use clap::{ArgGroup, Args, Subcommand};

use crate::app::{AppResult, Workspace};

#[derive(Debug, Args)]
#[command(
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    group(ArgGroup::new("spelling").required(true).args(["trigger_bundle", "status", "logs"]))
)]
pub struct ActionsArgs {
    #[command(subcommand)]
    command: Option<ActionsCommand>,
    /// The same as `actions trigger`.
    #[arg(long)]
    trigger_bundle: bool,
    /// With --trigger-bundle: `actions trigger --force`.
    #[arg(long, requires = "trigger_bundle")]
    force: bool,
    /// The same as `actions status`.
    #[arg(long)]
    status: bool,
    /// With --run-id: `actions logs RUN_ID`.
    #[arg(long, requires = "run_id")]
    logs: bool,
    /// The run whose logs --logs prints.
    #[arg(long, value_name = "RUN_ID", requires = "logs")]
    run_id: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum ActionsCommand {
    /// Write Clambake's workflows into .github/workflows/ as clambake.toml says them.
    Install(install::InstallArgs),
    /// Start a run of the bundling workflow on the default branch; prints its id and URL.
    Trigger(trigger::TriggerArgs),
    /// The recent runs of Clambake's workflows: status, conclusion, start, duration, URL.
    Status(status::StatusArgs),
    /// Print each job's log of a completed run.
    Logs(logs::LogsArgs),
    /// Ask GitHub to cancel a run of one of Clambake's workflows.
    Cancel(cancel::CancelArgs),
}

impl ActionsArgs {
    /// The subcommand, or the one the seed's flags spell.
    fn command(self) -> ActionsCommand {
        if let Some(command) = self.command {
            return command;
        }
        if self.trigger_bundle {
            ActionsCommand::Trigger(trigger::TriggerArgs::forced(self.force))
        } else if let (true, Some(run_id)) = (self.logs, self.run_id) {
            ActionsCommand::Logs(logs::LogsArgs::of(run_id))
        } else {
            ActionsCommand::Status(status::StatusArgs::default())
        }
    }
}

pub async fn run(workspace: &Workspace, args: ActionsArgs) -> AppResult<()> {
    match args.command() {
        ActionsCommand::Install(args) => install::run(workspace, args),
        ActionsCommand::Trigger(args) => trigger::run(workspace, args).await,
        ActionsCommand::Status(args) => status::run(workspace, args).await,
        ActionsCommand::Logs(args) => logs::run(workspace, args).await,
        ActionsCommand::Cancel(args) => cancel::run(workspace, args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        actions: ActionsArgs,
    }

    fn parse(args: &[&str]) -> Result<ActionsCommand, clap::Error> {
        let all = std::iter::once("actions").chain(args.iter().copied());
        Cli::try_parse_from(all).map(|cli| cli.actions.command())
    }

    #[test]
    fn the_seeds_spellings_mean_the_subcommands() {
        assert!(matches!(
            parse(&["--trigger-bundle", "--force"]),
            Ok(ActionsCommand::Trigger(args)) if args.force
        ));
        assert!(matches!(
            parse(&["--trigger-bundle"]),
            Ok(ActionsCommand::Trigger(args)) if !args.force
        ));
        assert!(matches!(
            parse(&["--status"]),
            Ok(ActionsCommand::Status(_))
        ));
        assert!(matches!(
            parse(&["--logs", "--run-id", "42"]),
            Ok(ActionsCommand::Logs(args)) if args.run_id == 42
        ));
        assert!(matches!(
            parse(&["cancel", "7"]),
            Ok(ActionsCommand::Cancel(args)) if args.run_id == 7
        ));
    }

    #[test]
    fn the_seeds_spellings_need_what_they_go_with_and_no_subcommand() {
        for wrong in [
            &[][..],
            &["--logs"],
            &["--force"],
            &["--run-id", "3"],
            &["--status", "logs", "3"],
        ] {
            assert!(parse(wrong).is_err(), "{wrong:?} parsed");
        }
    }
}
