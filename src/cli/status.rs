//! `clambake status`

use clap::Args;

use super::output::{print_json, print_table, table};
use crate::app::forge_usage::UsageRecord;
use crate::app::queue::holds::Holds;
use crate::app::queue::status::DayBudget;
use crate::core::forge_text::issue_list;

use crate::app::run::serve::state::status_view;
use crate::app::{AppResult, Workspace};
use crate::core::queue::standing::Stage;
use crate::core::text::human_time::moment;
use crate::core::trains::dispatched::DepartedFrom;
use crate::ports::Forge;
use crate::ports::journal::DepartureRecord;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

/// How many issue numbers a stage lists before summarising the rest.
const SHOWN_PER_STAGE: usize = 8;

pub async fn run(workspace: &Workspace, forge: &dyn Forge, args: StatusArgs) -> AppResult<()> {
    let view = status_view(workspace, forge).await?;
    if args.json {
        print_json(&view);
        return Ok(());
    }
    let (report, bundling_run) = (view.report, view.bundling_run);
    let mut rows = table(["STAGE", "COUNT", "ISSUES"]);
    for stage in Stage::ALL {
        let entries = &report.stages[&stage];
        if entries.is_empty()
            && matches!(stage, Stage::HumanOnly | Stage::Untriaged | Stage::Failed)
        {
            continue;
        }
        let mut shown: Vec<String> = entries
            .iter()
            .take(SHOWN_PER_STAGE)
            .map(|e| match &e.agent {
                Some(agent) => format!("#{} ({agent})", e.number),
                None => format!("#{}", e.number),
            })
            .collect();
        if entries.len() > SHOWN_PER_STAGE {
            shown.push(format!("and {} more", entries.len() - SHOWN_PER_STAGE));
        }
        rows.add_row([
            stage.as_str().to_owned(),
            entries.len().to_string(),
            shown.join(" "),
        ]);
    }
    print_table(&rows, "");
    for line in holds_lines(&report.holds) {
        println!("{line}");
    }
    if let Some(line) = budget_line(&report.budget) {
        println!("{line}");
    }
    let open = &report.open_pull_requests;
    println!(
        "\nopen pull requests: {}",
        if open.is_empty() {
            "none".to_owned()
        } else {
            open.iter()
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    );
    if let Some(departure) = &report.last_departure {
        println!("{}", departure_line(departure));
    }
    if let Some(run) = &bundling_run {
        println!(
            "bundling run {} in flight ({}), dispatched {}",
            run.run,
            run.url,
            run.timings
                .dispatched_at
                .map_or_else(|| "-".to_owned(), moment)
        );
    }
    if let Some(usage) = &report.forge_usage {
        println!("{}", usage_line(usage));
    }
    Ok(())
}

/// Why the queue waits: `claiming paused: reviewers are behind: ...`, then each waiting issue
/// (`#3 waits on #2`) and each dependency cycle with the member that goes first.
fn holds_lines(holds: &Holds) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(why) = &holds.claiming_paused {
        lines.push(format!("claiming paused: {why}"));
    }
    for waiting in &holds.waiting {
        let reasons: Vec<String> = waiting.reasons.iter().map(ToString::to_string).collect();
        lines.push(format!("#{} waits {}", waiting.number, reasons.join("; ")));
    }
    for cycle in &holds.cycles {
        lines.push(format!(
            "dependency cycle: {} block each other; worked in number order, #{} first",
            issue_list(cycle),
            cycle.first().copied().unwrap_or_default()
        ));
    }
    lines
}

/// `spent today: $1.25 of $20.00 (budget.per_day_usd)`, and when it is spent, until when
/// nothing is claimed; nothing when the day is not capped.
fn budget_line(budget: &DayBudget) -> Option<String> {
    let limit = budget.per_day_usd?;
    let spent = budget.spent_today_usd;
    Some(match budget.held_until {
        Some(until) => format!(
            "claiming paused: the day's budget is spent (${spent:.2} of ${limit:.2}) until {}",
            moment(until)
        ),
        None => format!("spent today: ${spent:.2} of ${limit:.2} (budget.per_day_usd)"),
    })
}

/// `last train: 2026-12-01 19:00:00 UTC, sent #3 #4, by the bundling workflow's run 101 (URL)`
fn departure_line(departure: &DepartureRecord) -> String {
    let sent = if departure.pull_requests.is_empty() {
        "sent nothing".to_owned()
    } else {
        let numbers: Vec<String> = departure
            .pull_requests
            .iter()
            .map(|n| format!("#{n}"))
            .collect();
        format!("sent {}", numbers.join(" "))
    };
    let from = match &departure.made_by {
        DepartedFrom::Here => "from this machine".to_owned(),
        DepartedFrom::Run { run, url, .. } => {
            format!("by the bundling workflow's run {run} ({url})")
        }
        DepartedFrom::Fallback { why, run } => {
            let run = run.map_or_else(String::new, |run| format!(" (run {run})"));
            format!("from this machine instead of the bundling workflow{run}: {why}")
        }
    };
    format!("last train: {}, {sent}, {from}", moment(departure.at))
}

