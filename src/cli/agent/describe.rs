//! The words for the lifecycle and its recovery that the `agent` commands print.

use crate::app::recovery::repair::{StepOutcome, StepReport};
use crate::cli::output::{print_table, table};
use crate::core::lifecycle::machine::{Event, State};
use crate::core::recovery::plans::{RecoveryPlan, Step};

/// An event of the lifecycle, in a few words.
pub fn describe_event(event: &Event) -> String {
    match event {
        Event::Assign { issue, .. } => format!("Assign #{issue}"),
        Event::StartWork { commits_ahead } => format!("StartWork ({commits_ahead} ahead)"),
        Event::Bundle { bundle_pr } => format!("Bundle into #{bundle_pr}"),
        other => other.kind().to_string(),
    }
}

pub fn describe_state(state: &State) -> String {
    let list = |issues: &[u64]| {
        issues
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match state {
        State::Idle {} => "Idle".to_owned(),
        State::Assigned { issue, branch, .. } => format!("Assigned #{issue} on {branch}"),
        State::Working {
            issue,
            commits_ahead,
            ..
        } => format!("Working #{issue}, {commits_ahead} ahead"),
        State::Landed { issue } => format!("Landed #{issue}"),
        State::Bundled { issues, bundle_pr } => format!("Bundled {} in #{bundle_pr}", list(issues)),
        State::Merged { issues } => format!("Merged {}", list(issues)),
    }
}

/// One step of a recovery, in words.
pub fn describe_step(step: &Step) -> String {
    match step {
        Step::StopProcess { agent } => format!("stop {agent}'s process"),
        Step::CommitLeftovers { worktree } => {
            format!("commit the changes left in {}", worktree.display())
        }
        Step::ArchiveBranch {
            branch,
            archive_ref,
            ..
        } => format!("archive `{branch}` as `{archive_ref}`"),
        Step::ArchiveHead {
            worktree,
            archive_ref,
            ..
        } => format!("archive {}'s head as `{archive_ref}`", worktree.display()),
        Step::RestoreBranch {
            branch,
            archive_ref,
            ..
        } => format!("restore `{branch}` from `{archive_ref}`"),
        Step::DeleteBranch { branch, .. } => format!("delete `{branch}` (no commits ahead)"),
        Step::RemoveWorktree { worktree } => format!("remove the worktree {}", worktree.display()),
        Step::EditLabels { issue, add, remove } => {
            let mut parts = Vec::new();
            if !add.is_empty() {
                parts.push(format!("add {}", add.join(", ")));
            }
            if !remove.is_empty() {
                parts.push(format!("remove {}", remove.join(", ")));
            }
            format!("#{issue}: {}", parts.join("; "))
        }
        Step::CloseIssue { issue } => format!("close #{issue}"),
        Step::Journal { agent, event } => format!("journal {agent}: {}", describe_event(event)),
        Step::Comment { issue, .. } => format!("comment on #{issue}"),
        Step::LeaveForHuman { reason } => format!("leave for a human: {reason}"),
    }
}

/// Each inconsistency with its evidence (as JSON, compact) and the steps that would repair it.
pub fn print_plans(plans: &[RecoveryPlan], empty: &str) {
    if plans.is_empty() {
        println!("{empty}");
        return;
    }
    for plan in plans {
        let evidence =
            serde_json::to_string(&plan.inconsistency).expect("inconsistencies serialize to JSON");
        println!("{}: {evidence}", plan.inconsistency.kind());
        for step in &plan.steps {
            println!("  - {}", describe_step(step));
        }
    }
}

/// What each step of a recovery came to.
pub fn print_steps(steps: &[&StepReport], empty: &str) {
    let mut rows = table(["STEP", "OUTCOME"]);
    for report in steps {
        let outcome = match &report.outcome {
            StepOutcome::Done => "done".to_owned(),
            StepOutcome::AlreadyDone => "already done".to_owned(),
            StepOutcome::LeftForHuman => "left for a human".to_owned(),
            StepOutcome::Skipped { reason } => format!("skipped: {reason}"),
            StepOutcome::Failed { error } => format!("failed: {error}"),
        };
        rows.add_row([describe_step(&report.step), outcome]);
    }
    print_table(&rows, empty);
}
