//! `clambake spawn`

use clap::Args;
use tokio::sync::oneshot;

use super::output::print_json;
use crate::app::run::spawn::spawn;
use crate::app::trains::disposal::Disposition;
use crate::app::{AppResult, Workspace};
use crate::core::config::AgentRuntimeKind;
use crate::core::queue::labels;
use crate::ports::Forge;

#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// The agent slot, e.g. agent001.
    #[arg(long)]
    agent: String,
    /// The issue to work on.
    #[arg(long)]
    issue: u64,
    /// The agent CLI, instead of agents.runtime.
    #[arg(long, value_parser = ["claude", "codex", "command", "simulated"])]
    runtime: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, forge: &dyn Forge, args: SpawnArgs) -> AppResult<()> {
    let config = workspace.load_config()?.config;
    let runtime = args.runtime.as_deref().map(|word| {
        serde_json::from_value::<AgentRuntimeKind>(serde_json::Value::from(word))
            .expect("clap only accepts runtime words")
    });
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop.send(());
        }
    });
    let report = spawn(
        workspace,
        forge,
        &config,
        &args.agent,
        args.issue,
        runtime,
        stopped,
    )
    .await?;
    if args.json {
        print_json(&report);
    } else {
        println!(
            "{} on issue #{} (attempt {}, {}): {} - {}",
            report.agent,
            report.issue,
            report.attempt,
            report.runtime,
            report.outcome,
            report.reason
        );
        println!(
            "branch {} ({} commit(s) ahead), log {}",
            report.branch,
            report.commits_ahead,
            report.log.display()
        );
        match &report.disposition {
            None => println!(
                "issue #{} stays claimed by {}: `clambake land --agent {}` sends its work to review",
                report.issue, report.agent, report.agent
            ),
            Some(Disposition::Retrying { not_before, .. }) => println!(
                "issue #{} is back on {} for a retry, not before {not_before}",
                report.issue,
                labels::READY
            ),
            Some(Disposition::Failed { attempts }) => println!(
                "issue #{} is now {} after {attempts} attempts",
                report.issue,
                labels::FAILED
            ),
            Some(Disposition::Refused { why }) => println!(
                "issue #{} is now {}: its work was refused: {why}",
                report.issue,
                labels::FAILED
            ),
            Some(Disposition::OverBudget { scope }) => println!(
                "issue #{} is over the {scope}'s budget: {}",
                report.issue,
                if scope.ends_issue() {
                    labels::FAILED
                } else {
                    labels::READY
                }
            ),
            Some(Disposition::Landed { .. }) => {}
        }
    }
    Ok(())
}
