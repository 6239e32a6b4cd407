//! `clambake monitor`

use std::time::Duration;

use clap::Args;
use jiff::Timestamp;

use super::output::{print_json, when};
use crate::app::agents::monitor::{
    AgentState, AgentStatus, EndedAttempt, Monitored, follow, monitor,
};
use crate::app::compose::secrets;
use crate::app::{AppResult, Workspace};
use crate::core::agents::render::Renderer;
use crate::ports::agent_host::{EventWindow, NumberedEvent, RunProgress};

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The agent slot, e.g. agent001.
    #[arg(long)]
    agent: String,
    /// Keep printing its events as they come, until it ends.
    #[arg(long)]
    follow: bool,
    /// How many of the latest events to show.
    #[arg(long, default_value_t = 10)]
    events: usize,
    /// JSON; with --follow, one JSON object per line (each event, then the final status).
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, args: MonitorArgs) -> AppResult<()> {
    let window = EventWindow {
        from: 0,
        latest: args.events,
    };
    let status = match monitor(workspace, &args.agent, window, Timestamp::now()).await? {
        Monitored::Registered(status) => status,
        // Over already: there is nothing to follow.
        Monitored::Ended(ended) => {
            if args.json {
                print_json(&ended);
            } else {
                print_ended(&ended);
            }
            return Ok(());
        }
    };
    if !args.follow {
        if args.json {
            print_json(&status);
        } else {
            print_status(&status);
        }
        return Ok(());
    }
    let mut first = true;
    let last = follow(workspace, &args.agent, args.events, |status| {
        if args.json {
            print_events_as_lines(&status.latest_events);
        } else {
            if first {
                print_summary(status);
            }
            print_events(&status.latest_events);
        }
        first = false;
    })
    .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&last).expect("statuses serialize")
        );
    } else {
        println!(
            "{} has ended: {} turn(s), {} event(s)",
            last.agent, last.turns, last.events
        );
    }
    Ok(())
}

fn print_ended(ended: &EndedAttempt) {
    println!(
        "{} on issue #{} (attempt {}, {}): ended {} at {}",
        ended.agent,
        ended.issue,
        ended.attempt,
        ended.runtime.as_deref().unwrap_or("runtime not recorded"),
        ended.outcome,
        when(&ended.finished_at)
    );
    println!("{}", ended.reason);
    println!(
        "{} turn(s), cost {}, session {}, {} tokens in / {} out",
        ended.turns,
        ended
            .cost_usd
            .map_or_else(|| "not reported".to_owned(), |c| format!("${c:.4}")),
        ended.session_id.as_deref().unwrap_or("none"),
        ended.usage.input_tokens,
        ended.usage.output_tokens
    );
    println!(
        "branch {} ({} commit(s) ahead), log {}",
        ended.branch,
        ended.commits_ahead,
        ended.log.display()
    );
    if !ended.latest_events.is_empty() {
        println!("\nlatest events:");
        print_events(&ended.latest_events);
    }
}

fn print_status(status: &AgentStatus) {
    print_summary(status);
    if !status.latest_events.is_empty() {
        println!("\nlatest events:");
        print_events(&status.latest_events);
    }
}

fn print_summary(status: &AgentStatus) {
    let state = match status.state {
        AgentState::Running => "running",
        AgentState::Exited => "exited (waiting to be classified)",
    };
    let uptime = Duration::from_secs(status.uptime_seconds.unsigned_abs());
    println!(
        "{} on issue #{} (attempt {}, {}): {state}",
        status.agent, status.issue, status.attempt, status.runtime
    );
    let last_activity = status
        .last_activity
        .as_ref()
        .map_or_else(|| "none yet".to_owned(), when);
    let uptime = humantime::format_duration(uptime);
    match &status.run {
        Some(run) => {
            println!(
                "run {} on GitHub Actions, up {uptime}, last activity {last_activity}",
                run.run_id
            );
            println!("{}", describe_run(run));
        }
        None => println!(
            "pid {}, up {uptime}, last activity {last_activity}",
            status.pid
        ),
    }
    // Claude Code and Codex report the cost only in their final result; tokens come with
    // every message, but prices per model are not Clambake's to guess.
    println!(
        "{} turn(s), cost {}, {} event(s), {} tokens in / {} out",
        status.turns,
        status
            .cost_usd
            .map_or_else(|| "known when it ends".to_owned(), |c| format!("${c:.4}")),
        status.events,
        status.usage.input_tokens,
        status.usage.output_tokens
    );
    println!("branch {}, log {}", status.branch, status.log.display());
}

/// GitHub's word for a status or a conclusion, as it serializes.
fn word(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A run's status and step progress, in a line.
fn describe_run(run: &RunProgress) -> String {
    let status = match run.conclusion {
        Some(conclusion) => format!("{} ({})", word(run.status), word(conclusion)),
        None => word(run.status),
    };
    let step = run
        .step
        .as_deref()
        .map_or_else(String::new, |step| format!(", step `{step}`"));
    let url = if run.url.is_empty() {
        "not seen yet"
    } else {
        &run.url
    };
    format!(
        "{status}, {}/{} step(s) done{step}, {} request(s) so far, {url}",
        run.steps_done, run.steps_total, run.requests
    )
}

/// Each event as `clambake logs` renders it, under its number.
fn print_events(events: &[NumberedEvent]) {
    let redactor = secrets();
    let renderer = Renderer::new(&redactor);
    for numbered in events {
        for (n, told) in renderer
            .line(numbered.number, &numbered.line)
            .iter()
            .enumerate()
        {
            if n == 0 {
                println!("  {:>5}  {told}", numbered.number);
            } else {
                println!("         {told}");
            }
        }
    }
}

fn print_events_as_lines(events: &[NumberedEvent]) {
    for numbered in events {
        println!(
            "{}",
            serde_json::to_string(numbered).expect("events serialize")
        );
    }
}
