//! `clambake agent ...`: the agent slots, their lifecycle and its history, and their drift
//! from the world: status, diagnose, recover, force-reset, validate.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::{print_json, print_table, table, when};
use super::{agent_diagnose, agent_force_reset, agent_recover, agent_status, agent_validate};
use crate::app::lifecycle::transitions::{history, open_journal};
use crate::app::recovery::observe::registered_processes;
use crate::app::recovery::repair::Opened;
use crate::app::recovery::repair::{StepOutcome, StepReport};
use crate::app::{AppResult, Workspace};
use crate::core::lifecycle::machine::{Event, State};
use crate::core::recovery::plans::{RecoveryPlan, Step};

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// The slot's lifecycle transitions, oldest first.
    History {
        /// The agent slot, such as agent001.
        #[arg(long, value_name = "AGENT")]
        agent: String,
        #[arg(long)]
        json: bool,
    },
    /// Each slot's state, checked against the forge, git and the processes.
    Status(agent_status::StatusArgs),
    /// Every inconsistency, its evidence, and the recovery it would take.
    Diagnose(agent_diagnose::DiagnoseArgs),
    /// Repair inconsistencies; work is archived before anything could drop it.
    Recover(agent_recover::RecoverArgs),
    /// Put a slot back to Idle: work archived, worktree put away, labels cleaned.
    ForceReset(agent_force_reset::ForceResetArgs),
    /// Whether the journal and the world agree (exit 0) or not (exit 1).
    Validate(agent_validate::ValidateArgs),
    /// The agent processes the registry knows, running or not yet classified.
    List(super::agent_list::AgentListArgs),
    /// A new journal from the forge and git; the old file is moved aside, never deleted.
    RebuildJournal(super::agent_rebuild_journal::RebuildJournalArgs),
}

/// How an `agent` command ends: exit status 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Consistent,
    Inconsistent,
    /// A recovery step failed.
    Failed,
}

impl Health {
    pub fn of(consistent: bool) -> Self {
        if consistent {
            Self::Consistent
        } else {
            Self::Inconsistent
        }
    }
}

/// Runs an `agent` command in the repository containing `start`: exit 0 when consistent, 1
/// when inconsistencies remain, 2 on errors.
pub async fn run(start: &Path, args: AgentArgs) -> ExitCode {
    match run_in(start, args).await {
        Ok(Health::Consistent) => ExitCode::SUCCESS,
        Ok(Health::Inconsistent) => ExitCode::from(1),
        Ok(Health::Failed) => ExitCode::from(2),
        Err(error) => {
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(2)
        }
    }
}

async fn run_in(start: &Path, args: AgentArgs) -> AppResult<Health> {
    let workspace = Workspace::discover(start).await?;
    let opened = || async {
        let opened = Opened::open(&workspace, registered_processes(&workspace)?).await?;
        if !opened.state_machine() {
            eprintln!(
                "clambake: the state machine is disabled ([state_machine] enabled = false): \
                 agent states come from labels alone, and validation against the journal is off."
            );
        }
        AppResult::Ok(opened)
    };
    match args.command {
        AgentCommand::History { agent, json } => history_command(&workspace, &agent, json),
        AgentCommand::Status(args) => {
            agent_status::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::Diagnose(args) => {
            agent_diagnose::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::Validate(args) => {
            agent_validate::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::Recover(args) => {
            agent_recover::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::ForceReset(args) => {
            agent_force_reset::run(&opened().await?.world(&workspace), args).await
        }
        AgentCommand::RebuildJournal(args) => {
            super::agent_rebuild_journal::run(&workspace, args).await
        }
        AgentCommand::List(args) => {
            super::agent_list::run(&workspace, args).await?;
            Ok(Health::Consistent)
        }
    }
}

fn history_command(workspace: &Workspace, agent: &str, json: bool) -> AppResult<Health> {
    let journal = open_journal(workspace)?;
    let entries = history(&journal, agent)?;
    if json {
        print_json(&entries);
        return Ok(Health::Consistent);
    }
    let mut rows = table(["WHEN", "EVENT", "FROM", "TO", "CAUSE"]);
    for entry in &entries {
        rows.add_row([
            when(&entry.at),
            describe_event(&entry.event),
            describe_state(&entry.from),
            describe_state(&entry.to),
            entry.cause.clone(),
        ]);
    }
    print_table(&rows, &format!("{agent} has no recorded transitions."));
    Ok(Health::Consistent)
}

fn describe_event(event: &Event) -> String {
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
