//! `run`'s live view on a terminal: a compact screen of the busy agents, the queue and the next
//! train, with the latest events beneath, redrawn in place about once a second.

use std::io::Write;
use std::time::Duration;

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use crossterm::cursor::MoveToPreviousLine;
use crossterm::queue;
use crossterm::terminal::{Clear, ClearType};
use jiff::Timestamp;
use tokio::sync::{oneshot, watch};

use crate::app::Workspace;
use crate::app::run::live::{LiveSampler, LiveSnapshot, LiveState};
use crate::app::run::orchestrator::{BudgetView, Progress, RunEvent};
use crate::core::budget::BudgetScope;
use crate::core::trains::schedule::Departure;

/// How often the screen is redrawn.
const REDRAW_EVERY: Duration = Duration::from_secs(1);
/// Used when the terminal cannot say how wide it is.
const DEFAULT_WIDTH: u16 = 100;

/// Redraws the view of `progress` on stderr until `done` fires. If the run ended well (`done`
/// says true), a last frame, of what the last pass saw, stays on the screen.
pub async fn show(
    workspace: Workspace,
    progress: watch::Receiver<Progress>,
    mut done: oneshot::Receiver<bool>,
) {
    let sampler = match LiveSampler::open(&workspace) {
        Ok(sampler) => sampler,
        Err(error) => {
            tracing::warn!(%error, "no live view: the state cannot be read");
            return;
        }
    };
    let mut screen = Screen::default();
    let mut redraw = tokio::time::interval(REDRAW_EVERY);
    loop {
        let last = tokio::select! {
            _ = redraw.tick() => false,
            ended = &mut done => {
                if ended != Ok(true) {
                    return;
                }
                true
            }
        };
        let current = progress.borrow().clone();
        match sampler.sample(&current, Timestamp::now()).await {
            Ok(snapshot) => screen.draw(&render(&snapshot, terminal_width())),
            Err(error) => tracing::warn!(%error, "the live view could not read the state"),
        }
        if last {
            return;
        }
    }
}

fn terminal_width() -> usize {
    usize::from(
        crossterm::terminal::size()
            .map(|(columns, _)| columns)
            .unwrap_or(DEFAULT_WIDTH),
    )
}

/// The frame last drawn on stderr, so the next one replaces it.
#[derive(Default)]
struct Screen {
    lines: u16,
}

impl Screen {
    fn draw(&mut self, frame: &str) {
        let mut err = std::io::stderr().lock();
        if self.lines > 0 {
            let _ = queue!(err, MoveToPreviousLine(self.lines));
        }
        let _ = queue!(err, Clear(ClearType::FromCursorDown));
        let _ = write!(err, "{frame}");
        let _ = err.flush();
        self.lines = u16::try_from(frame.lines().count()).unwrap_or(u16::MAX);
    }
}

