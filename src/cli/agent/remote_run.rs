//! `clambake agent remote-run`: the runner's side of an attempt dispatched to GitHub Actions,
//! as the agent workflow's Clambake step runs it. It prints the `exit.json` it wrote; its exit
//! status is 0 whenever the attempt ran and that file records how, else the error's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use tokio::sync::oneshot;

use crate::app::agents::remote_run::{Dispatch, remote_run};

#[derive(Debug, Args)]
pub struct RemoteRunArgs {
    /// The issue the attempt is at.
    #[arg(long)]
    issue: u64,
    /// The agent slot that claimed it, such as agent001.
    #[arg(long)]
    slot: String,
    /// The branch to work on and push.
    #[arg(long)]
    branch: String,
    /// The attempt the claim is for.
    #[arg(long)]
    attempt: u32,
    /// The claim's id: the commit of the issue's claim reference the dispatch was made under.
    #[arg(long)]
    claim: String,
    /// Where the agent's events, its stderr and exit.json go.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub async fn run(start: &Path, args: RemoteRunArgs) -> ExitCode {
    let dispatch = Dispatch {
        issue: args.issue,
        slot: args.slot,
        branch: args.branch,
        attempt: args.attempt,
        claim: args.claim,
    };
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(async move {
        if stop_requested().await {
            let _ = stop.send(());
        }
    });
    let ran = remote_run(start, &dispatch, &args.out, stopped).await;
    super::super::output::print_json(&ran.exit);
    match ran.failure {
        Some(error) => crate::cli::exit::report(error),
        None => ExitCode::SUCCESS,
    }
}

/// Resolves when the runner asks the step to stop: a cancelled run gets SIGINT, then SIGTERM.
async fn stop_requested() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return tokio::signal::ctrl_c().await.is_ok();
    };
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.is_ok(),
        _ = terminate.recv() => true,
    }
}
