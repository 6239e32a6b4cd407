//! Watching one running attempt: its stdout parsed into events, the heartbeat kept, stalls,
//! timeouts and the attempt's budget enforced, and the whole agent stopped and reaped.

use jiff::Timestamp;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use crate::core::agents::events::{AttemptTotals, parse_line};
use crate::core::agents::outcome::Termination;
use crate::core::config::Usd;
use crate::ports::agent::RunningAgent;
use crate::ports::agent_host::{AttemptReport, Limits};

/// Supervises `agent` until it has exited, its leftovers are reaped and its output is drained.
/// The runtime has already put every line in the attempt's log files; the supervisor watches.
/// Sending on (or dropping) `stop` does nothing; sending `()` terminates it on request.
pub async fn supervise(
    agent: RunningAgent,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<AttemptReport> {
    let RunningAgent {
        output: mut lines,
        exit: mut exited,
        control,
        ..
    } = agent;
    let started = Instant::now();
    let mut last_line = started;
    let mut totals = AttemptTotals::default();
    let mut last_event_at = None;
    let mut terminated = None;
    let mut kill_at: Option<Instant> = None;
    let mut stop = Some(stop);
    let mut output_open = true;
    let (exit, exited_at) = loop {
        let give_up_at = (last_line + limits.stall).min(started + limits.timeout);
        tokio::select! {
            line = lines.recv(), if output_open => match line {
                Some(line) => {
                    last_line = Instant::now();
                    last_event_at = Some(Timestamp::now());
                    totals.record(&parse_line(&line));
                    if terminated.is_none() && over_budget(&totals, limits) {
                        terminated = Some(Termination::Budget);
                        control.interrupt();
                        kill_at = Some(Instant::now() + limits.grace);
                    }
                }
                None => output_open = false,
            },
            status = &mut exited => {
                let exited_at = Instant::now();
                let status = status.map_err(|_| {
                    std::io::Error::other("the agent's exit was lost: its watcher ended early")
                })??;
                break (status, exited_at);
            },
            _ = sleep_until(give_up_at), if terminated.is_none() => {
                terminated = Some(if last_line + limits.stall <= started + limits.timeout {
                    Termination::Stall
                } else {
                    Termination::Timeout
                });
                control.interrupt();
                kill_at = Some(Instant::now() + limits.grace);
            },
            _ = sleep_until(kill_at.unwrap_or(started)), if kill_at.is_some() => {
                control.kill();
                kill_at = None;
            },
            request = async { stop.as_mut().expect("guarded").await }, if stop.is_some() => {
                stop = None;
                if request.is_ok() && terminated.is_none() {
                    terminated = Some(Termination::Requested);
                    control.interrupt();
                    kill_at = Some(Instant::now() + limits.grace);
                }
            },
        }
    };
    let strays = control.clean_up().await;
    // The agent is gone: read what it wrote last. The readers end at the end of the logs.
    while let Some(line) = lines.recv().await {
        last_event_at = Some(Timestamp::now());
        totals.record(&parse_line(&line));
    }
    Ok(AttemptReport {
        exit,
        terminated,
        totals,
        last_event_at,
        exited_at,
        strays,
    })
}

/// Whether the cost the agent reported so far has reached its attempt's budget.
fn over_budget(totals: &AttemptTotals, limits: Limits) -> bool {
    let budget = limits.budget.map(Usd::get);
    totals
        .cost_usd
        .zip(budget)
        .is_some_and(|(spent, budget)| spent >= budget)
}
