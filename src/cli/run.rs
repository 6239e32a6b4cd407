//! `clambake run`

use std::io::IsTerminal;

use clap::Args;
use tokio::sync::{oneshot, watch};

use super::live_view;
use super::output::print_json;
use super::tracing_setup::{LogFormat, init_tracing};
use crate::app::run::assemble::{RunRequest, RunSummary, run_reporting};
use crate::app::run::orchestrator::{Progress, RunEvent, StopWhen};
use crate::app::trains::disposal::Disposition;
use crate::app::{AppError, AppResult, Workspace};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// How many agents work at once (overrides agents.max_concurrent).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    agents: Option<u32>,
    /// One pass: claim, let those attempts finish, land them, and stop.
    #[arg(long, conflicts_with = "until_idle")]
    once: bool,
    /// Stop when no issue is ready or in flight.
    #[arg(long)]
    until_idle: bool,
    /// On Ctrl-C or SIGTERM, leave the agents running for the next start to take up.
    #[arg(long)]
    detach_agents: bool,
    /// How progress is logged: `text`, or `json` lines for machines. On a terminal the live
    /// view takes the screen and the log goes to .clambake/logs/run.log.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log lines on stderr instead of the live view, even on a terminal.
    #[arg(long)]
    no_view: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Serve the metrics and the dashboard on serve.address for this run (as serve.enabled
    /// does); off loopback, the token comes from CLAMBAKE_SERVE_TOKEN.
    #[arg(long)]
    serve: bool,
    /// What this run may spend on agents, in US dollars: once spent it claims nothing more
    /// and ends when its attempts have (besides the `[budget]` caps).
    #[arg(long, value_parser = usd)]
    budget_usd: Option<f64>,
}

/// A positive, finite number of dollars.
fn usd(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 => Ok(usd),
        _ => Err(format!(
            "expected a positive amount of US dollars, such as 2.50, not {text:?}"
        )),
    }
}

/// Whether `run` shows the live view: only when both stdout and stderr are a terminal (piped,
/// it writes log lines and nothing else) and the caller did not ask for log lines.
pub fn shows_view(no_view: bool, stdout_terminal: bool, stderr_terminal: bool) -> bool {
    !no_view && stdout_terminal && stderr_terminal
}

/// Where `run`'s log goes while the live view has the terminal.
fn log_file(workspace: &Workspace) -> AppResult<std::fs::File> {
    let dir = workspace.state_dir().join("logs");
    let path = dir.join("run.log");
    std::fs::create_dir_all(&dir)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        })
        .map_err(|source| AppError::Io {
            action: "open the run log",
            path,
            source,
        })
}

pub async fn run(workspace: &Workspace, args: RunArgs, verbose: u8) -> AppResult<()> {
    let view = shows_view(
        args.no_view,
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );
    let log_to = if view {
        Some(log_file(workspace)?)
    } else {
        None
    };
    init_tracing(verbose, Some(args.log_format), log_to);
    let stop_when = if args.once {
        StopWhen::OnePass
    } else if args.until_idle {
        StopWhen::Idle
    } else {
        StopWhen::Never
    };
    let shutdown = count_signals();
    let (progress, watched) = watch::channel(Progress::default());
    let (done, ended) = oneshot::channel();
    let shown = view.then(|| tokio::spawn(live_view::show(workspace.clone(), watched, ended)));
    let summary = run_reporting(
        workspace,
        RunRequest {
            agents: args.agents,
            stop_when,
            detach_agents: args.detach_agents,
            serve: args.serve,
            budget_usd: args.budget_usd,
        },
        shutdown,
        progress,
    )
    .await;
    if let Some(shown) = shown {
        let _ = done.send(summary.is_ok());
        let _ = shown.await;
    }
    let summary = summary?;
    if args.json {
        print_json(&summary);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// Counts SIGINT and SIGTERM; the second one ends the process at once.
pub fn count_signals() -> watch::Receiver<u32> {
    let (count, counted) = watch::channel(0u32);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::error!("could not listen for signals; stop clambake with SIGKILL");
            return;
        };
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let seen = *count.borrow() + 1;
            if seen >= 2 {
                eprintln!("clambake: second signal, exiting now");
                std::process::exit(130);
            }
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "clambake: stopping: no new claims, agents are being stopped \
                     (their claims stay for the next run); press Ctrl-C again to exit now"
                );
            }
            count.send_replace(seen);
        }
    });
    counted
}