/// The frame for `snapshot`, no line wider than `width`.
pub fn render(snapshot: &LiveSnapshot, width: usize) -> String {
    let mut lines = vec![format!(
        "clambake run · {} · {} agent{} busy{}",
        snapshot.at.strftime("%H:%M:%S UTC"),
        snapshot.agents.len(),
        if snapshot.agents.len() == 1 { "" } else { "s" },
        if snapshot.agents_simulated {
            " · agents simulated: their work is marked [simulated]"
        } else {
            ""
        }
    )];
    if snapshot.agents.is_empty() {
        lines.push("  no agent is working".to_owned());
    } else {
        let mut table = Table::new();
        table
            .load_style(NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(width).unwrap_or(u16::MAX))
            .set_header([
                "AGENT",
                "PID",
                "ISSUE",
                "STATE",
                "ELAPSED",
                "LAST ACTIVITY",
                "TURNS",
                "COST",
            ]);
        for agent in &snapshot.agents {
            table.add_row([
                agent.agent.clone(),
                agent
                    .pid
                    .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
                format!("#{} (try {})", agent.issue, agent.attempt),
                match agent.state {
                    LiveState::Starting => "starting",
                    LiveState::Running => "running",
                    LiveState::Exited => "exited",
                }
                .to_owned(),
                seconds(agent.elapsed_seconds),
                agent.last_activity.map_or_else(
                    || "-".to_owned(),
                    |at| format!("{} ago", seconds(snapshot.at.duration_since(at).as_secs())),
                ),
                agent.turns.to_string(),
                cost_cell(agent.cost_usd, agent.tokens),
            ]);
        }
        lines.extend(table.to_string().lines().map(|l| l.trim_end().to_owned()));
    }
    if let Some(until) = snapshot.rate_limited_until {
        lines.push(RunEvent::RateLimited { until }.to_string());
    }
    if let Some(why) = snapshot.claiming_paused {
        lines.push(RunEvent::ClaimingPaused { why }.to_string());
    }
    lines.extend(budget_lines(&snapshot.budget));
    let blocked = match snapshot.waiting_on_blockers {
        0 => String::new(),
        n => format!(" ({n} waiting on blockers)"),
    };
    lines.push(match snapshot.queue {
        Some(q) => format!(
            "queue: {} ready{blocked} · {} claimed · {} in review · {} bundled · {} failed",
            q.ready, q.claimed, q.review, q.bundled, q.failed
        ),
        None => "queue: not read yet".to_owned(),
    });
    let train = match (snapshot.bundling, snapshot.next_train) {
        (false, _) => {
            "none: bundling is off, each landed branch gets its own pull request".to_owned()
        }
        (true, None) => "not decided yet".to_owned(),
        (true, Some(departure)) => next_train(departure, snapshot.at),
    };
    lines.push(format!("next train: {train}"));
    if !snapshot.recent.is_empty() {
        lines.push("latest:".to_owned());
        lines.extend(snapshot.recent.iter().map(|event| format!("  {event}")));
    }
    let mut frame = String::new();
    for line in lines {
        frame.extend(line.chars().take(width));
        frame.push('\n');
    }
    frame
}

fn next_train(departure: Departure, now: Timestamp) -> String {
    match departure {
        Departure::Manual => "manual (clambake bundle --force)".to_owned(),
        Departure::Due { .. } => "due now".to_owned(),
        Departure::NothingLanded => "as soon as work lands".to_owned(),
        Departure::Wait { next } => format!(
            "{} (in {})",
            next.strftime("%H:%M UTC"),
            seconds(next.duration_since(now).as_secs())
        ),
    }
}

