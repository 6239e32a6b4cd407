//! The command line: parse, call the application layer, render. One module per subcommand;
//! `logs` sets up logging and error reports, `exit` turns a failure into its exit status.

mod actions;
mod agent;
mod body;
mod bundle;
mod completions;
mod config;
mod demo;
mod doctor;
mod exit;
mod init;
mod issue;
mod land;
mod live_view;
mod logs;
mod monitor;
mod output;
mod pr;
mod rollback;
mod run;
mod spawn;
mod status;
mod terminate;
mod tracing_setup;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::app::{AppResult, ErrorKind, Workspace};

/// Clambake turns your issue tracker into a job queue for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "clambake", version, about, long_about = None)]
pub struct Cli {
    /// Run as if started in this directory.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace). CLAMBAKE_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Set this repository up: clambake.toml, .clambake/, and the label set.
    Init(init::InitArgs),
    /// Read and change clambake.toml.
    Config(config::ConfigArgs),
    /// Issues on the forge.
    Issue(issue::IssueArgs),
    /// Pull requests on the forge.
    Pr(pr::PrArgs),
    /// Run an agent slot on an issue in its own worktree, in the foreground, to its outcome.
    Spawn(spawn::SpawnArgs),
    /// What a running agent is doing: state, pid, uptime, activity, turns, cost, latest events.
    Monitor(monitor::MonitorArgs),
    /// An attempt's log for a person: tool calls, results, text, verdict and cost.
    Logs(logs::LogsArgs),
    /// Stop a running agent: SIGTERM to everything it started, a grace period, then SIGKILL.
    Terminate(terminate::TerminateArgs),
    /// Send an agent's finished work to review (route:review), freeing its slot.
    Land(land::LandArgs),
    /// The queue at a glance: ready, claimed, in review, bundled.
    Status(status::StatusArgs),
    /// Check git, the configuration and the forge, and say how to fix what fails.
    Doctor(doctor::DoctorArgs),
    /// Send a train: bundle finished branches into one pull request.
    Bundle(bundle::BundleArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Agent slots: their lifecycle and its history.
    Agent(agent::AgentArgs),
    /// Keep agents busy on ready issues, land their work, until stopped (or idle).
    Run(run::RunArgs),
    /// Switch a capability off (bundling, real agents, the state machine), or back on.
    Rollback(rollback::RollbackArgs),
    /// Try everything in a new sample repository: twelve issues, agents, a bundle train.
    Demo(demo::DemoArgs),
    /// Clambake on GitHub Actions: its workflows, their runs (trigger, status, logs, cancel).
    Actions(actions::ActionsArgs),
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` sets its logging up once it knows whether its live view takes the terminal.
    if !matches!(cli.command, Command::Run(_)) {
        tracing_setup::init_tracing(cli.verbose, None, None);
    }
    tracing_setup::init_error_reports();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("clambake: could not start the async runtime: {error}");
            return ExitCode::from(ErrorKind::Internal.code());
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    let start = match cli.directory.clone().map_or_else(std::env::current_dir, Ok) {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("clambake: the current directory is unusable: {error}");
            return ExitCode::from(ErrorKind::System.code());
        }
    };
    let result = match cli.command {
        Command::Completions(args) => {
            completions::run(args, Cli::command());
            Ok(())
        }
        Command::Agent(args) => return agent::run(&start, args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Doctor(args) => {
            return if doctor::run(&start, args).await {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(ErrorKind::Inconsistent.code())
            };
        }
        command => run_in_workspace(&start, command, cli.verbose).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(error),
    }
}

async fn run_in_workspace(start: &std::path::Path, command: Command, verbose: u8) -> AppResult<()> {
    let workspace = Workspace::discover(start).await?;
    match command {
        Command::Init(args) => init::run(&workspace, args).await,
        Command::Config(args) => config::run(&workspace, args).await,
        Command::Issue(args) => {
            let forge = open_forge(&workspace).await?;
            issue::run(forge.as_ref(), args).await
        }
        Command::Pr(args) => {
            let forge = open_forge(&workspace).await?;
            pr::run(forge.as_ref(), args).await
        }
        Command::Spawn(args) => {
            let forge = open_forge(&workspace).await?;
            spawn::run(&workspace, forge.as_ref(), args).await
        }
        Command::Monitor(args) => monitor::run(&workspace, args).await,
        Command::Logs(args) => logs::run(&workspace, args).await,
        Command::Terminate(args) => terminate::run(&workspace, args).await,
        Command::Land(args) => {
            let forge = open_forge(&workspace).await?;
            land::run(&workspace, forge.as_ref(), args).await
        }
        Command::Status(args) => {
            let forge = open_forge(&workspace).await?;
            status::run(&workspace, forge.as_ref(), args).await
        }
        Command::Run(args) => run::run(&workspace, args, verbose).await,
        Command::Rollback(args) => rollback::run(&workspace, args).await,
        Command::Bundle(args) => bundle::run(&workspace, args).await,
        Command::Actions(args) => actions::run(&workspace, args).await,
        Command::Doctor(_) | Command::Completions(_) | Command::Demo(_) | Command::Agent(_) => {
            unreachable!("handled before the workspace")
        }
    }
}

async fn open_forge(workspace: &Workspace) -> AppResult<std::sync::Arc<dyn crate::ports::Forge>> {
    let config = workspace.load_config()?.config;
    workspace.open_forge(config.forge.backend).await
}
