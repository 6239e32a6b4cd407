//! `clambake rollback`

use clap::{Args, ValueEnum};

use super::output::print_json;
use serde::Serialize;

use crate::app::setup::rollback::{CancelledRun, Feature, Switched, cancel_runs_in_flight, switch};
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::ForgeBackend;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The capability to switch off (or, with --enable, back on).
    #[arg(long, value_enum)]
    feature: FeatureArg,
    /// Switch it back on instead.
    #[arg(long)]
    enable: bool,
    /// Required: the change applies to every later run.
    #[arg(long)]
    confirm: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FeatureArg {
    /// Bundle trains; off, every landed branch gets its own pull request.
    Bundling,
    /// Real agent CLIs; off, the simulated agent works.
    RealAgents,
    /// The lifecycle state machine; off, labels alone manage the agents.
    StateMachine,
    /// GitHub Actions; off, trains depart and agents work on this machine, and Clambake's
    /// workflow runs in flight are cancelled.
    Actions,
}

pub async fn run(workspace: &Workspace, args: RollbackArgs) -> AppResult<()> {
    let feature = match args.feature {
        FeatureArg::Bundling => Feature::Bundling,
        FeatureArg::RealAgents => Feature::RealAgents,
        FeatureArg::StateMachine => Feature::StateMachine,
        FeatureArg::Actions => Feature::Actions,
    };
    if !args.confirm {
        return Err(AppError::Unconfirmed {
            change: format!("set {} = {}", feature.key(), args.enable),
        });
    }
    let switched = switch(workspace, feature, args.enable)?;
    // Off, Clambake's runs in flight are cancelled, whether the switch changed or not: a run
    // started before it was already off has no business going on.
    let cancelled = if feature == Feature::Actions && !args.enable {
        let config = workspace.load_config()?.config;
        if config.forge.backend == ForgeBackend::Github {
            let actions = workspace.open_actions().await?;
            cancel_runs_in_flight(actions.as_ref(), &config.github_actions).await?
        } else {
            Vec::new()
        }
    } else {
        Vec::new()
    };
    if args.json {
        print_json(&Rolled {
            switched: &switched,
            cancelled: &cancelled,
        });
        return Ok(());
    }
    if switched.changed {
        println!(
            "{} = {} (was {})",
            switched.key, switched.enabled, !switched.enabled
        );
    } else {
        println!("{} is already {}", switched.key, switched.enabled);
    }
    for run in &cancelled {
        println!(
            "cancelled run {} of {} ({}): {}",
            run.id, run.workflow, run.display_title, run.url
        );
    }
    if feature == Feature::Actions {
        println!("a running `clambake run` follows the switch from its next pass");
    }
    Ok(())
}

/// What `rollback --json` prints: the switch, and the runs it cancelled.
#[derive(Serialize)]
struct Rolled<'a> {
    #[serde(flatten)]
    switched: &'a Switched,
    cancelled: &'a [CancelledRun],
}
