//! `clambake logs`: an attempt's log for a person, or as written.

use clap::Args;

use crate::app::agents::logs::{LoggedAttempt, find_attempt, follow, read_lines};
use crate::app::compose::secrets;
use crate::app::{AppResult, Workspace};
use crate::core::agents::events::{AttemptTotals, parse_line};
use crate::core::agents::render::{Renderer, Verdict};
use crate::core::text::inert::terminal_line;
use crate::core::text::redact::Redactor;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The issue whose attempt to show.
    issue: u64,
    /// Which attempt (1 for the first); the latest by default.
    #[arg(long)]
    attempt: Option<u32>,
    /// Keep printing the attempt's events as they come, until it ends.
    #[arg(long)]
    follow: bool,
    /// The JSON lines as the agent wrote them (secrets redacted, control characters replaced).
    #[arg(long)]
    raw: bool,
}

pub async fn run(workspace: &Workspace, args: LogsArgs) -> AppResult<()> {
    let attempt = find_attempt(workspace, args.issue, args.attempt)?;
    let redactor = secrets();
    let mut shown = Shown::new(&redactor, args.raw);
    if !args.raw {
        print_header(&attempt);
    }
    let ended = if args.follow {
        follow(workspace, &attempt, |number, line| shown.line(number, line)).await?
    } else {
        for (number, line) in (0..).zip(read_lines(&attempt).await?) {
            shown.line(number, &line);
        }
        attempt
    };
    if !args.raw {
        shown.summary(&ended);
    }
    Ok(())
}

fn print_header(attempt: &LoggedAttempt) {
    let state = match (&attempt.record, &attempt.registered) {
        (Some(_), _) => "ended",
        (None, Some(_)) => "running",
        (None, None) => "ended, no verdict recorded",
    };
    let of = attempt.attempts.last().copied().unwrap_or(attempt.attempt);
    let runtime = attempt
        .record
        .as_ref()
        .and_then(|r| r.runtime.clone())
        .or_else(|| attempt.registered.as_ref().map(|r| r.runtime.clone()))
        .unwrap_or_else(|| "runtime not recorded".to_owned());
    println!(
        "issue #{}, attempt {} of {of}, {} ({runtime}), {state}",
        attempt.issue, attempt.attempt, attempt.agent
    );
    println!("log {}", attempt.log.display());
    println!();
}

/// What has been shown so far, and the totals of the events in it.
struct Shown<'a> {
    renderer: Renderer<'a>,
    redactor: &'a Redactor,
    raw: bool,
    totals: AttemptTotals,
}

impl<'a> Shown<'a> {
    fn new(redactor: &'a Redactor, raw: bool) -> Self {
        Self {
            renderer: Renderer::new(redactor),
            redactor,
            raw,
            totals: AttemptTotals::default(),
        }
    }

    fn line(&mut self, number: u64, line: &str) {
        self.totals.record(&parse_line(line));
        if self.raw {
            println!("{}", terminal_line(&self.redactor.redact(line)));
            return;
        }
        for told in self.renderer.line(number, line) {
            println!("{told}");
        }
    }

    fn summary(&self, attempt: &LoggedAttempt) {
        let verdict = attempt.record.as_ref().map(|record| Verdict {
            outcome: record.outcome.clone(),
            reason: record.reason.clone(),
            cost_usd: record.cost_usd,
            turns: record.turns,
        });
        println!();
        for line in self.renderer.summary(verdict.as_ref(), &self.totals) {
            println!("{line}");
        }
    }
}
