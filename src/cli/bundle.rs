//! `clambake bundle [--force] [--dry-run] [--summary FILE] [--status] [--diagnose] [--json]`

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

mod summary;

use super::output::{print_json, print_table, table, when};
use crate::app::compose;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::trains::bundle::{
    BundleVerification, Bundler, ReviewRework, TrainReport, TrainStatus,
};
use crate::app::{AppResult, Workspace};
use crate::core::config::{BundleChecks, Config, ForgeBackend, web_url};
use crate::core::forge_text::bisection;
use crate::core::trains::plan::BundlePlan;
use crate::core::trains::schedule::Departure;

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Depart now, whatever the schedule says.
    #[arg(long, conflicts_with_all = ["status", "diagnose"])]
    force: bool,
    /// Print the plan and change nothing.
    #[arg(long, conflicts_with_all = ["status", "diagnose"])]
    dry_run: bool,
    /// Append the train's report as Markdown to FILE (a workflow's `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["status", "diagnose"])]
    summary: Option<PathBuf>,
    /// Show the next departure, the waiting branches and the open bundles.
    #[arg(long, conflicts_with = "diagnose")]
    status: bool,
    /// Say, for every issue in review, why it is or is not in the next train.
    #[arg(long)]
    diagnose: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(workspace: &Workspace, args: BundleArgs) -> AppResult<()> {
    let config = workspace.load_config()?.config;
    let forge = workspace.open_forge(config.forge.backend).await?;
    let journal = open_journal(workspace)?;
    let verification = BundleVerification::open(workspace, &config, &journal).await?;
    let rework = ReviewRework::new(&config, &journal);
    let bundler = Bundler {
        git: workspace.repository(),
        forge: forge.as_ref(),
        config: &config.bundling,
        journal: config
            .state_machine
            .enabled
            .then_some(&journal as &dyn crate::ports::journal::Journal),
        train_log: &journal,
        state_dir: workspace.state_dir(),
        verification: verification.as_ref(),
        rework: Some(&rework),
    };
    let now = compose::clock().now();
    if args.status {
        let status = bundler.status(now).await?;
        if args.json {
            print_json(&status);
        } else {
            print_status(&status);
        }
    } else if args.diagnose {
        let diagnoses = bundler.diagnose(now).await?;
        if args.json {
            print_json(&diagnoses);
        } else {
            let mut rows = table(["ISSUE", "BRANCH", "NEXT TRAIN", "WHY"]);
            for d in &diagnoses {
                rows.add_row([
                    format!("#{}", d.issue),
                    d.branch.clone().unwrap_or_else(|| "-".to_owned()),
                    if d.in_next_train { "yes" } else { "no" }.to_owned(),
                    d.why.clone(),
                ]);
            }
            print_table(&rows, "No issues are in review.");
        }
    } else {
        let checks_here = match config.checks.bundles {
            BundleChecks::Command => true,
            BundleChecks::Auto => !config.checks.command.trim().is_empty(),
            BundleChecks::Forge | BundleChecks::Off => false,
        };
        let report = if checks_here && !args.dry_run {
            let timeout = Duration::from_secs(u64::from(config.checks.timeout_minutes) * 60);
            let clock = compose::clock();
            (bundler.run_until_checked(|| clock.now(), args.force, timeout)).await?
        } else {
            bundler.run(now, args.force, args.dry_run).await?
        };
        if let Some(path) = &args.summary {
            summary::append(path, &report, pulls_url(&config).as_deref())?;
        }
        if args.json {
            print_json(&report);
        } else {
            print_report(&report);
        }
    }
    Ok(())
}

/// The web page of the repository's pull requests' forge, `None` for the local forge.
fn pulls_url(config: &Config) -> Option<String> {
    let github = &config.github;
    (config.forge.backend == ForgeBackend::Github).then(|| {
        format!(
            "{}/{}/{}",
            web_url(&github.api_url),
            github.owner,
            github.repo
        )
    })
}

