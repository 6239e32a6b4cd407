//! `clambake rollback`

use clap::{Args, ValueEnum};

use super::output::print_json;
use crate::app::setup::rollback::{Feature, switch};
use crate::app::{AppError, AppResult, Workspace};

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
    if args.json {
        print_json(&switched);
    } else if switched.changed {
        println!(
            "{} = {} (was {})",
            switched.key, switched.enabled, !switched.enabled
        );
    } else {
        println!("{} is already {}", switched.key, switched.enabled);
    }
    Ok(())
}
