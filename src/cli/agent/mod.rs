//! `clambake agent ...`: the agent slots, their lifecycle and its history, and their drift
//! from the world: status, diagnose, recover, force-reset, validate. This file parses and
//! dispatches; each subcommand is a child module, and what they share (the words for states and
//! steps, how a command ends) lives in `describe` and `health`, never here.

mod describe;
mod diagnose;
mod force_reset;
mod health;
mod history;
mod list;
mod rebuild_journal;
mod recover;
mod remote_run;
mod status;
mod validate;

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::app::recovery::observe::registered_processes;
use crate::app::recovery::repair::Opened;
use crate::app::{AppResult, Workspace};
use health::Health;

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// The slot's lifecycle transitions, oldest first.
    History {
        /// The agent slot, such as agent001.
        #[arg(long, value_name = "AGENT")]
        agent: String,
        #[arg(long)]
        json: bool,
    },
    /// Each slot's state, checked against the forge, git and the processes.
    Status(status::StatusArgs),
    /// Every inconsistency, its evidence, and the recovery it would take.
    Diagnose(diagnose::DiagnoseArgs),
    /// Repair inconsistencies; work is archived before anything could drop it.
    Recover(recover::RecoverArgs),
    /// Put a slot back to Idle: work archived, worktree put away, labels cleaned.
    ForceReset(force_reset::ForceResetArgs),
    /// Whether the journal and the world agree (exit 0) or not (exit 1).
    Validate(validate::ValidateArgs),
    /// The agent processes the registry knows, running or not yet classified.
    List(list::AgentListArgs),
    /// A new journal from the forge and git; the old file is moved aside, never deleted.
    RebuildJournal(rebuild_journal::RebuildJournalArgs),
    /// The runner's side of an attempt dispatched to GitHub Actions: run it here, push its
    /// branch, write exit.json.
    RemoteRun(remote_run::RemoteRunArgs),
}

/// Runs an `agent` command in the repository containing `start`: exit 0 when consistent,
/// [`Health::exit_code`] when not, the error's kind's code on errors.
pub async fn run(start: &Path, args: AgentArgs) -> ExitCode {
    // It reports through exit.json whatever happens, even outside a repository.
    if let AgentCommand::RemoteRun(remote) = args.command {
        return remote_run::run(start, remote).await;
    }
    match run_in(start, args).await {
        Ok(health) => health.exit_code(),
        Err(error) => crate::cli::exit::report(error),
    }
}

async fn run_in(start: &Path, args: AgentArgs) -> AppResult<Health> {
    let workspace = Workspace::discover(start).await?;
    let opened = || async {
        let opened = Opened::open(&workspace, registered_processes(&workspace)?).await?;
        if !opened.state_machine() {
            eprintln!(
                "clambake: the state machine is disabled ([state_machine] enabled = false): \
                 agent states come from labels alone, and validation against the journal is off."
            );
        }
        AppResult::Ok(opened)
    };
    match args.command {
        AgentCommand::History { agent, json } => history::run(&workspace, &agent, json),
        AgentCommand::Status(args) => status::run(&opened().await?.world(&workspace), args).await,
        AgentCommand::Diagnose(args) => {
            diagnose::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::Validate(args) => {
            validate::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::Recover(args) => recover::run(&opened().await?.world(&workspace), args).await,
        AgentCommand::ForceReset(args) => {
            force_reset::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::RebuildJournal(args) => rebuild_journal::run(&workspace, args).await,
        AgentCommand::List(args) => {
            list::run(&workspace, args).await?;
            Ok(Health::Consistent)
        }
        AgentCommand::RemoteRun(_) => unreachable!("run handles remote-run"),
    }
}