/// `forge requests: 120 charged (80 reads, 40 changes), 300 not modified (free); rate limit
/// 4,880 of 5,000, resets 14:02 UTC (as of 13:58 UTC)`
fn usage_line(record: &UsageRecord) -> String {
    let usage = &record.usage;
    let mut line = format!(
        "forge requests: {} charged ({} reads, {} changes), {} not modified (free)",
        grouped(usage.fresh_reads + usage.mutations),
        grouped(usage.fresh_reads),
        grouped(usage.mutations),
        grouped(usage.not_modified),
    );
    if let Some(limit) = &usage.rate_limit {
        line.push_str(&format!(
            "; rate limit {} of {}, resets {}",
            grouped(limit.remaining),
            grouped(limit.limit),
            limit.reset.strftime("%H:%M UTC")
        ));
    }
    line.push_str(&format!(
        " (as of {})",
        record.written_at.strftime("%H:%M UTC")
    ));
    line
}

/// `4880` as `4,880`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::forge::{ForgeUsage, RateLimit};

    #[test]
    fn usage_reads_as_charged_and_free_requests_with_the_rate_limit() {
        let record = UsageRecord {
            written_at: "2026-11-21T13:58:10Z".parse().unwrap(),
            usage: ForgeUsage {
                fresh_reads: 80,
                not_modified: 300,
                mutations: 40,
                rate_limit: Some(RateLimit {
                    limit: 5000,
                    remaining: 4880,
                    reset: "2026-11-21T14:02:00Z".parse().unwrap(),
                }),
            },
        };
        assert_eq!(
            usage_line(&record),
            "forge requests: 120 charged (80 reads, 40 changes), 300 not modified (free); \
             rate limit 4,880 of 5,000, resets 14:02 UTC (as of 13:58 UTC)"
        );
        let unlimited = UsageRecord {
            usage: ForgeUsage {
                rate_limit: None,
                ..record.usage.clone()
            },
            ..record
        };
        assert_eq!(
            usage_line(&unlimited),
            "forge requests: 120 charged (80 reads, 40 changes), 300 not modified (free) \
             (as of 13:58 UTC)"
        );
    }

    #[test]
    fn the_days_budget_is_shown_only_when_capped_and_says_until_when_it_holds() {
        let budget = |held_until: Option<&str>| DayBudget {
            spent_today_usd: 2.5,
            per_day_usd: Some(2.0),
            held_until: held_until.map(|at| at.parse().unwrap()),
        };
        assert_eq!(
            budget_line(&DayBudget {
                per_day_usd: None,
                ..budget(None)
            }),
            None
        );
        assert_eq!(
            budget_line(&budget(None)).unwrap(),
            "spent today: $2.50 of $2.00 (budget.per_day_usd)"
        );
        let held = budget_line(&budget(Some("2026-12-03T00:00:00Z"))).unwrap();
        assert!(
            held.starts_with("claiming paused: the day's budget is spent ($2.50 of $2.00) until "),
            "{held}"
        );
    }

    #[test]
    fn the_last_departure_says_where_it_was_made() {
        let at = "2026-12-01T19:00:00Z".parse().unwrap();
        let fell_back = DepartureRecord {
            at,
            pull_requests: vec![3, 4],
            made_by: DepartedFrom::Fallback {
                why: "the bundling workflow's run ended `failure`".to_owned(),
                run: Some(101),
            },
        };
        assert_eq!(
            departure_line(&fell_back),
            "last train: 2026-12-01 19:00:00 UTC, sent #3 #4, from this machine instead of the \
             bundling workflow (run 101): the bundling workflow's run ended `failure`"
        );
        let by_run = DepartureRecord {
            pull_requests: Vec::new(),
            made_by: DepartedFrom::Run {
                run: 7,
                url: "https://github.com/o/r/actions/runs/7".to_owned(),
                timings: Default::default(),
            },
            ..fell_back
        };
        assert_eq!(
            departure_line(&by_run),
            "last train: 2026-12-01 19:00:00 UTC, sent nothing, by the bundling workflow's run 7 \
             (https://github.com/o/r/actions/runs/7)"
        );
    }

    #[test]
    fn the_holds_say_what_each_issue_waits_on_and_why_claiming_paused() {
        use crate::app::queue::holds::WaitingIssue;
        use crate::core::queue::backpressure::Pressure;
        use crate::core::queue::holds::{Pause, Wait};

        let holds = Holds {
            waiting: vec![
                WaitingIssue {
                    number: 3,
                    reasons: vec![Wait::Blockers { issues: vec![2] }],
                },
                WaitingIssue {
                    number: 5,
                    reasons: vec![
                        Wait::Blockers { issues: vec![1, 3] },
                        Wait::Cycle {
                            cycle: vec![4, 5],
                            after: 4,
                        },
                    ],
                },
            ],
            cycles: vec![vec![4, 5]],
            claiming_paused: Some(Pause::Reviewers {
                pressure: Pressure::OpenBundles { open: 3, max: 3 },
            }),
        };
        assert_eq!(
            holds_lines(&holds),
            [
                "claiming paused: reviewers are behind: 3 bundle pull requests open \
                 (bundling.max_open_bundles = 3)",
                "#3 waits on #2",
                "#5 waits on #1, #3; after #4, in the dependency cycle #4, #5 (worked in number \
                 order)",
                "dependency cycle: #4, #5 block each other; worked in number order, #4 first",
            ]
        );
        assert!(holds_lines(&Holds::default()).is_empty());
    }

    #[test]
    fn large_counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
