//! `clambake actions install [--agent-workflow] [--json]`

use clap::Args;

use crate::app::setup::workflows::{self, Workflow, WorkflowChange, Written};
use crate::app::{AppError, AppResult, Workspace};
use crate::cli::output::print_json;
use crate::core::config::ForgeBackend;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Also write the agent workflow (written anyway when agents.executor = "actions" or
    /// agents.actions_slots > 0).
    #[arg(long)]
    agent_workflow: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(workspace: &Workspace, args: InstallArgs) -> AppResult<()> {
    let config = workflows::file_config(workspace)?;
    let mut wanted = workflows::wanted(&config);
    if args.agent_workflow && !wanted.contains(&Workflow::Agent) {
        wanted.push(Workflow::Agent);
    }
    let written = workflows::install(workspace, &wanted)?;
    if args.json {
        print_json(&written);
    } else {
        print_written(&written);
        let changed =
            |w: &Written| matches!(w.change, WorkflowChange::Created | WorkflowChange::Updated);
        if written.iter().any(changed) {
            println!("Commit and push them: GitHub runs the workflows of the default branch.");
        }
        if config.forge.backend != ForgeBackend::Github {
            println!(
                "note: forge.backend is \"{}\": the workflows work once it is \"github\" \
                 (`clambake init --backend github`)",
                config.forge.backend
            );
        }
    }
    match written
        .iter()
        .find(|w| w.change == WorkflowChange::NotClambakes)
    {
        Some(foreign) => Err(AppError::NotClambakesWorkflow {
            path: foreign.path.clone(),
        }),
        None => Ok(()),
    }
}

/// One line per workflow file: what was done to it.
pub(in crate::cli) fn print_written(written: &[Written]) {
    for file in written {
        let what = match file.change {
            WorkflowChange::Created => "created",
            WorkflowChange::Updated => "rewrote",
            WorkflowChange::Unchanged => "kept   ",
            WorkflowChange::NotClambakes => "skipped",
        };
        let why = match file.change {
            WorkflowChange::NotClambakes => " (not written by Clambake: left as it is)",
            _ => "",
        };
        println!("  {what}  {}{why}", file.path);
    }
}