/// The run's outcome for people: what landed, what rode which train, what failed.
pub fn print_summary(summary: &RunSummary) {
    let mut landed = Vec::new();
    let mut retrying = Vec::new();
    let mut failed = Vec::new();
    let mut refused = Vec::new();
    let mut interrupted = Vec::new();
    let mut paused = Vec::new();
    let mut budgets = Vec::new();
    let mut trains = Vec::new();
    for event in &summary.events {
        match event {
            RunEvent::Disposed {
                issue, disposition, ..
            } => match disposition {
                Disposition::Landed { .. } => landed.push(*issue),
                Disposition::Retrying { .. } => retrying.push(*issue),
                Disposition::Failed { .. } => failed.push(*issue),
                Disposition::Refused { why } => refused.push((*issue, why)),
                Disposition::OverBudget { scope } if scope.ends_issue() => failed.push(*issue),
                Disposition::OverBudget { .. } => paused.push(*issue),
            },
            RunEvent::BudgetReached { .. } => budgets.push(event),
            RunEvent::Interrupted { issue, .. } => interrupted.push(*issue),
            RunEvent::TrainDeparted { .. } => trains.push(event),
            _ => {}
        }
    }
    for issues in [
        &mut landed,
        &mut retrying,
        &mut failed,
        &mut interrupted,
        &mut paused,
    ] {
        issues.sort_unstable();
        issues.dedup();
    }
    let seconds = (summary.finished - summary.started)
        .total(jiff::Unit::Second)
        .unwrap_or_default();
    println!("Run finished in {seconds:.1}s.");
    println!("  landed:      {}", list(&landed));
    println!("  retried:     {}", list(&retrying));
    println!("  failed:      {}", list(&failed));
    for (issue, why) in refused {
        println!("  refused:     #{issue}: {why}");
    }
    if !interrupted.is_empty() {
        println!(
            "  interrupted: {} (resumed by the next run)",
            list(&interrupted)
        );
    }
    if !paused.is_empty() {
        println!(
            "  over budget: {} (back on {}, taken up once the budget allows)",
            list(&paused),
            crate::core::queue::labels::READY
        );
    }
    for reached in budgets {
        println!("  budget:      {reached}");
    }
    if summary.events_dropped > 0 {
        println!(
            "  (a long run: its {} earliest events are not kept, nor counted above)",
            summary.events_dropped
        );
    }
    if summary.drift_repaired > 0 {
        println!(
            "  drift repaired: {} inconsistencies",
            summary.drift_repaired
        );
    }
    for train in trains {
        let RunEvent::TrainDeparted {
            bundles,
            individual,
            waiting,
        } = train
        else {
            continue;
        };
        println!("Train:");
        for bundle in bundles {
            println!(
                "  bundle pull request #{} carries {}",
                bundle.number,
                list(&bundle.issues)
            );
        }
        for pr in individual {
            let alone = format!(
                "  pull request #{} carries {} alone",
                pr.number,
                list(&pr.issues)
            );
            match &pr.why {
                Some(why) => println!("{alone}: {why}"),
                None => println!("{alone}"),
            }
        }
        for left in waiting {
            println!("  waiting: #{}: {}", left.issue, left.why);
        }
    }
}

fn list(issues: &[u64]) -> String {
    if issues.is_empty() {
        "none".to_owned()
    } else {
        issues
            .iter()
            .map(|n| format!("#{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::shows_view;

    #[test]
    fn the_live_view_needs_a_terminal_on_both_stdout_and_stderr() {
        assert!(shows_view(false, true, true));
        assert!(!shows_view(false, false, true), "stdout piped");
        assert!(!shows_view(false, true, false), "stderr piped");
        assert!(!shows_view(false, false, false));
        assert!(!shows_view(true, true, true), "--no-view");
    }
}