/// A short duration as people read it: `42s`, `3m05s`, `2h04m`.
fn seconds(total: i64) -> String {
    let total = total.max(0);
    match (total / 3600, total % 3600 / 60, total % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// The cost once the agent's result reports it; until then the tokens its stream counted
/// (Claude Code and Codex give the cost only at the end, and prices are not Clambake's to guess).
/// Today's spending against the day's budget, when one is set, and a spent budget.
fn budget_lines(budget: &BudgetView) -> Vec<String> {
    let spent = budget.per_day_usd.map(|limit| {
        format!(
            "spent today: ${:.2} of ${limit:.2} (budget.per_day_usd)",
            budget.spent_today_usd
        )
    });
    let held = budget.held.map(|reached| {
        let until = match reached.scope {
            BudgetScope::Day => "until 00:00 UTC",
            _ => "in this run",
        };
        format!(
            "the {}'s budget is spent (${:.2} of ${:.2}): no new claims {until}",
            reached.scope, reached.spent_usd, reached.limit_usd
        )
    });
    spent.into_iter().chain(held).collect()
}

fn cost_cell(cost_usd: Option<f64>, tokens: u64) -> String {
    match (cost_usd, tokens) {
        (Some(cost), _) => format!("${cost:.2}"),
        (None, 0) => "-".to_owned(),
        (None, tokens) => format!("{tokens} tok"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::run::live::LiveAgent;
    use crate::app::run::orchestrator::QueueCounts;
    use crate::app::trains::disposal::Disposition;
    use crate::core::budget::Reached;
    use crate::core::queue::backpressure::Pressure;
    use crate::core::queue::holds::Pause;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn snapshot() -> LiveSnapshot {
        LiveSnapshot {
            at: at("2026-11-21T07:12:05Z"),
            agents: vec![
                LiveAgent {
                    agent: "agent001".to_owned(),
                    issue: 12,
                    attempt: 1,
                    pid: Some(4242),
                    state: LiveState::Running,
                    elapsed_seconds: 64,
                    last_activity: Some(at("2026-11-21T07:12:02Z")),
                    turns: 7,
                    cost_usd: Some(0.123),
                    tokens: 900,
                },
                LiveAgent {
                    agent: "agent002".to_owned(),
                    issue: 4,
                    attempt: 2,
                    pid: None,
                    state: LiveState::Starting,
                    elapsed_seconds: 2,
                    last_activity: None,
                    turns: 0,
                    cost_usd: None,
                    tokens: 0,
                },
            ],
            queue: Some(QueueCounts {
                ready: 4,
                claimed: 2,
                review: 3,
                bundled: 1,
                failed: 0,
            }),
            bundling: true,
            next_train: Some(Departure::Wait {
                next: at("2026-11-21T07:20:00Z"),
            }),
            recent: vec![
                RunEvent::Claimed {
                    agent: "agent002".to_owned(),
                    issue: 4,
                    attempt: 2,
                },
                RunEvent::Disposed {
                    agent: "agent003".to_owned(),
                    issue: 9,
                    attempt: 1,
                    outcome: "success".to_owned(),
                    disposition: Disposition::Landed {
                        commits_ahead: 2,
                        pull_request: None,
                    },
                },
            ],
            agents_simulated: false,
            rate_limited_until: None,
            claiming_paused: None,
            waiting_on_blockers: 0,
            budget: BudgetView::default(),
        }
    }

    #[test]
    fn a_pause_for_reviewers_and_blocked_issues_are_shown() {
        let held = LiveSnapshot {
            claiming_paused: Some(Pause::Reviewers {
                pressure: Pressure::InReview { waiting: 5, max: 5 },
            }),
            waiting_on_blockers: 2,
            ..snapshot()
        };
        let frame = render(&held, 160);
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(
            lines[4],
            "claiming paused: reviewers are behind: 5 issues waiting for review \
             (agents.max_in_review = 5)",
            "{frame}"
        );
        assert!(
            lines[5].starts_with("queue: 4 ready (2 waiting on blockers) · 2 claimed"),
            "{frame}"
        );
    }

    #[test]
    fn todays_spending_and_a_spent_day_are_shown() {
        let spent = LiveSnapshot {
            budget: BudgetView {
                spent_today_usd: 20.5,
                per_day_usd: Some(20.0),
                held: Some(Reached {
                    scope: BudgetScope::Day,
                    spent_usd: 20.5,
                    limit_usd: 20.0,
                }),
            },
            ..snapshot()
        };
        let frame = render(&spent, 160);
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(
            lines[4], "spent today: $20.50 of $20.00 (budget.per_day_usd)",
            "{frame}"
        );
        assert_eq!(
            lines[5], "the day's budget is spent ($20.50 of $20.00): no new claims until 00:00 UTC",
            "{frame}"
        );
    }

    #[test]
    fn a_wait_for_the_rate_limit_says_when_the_loop_resumes() {
        let waiting = LiveSnapshot {
            rate_limited_until: Some(at("2026-11-21T14:02:30Z")),
            ..snapshot()
        };
        let frame = render(&waiting, 120);
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(lines[4], "rate limited, resuming at 14:02 UTC", "{frame}");
        assert!(lines[5].starts_with("queue: "), "{frame}");
    }

    #[test]
    fn the_frame_shows_agents_queue_train_and_latest_events() {
        let frame = render(&snapshot(), 120);
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(lines[0], "clambake run · 07:12:05 UTC · 2 agents busy");
        let header = lines[1];
        for column in [
            "AGENT",
            "PID",
            "ISSUE",
            "STATE",
            "ELAPSED",
            "LAST ACTIVITY",
            "TURNS",
            "COST",
        ] {
            assert!(header.contains(column), "{header}");
        }
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            first,
            [
                "agent001", "4242", "#12", "(try", "1)", "running", "1m04s", "3s", "ago", "7",
                "$0.12"
            ]
        );
        let second: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            second,
            [
                "agent002", "-", "#4", "(try", "2)", "starting", "2s", "-", "0", "-"
            ]
        );
        assert_eq!(
            lines[4],
            "queue: 4 ready · 2 claimed · 3 in review · 1 bundled · 0 failed"
        );
        assert_eq!(lines[5], "next train: 07:20 UTC (in 7m55s)");
        assert_eq!(lines[6], "latest:");
        assert_eq!(lines[7], "  agent002 claimed #4 (attempt 2)");
        assert_eq!(
            lines[8],
            "  agent003 landed #9: 2 commits, waiting for review"
        );
        assert_eq!(lines.len(), 9);
    }

    #[test]
    fn the_cost_shows_once_known_and_the_tokens_until_then() {
        assert_eq!(cost_cell(Some(0.5), 1200), "$0.50");
        assert_eq!(cost_cell(None, 1200), "1200 tok");
        assert_eq!(cost_cell(None, 0), "-");
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        let frame = render(&snapshot(), 40);
        for line in frame.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        assert!(frame.contains("\nqueue: 4 ready"), "{frame}");
    }

    #[test]
    fn an_idle_loop_says_so_and_names_the_train_trigger() {
        let idle = LiveSnapshot {
            agents: Vec::new(),
            recent: Vec::new(),
            next_train: Some(Departure::Manual),
            ..snapshot()
        };
        let frame = render(&idle, 100);
        assert_eq!(
            frame,
            "clambake run · 07:12:05 UTC · 0 agents busy\n  no agent is working\n\
             queue: 4 ready · 2 claimed · 3 in review · 1 bundled · 0 failed\n\
             next train: manual (clambake bundle --force)\n"
        );
    }

    #[test]
    fn the_header_says_when_agents_are_simulated() {
        let simulated = LiveSnapshot {
            agents_simulated: true,
            ..snapshot()
        };
        let frame = render(&simulated, 200);
        assert!(
            frame
                .lines()
                .next()
                .unwrap()
                .ends_with("2 agents busy · agents simulated: their work is marked [simulated]"),
            "{frame}"
        );
    }

    #[test]
    fn every_kind_of_departure_reads_plainly() {
        let now = at("2026-11-21T07:12:05Z");
        assert_eq!(next_train(Departure::Due { at: now }, now), "due now");
        assert_eq!(
            next_train(Departure::NothingLanded, now),
            "as soon as work lands"
        );
        assert_eq!(
            next_train(
                Departure::Wait {
                    next: at("2026-11-21T09:20:00Z")
                },
                now
            ),
            "09:20 UTC (in 2h07m)"
        );
    }

    #[test]
    fn before_the_first_pass_the_view_says_what_it_does_not_know_yet() {
        let starting = LiveSnapshot {
            queue: None,
            next_train: None,
            ..snapshot()
        };
        let frame = render(&starting, 120);
        assert!(frame.contains("\nqueue: not read yet\n"), "{frame}");
        assert!(frame.contains("\nnext train: not decided yet\n"), "{frame}");
        let unbundled = LiveSnapshot {
            bundling: false,
            ..starting
        };
        assert!(render(&unbundled, 120).contains(
            "next train: none: bundling is off, each landed branch gets its own pull request"
        ));
    }

    #[test]
    fn durations_read_shortest_first() {
        assert_eq!(seconds(0), "0s");
        assert_eq!(seconds(59), "59s");
        assert_eq!(seconds(60), "1m00s");
        assert_eq!(seconds(3599), "59m59s");
        assert_eq!(seconds(3600), "1h00m");
        assert_eq!(seconds(-5), "0s");
    }
}
