//! `clambake status`

use clap::Args;

use super::output::{print_json, print_table, table};
use crate::app::forge_usage::UsageRecord;
use crate::app::queue::status::status;
use crate::app::{AppResult, Workspace};
use crate::core::queue::standing::Stage;
use crate::ports::Forge;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

/// How many issue numbers a stage lists before summarising the rest.
const SHOWN_PER_STAGE: usize = 8;

pub async fn run(workspace: &Workspace, forge: &dyn Forge, args: StatusArgs) -> AppResult<()> {
    let report = status(workspace, forge).await?;
    if args.json {
        print_json(&report);
        return Ok(());
    }
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
    if let Some(usage) = &report.forge_usage {
        println!("{}", usage_line(usage));
    }
    Ok(())
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
    fn large_counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