fn describe(departure: &Departure) -> String {
    match departure {
        Departure::Due { at } => format!("departing now ({})", when(at)),
        Departure::Wait { next } => format!("next train at {}", when(next)),
        Departure::NothingLanded => "leaves when work lands".to_owned(),
        Departure::Manual => "manual: `clambake bundle --force` sends one".to_owned(),
    }
}

fn print_status(status: &TrainStatus) {
    println!("{}", describe(&status.next));
    if let Some(last) = &status.last_departure {
        println!("last train: {}", when(last));
    }
    let mut waiting = table(["ISSUE", "TITLE", "BRANCH"]);
    for entry in &status.waiting {
        if let crate::app::trains::bundle::Standing::Waiting { branch, .. } = &entry.standing {
            waiting.add_row([
                format!("#{}", entry.issue),
                entry.title.clone(),
                branch.clone(),
            ]);
        }
    }
    println!();
    print_table(&waiting, "No branches are waiting.");
    let mut bundles = table(["PULL REQUEST", "BRANCH", "ISSUES"]);
    for bundle in &status.open_bundles {
        bundles.add_row([
            format!("#{}", bundle.pull_request),
            bundle.branch.clone(),
            numbers(&bundle.members),
        ]);
    }
    println!();
    print_table(&bundles, "No bundles are open.");
    for bundle in status.open_bundles.iter().filter(|b| !b.checks.is_empty()) {
        println!("\nchecks of #{}:", bundle.pull_request);
        for (index, entry) in bundle.checks.iter().enumerate() {
            // A rebuilt bundle's checks start again, under its new members.
            if index == 0 || bundle.checks[index - 1].members != entry.members {
                println!("  of {}:", numbers(&entry.members));
            }
            println!("    {}", bisection::event_line(&entry.event));
        }
    }
}

fn print_plan(plan: &BundlePlan) {
    let mut rows = table(["ISSUE", "BRANCH", "VERDICT"]);
    for member in &plan.members {
        rows.add_row([
            format!("#{}", member.candidate.issue),
            member.candidate.branch.clone(),
            "rides".to_owned(),
        ]);
    }
    for set_aside in &plan.set_aside {
        rows.add_row([
            format!("#{}", set_aside.candidate.issue),
            set_aside.candidate.branch.clone(),
            set_aside.reason.describe(),
        ]);
    }
    print_table(&rows, "No branches are waiting.");
}

fn print_report(report: &TrainReport) {
    for repair in &report.repairs {
        println!("repaired: {repair}");
    }
    println!("{}", describe(&report.departure));
    if !report.pending.is_empty() {
        println!(
            "planned on top of the open pull requests {}",
            numbers(&report.pending)
        );
    }
    for left_alone in &report.left_alone {
        println!("left `{}` alone: {}", left_alone.branch, left_alone.why);
    }
    for left_out in &report.left_out {
        println!(
            "left out open pull request #{}: {}",
            left_out.pull_request, left_out.why
        );
    }
    if let Some(plan) = &report.plan {
        print_plan(plan);
    }
    if report.dry_run {
        println!("dry run: nothing was changed");
        return;
    }
    for bundle in &report.bundles {
        println!(
            "bundle pull request #{} ({}) carries {}{}",
            bundle.number,
            bundle.head,
            numbers(&bundle.issues),
            if bundle.created {
                ""
            } else {
                " (already open)"
            }
        );
    }
    for pr in &report.individual {
        println!(
            "pull request #{} ({}) for {}{}{}",
            pr.number,
            pr.head,
            numbers(&pr.issues),
            if pr.created { "" } else { " (already open)" },
            pr.why
                .as_ref()
                .map_or_else(String::new, |why| format!(": {why}"))
        );
    }
    for left in &report.waiting {
        println!("waiting for a later train: #{}: {}", left.issue, left.why);
    }
}

fn numbers(issues: &[u64]) -> String {
    issues
        .iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}
