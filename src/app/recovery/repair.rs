//! Recovery: observe, detect, plan, execute. Every step is idempotent (executing a plan again,
//! or one made from an older observation, does nothing twice and nothing harmful), every
//! lifecycle change is journaled, and every issue touched gets a comment saying what was found
//! and done. No step drops a commit: branch tips are archived before resets and deletions, and
//! a deletion is refused unless the archive holds the very tip.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::app::lifecycle::transitions::require_agent_id;
use crate::app::queue::ledger::{ClaimLedger, orchestrator_id};
use crate::app::recovery::observe::{Records, observe};
use crate::app::{AppResult, Workspace};
use crate::core::branches::name::parse_branch_name;
use crate::core::config::Config;
use crate::core::lifecycle::machine::State;
use crate::core::recovery::drift::finished_work::{FinishedWork, finished_work};
use crate::core::recovery::drift::{
    Inconsistency, Limits, RefFacts, Snapshot, believed_from_labels, detect, leave_out,
};
use crate::core::recovery::plans::{Policy, RecoveryPlan, Step, plan};
use crate::ports::Forge;
use crate::ports::journal::{AttemptLog, Journal, Store};
use crate::ports::processes::AgentProcesses;

mod steps;

use steps::{journal_chains, run_step};

/// Everything recovery reads and changes.
pub struct World<'a> {
    pub workspace: &'a Workspace,
    pub forge: &'a dyn Forge,
    pub journal: &'a dyn Journal,
    /// The recorded verdicts: a slot whose success is recorded waits for `land`, not repair.
    pub attempts: &'a dyn AttemptLog,
    pub processes: &'a dyn AgentProcesses,
    /// The branch commits are counted against.
    pub base: String,
    /// `recovery.max_stuck_time_minutes`.
    pub max_stuck: SignedDuration,
    /// `orchestrator.id` as configured: issues another live orchestrator claims are left out.
    pub orchestrator_id: String,
    pub policy: Policy,
    /// `state_machine.enabled`: the journal is the belief. Off, the labels are, and the journal
    /// is neither read nor written.
    pub state_machine: bool,
}

impl<'a> World<'a> {
    pub fn new(
        workspace: &'a Workspace,
        forge: &'a dyn Forge,
        journal: &'a dyn Store,
        processes: &'a dyn AgentProcesses,
        base: String,
        config: &Config,
    ) -> Self {
        Self {
            workspace,
            forge,
            journal,
            attempts: journal,
            processes,
            base,
            max_stuck: config.recovery.max_stuck_time_minutes.duration(),
            orchestrator_id: config.orchestrator.id.clone(),
            policy: Policy {
                cleanup_abandoned_branches: config.recovery.cleanup_abandoned_branches,
            },
            state_machine: config.state_machine.enabled,
        }
    }

    fn limits(&self, now: Timestamp) -> Limits {
        Limits {
            now,
            max_stuck: self.max_stuck,
        }
    }
}

/// The world and the journal's belief, observed together.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub snapshot: Snapshot,
    pub believed: BTreeMap<String, State>,
    /// Every inconsistency with the plan that would repair it.
    pub plans: Vec<RecoveryPlan>,
}

/// Observes the world and reports every inconsistency (of `agent` only, if given) with its plan.
pub async fn diagnose(
    world: &World<'_>,
    agent: Option<&str>,
    now: Timestamp,
) -> AppResult<Diagnosis> {
    if let Some(agent) = agent {
        require_agent_id(agent)?;
    }
    let mut snapshot = observe(
        world.workspace,
        world.forge,
        world.processes,
        Records {
            journal: world.journal,
            attempts: world.attempts,
        },
        &world.base,
        now,
    )
    .await?;
    let mut believed = if world.state_machine {
        world.journal.current_states()?
    } else {
        believed_from_labels(&snapshot)
    };
    let claims = ClaimLedger::new(
        world.workspace,
        orchestrator_id(world.workspace, &world.orchestrator_id)?,
        world.limits(now).max_stuck,
    );
    leave_out(
        &mut snapshot,
        &mut believed,
        &claims.held_by_live_others(now).await?,
    );
    let plans = detect(&snapshot, &believed, world.limits(now))
        .iter()
        .filter(|found| agent.is_none_or(|agent| found.concerns(agent)))
        .map(|found| plan(found, world.policy))
        .collect();
    Ok(Diagnosis {
        snapshot,
        believed,
        plans,
    })
}

/// What became of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Done,
    /// The world already was as the step would make it.
    AlreadyDone,
    LeftForHuman,
    /// Not done, on purpose.
    Skipped {
        reason: String,
    },
    /// The step failed; the plan's later steps were not run.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: Step,
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub inconsistency: Inconsistency,
    pub steps: Vec<StepReport>,
}

impl PlanReport {
    pub fn failed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.outcome, StepOutcome::Failed { .. }))
    }

    /// Whether a step changed anything (not all skipped, already done, or failed).
    pub fn changed_something(&self) -> bool {
        self.steps.iter().any(|s| s.outcome == StepOutcome::Done)
    }
}

/// What a recovery did, and what is still wrong after it.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub executed: Vec<PlanReport>,
    /// Inconsistencies left after the last round, with their plans.
    pub remaining: Vec<RecoveryPlan>,
}

/// The most rounds one recovery runs: a repair can reveal another (a restored label reveals a
/// dead process), and plans that touch the same agent or issue wait for the next round.
const MAX_ROUNDS: usize = 4;

/// Repairs every inconsistency (of `agent` only, if given): observe, plan, execute the plans
/// that do not overlap, and again, until nothing changes.
pub async fn recover(
    world: &World<'_>,
    agent: Option<&str>,
    now: Timestamp,
) -> AppResult<RecoveryReport> {
    let mut executed = Vec::new();
    // A diagnosis that found nothing, read after every repair: asking again finds nothing.
    let mut settled = false;
    for _ in 0..MAX_ROUNDS {
        let diagnosis = diagnose(world, agent, now).await?;
        if diagnosis.plans.is_empty() {
            settled = true;
            break;
        }
        let mut touched = BTreeSet::new();
        let mut progress = false;
        for plan in &diagnosis.plans {
            let keys = touches(plan);
            if !touched.is_disjoint(&keys) {
                continue;
            }
            touched.extend(keys);
            let report = execute(world, plan, &diagnosis.believed, now).await;
            progress |= report.changed_something();
            executed.push(report);
        }
        if !progress {
            break;
        }
    }
    let remaining = if settled {
        Vec::new()
    } else {
        diagnose(world, agent, now).await?.plans
    };
    Ok(RecoveryReport {
        executed,
        remaining,
    })
}

/// The agents, issues and branches a plan changes: two plans sharing one must not run in one
/// round, as the second was planned on a world the first has changed.
fn touches(plan: &RecoveryPlan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|step| match step {
            Step::StopProcess { agent } | Step::Journal { agent, .. } => Some(agent.clone()),
            Step::EditLabels { issue, .. } | Step::CloseIssue { issue } => {
                Some(format!("#{issue}"))
            }
            Step::ArchiveBranch { branch, .. }
            | Step::RestoreBranch { branch, .. }
            | Step::DeleteBranch { branch, .. } => Some(branch.clone()),
            _ => None,
        })
        .collect()
}

/// Executes `plan`'s steps in order, stopping at the first failure. `believed` is the journal
/// as the plan saw it: a journal step already applied is recognised and not applied twice.
pub async fn execute(
    world: &World<'_>,
    plan: &RecoveryPlan,
    believed: &BTreeMap<String, State>,
    now: Timestamp,
) -> PlanReport {
    let cause = format!("recovery of {}", plan.inconsistency.kind());
    PlanReport {
        inconsistency: plan.inconsistency.clone(),
        steps: execute_steps(world, &plan.steps, believed, &cause, now).await,
    }
}

/// Executes `steps` in order, stopping at the first failure; journal entries name `cause`.
async fn execute_steps(
    world: &World<'_>,
    plan: &[Step],
    believed: &BTreeMap<String, State>,
    cause: &str,
    now: Timestamp,
) -> Vec<StepReport> {
    let chains = journal_chains(plan, believed);
    let mut steps = Vec::new();
    let mut failed = false;
    for (step, chain) in plan.iter().zip(&chains) {
        if failed {
            break;
        }
        let outcome = match run_step(world, step, chain, cause, now).await {
            Ok(outcome) => outcome,
            Err(error) => StepOutcome::Failed {
                error: error.to_string(),
            },
        };
        failed = matches!(outcome, StepOutcome::Failed { .. });
        steps.push(StepReport {
            step: step.clone(),
            outcome,
        });
    }
    steps
}

fn done(changed: bool) -> StepOutcome {
    if changed {
        StepOutcome::Done
    } else {
        StepOutcome::AlreadyDone
    }
}

fn failed(error: String) -> StepOutcome {
    StepOutcome::Failed { error }
}

/// What `force-reset` did.
#[derive(Debug, Clone, Serialize)]
pub struct ForceResetReport {
    pub agent: String,
    pub steps: Vec<StepReport>,
    /// Inconsistencies of this agent left afterwards.
    pub remaining: Vec<RecoveryPlan>,
}

impl ForceResetReport {
    pub fn failed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.outcome, StepOutcome::Failed { .. }))
    }
}

/// Puts `agent`'s slot back to Idle: process stopped, worktrees committed and removed, branch
/// tips archived, claims released (see [`crate::core::recovery::force_reset`]), the reset journaled.
pub async fn force_reset(
    world: &World<'_>,
    agent: &str,
    now: Timestamp,
) -> AppResult<ForceResetReport> {
    require_agent_id(agent)?;
    let cause = "force-reset";
    let first = diagnose(world, Some(agent), now).await?;
    let release = crate::core::recovery::force_reset::release(agent, &first.snapshot, world.policy);
    let mut steps = execute_steps(world, &release, &first.believed, cause, now).await;
    if !steps
        .iter()
        .any(|s| matches!(s.outcome, StepOutcome::Failed { .. }))
    {
        let second = diagnose(world, Some(agent), now).await?;
        let state = second
            .believed
            .get(agent)
            .cloned()
            .unwrap_or(State::Idle {});
        let reset = crate::core::recovery::force_reset::reset(
            agent,
            &state,
            &second.snapshot,
            world.policy,
        );
        steps.extend(execute_steps(world, &reset, &second.believed, cause, now).await);
    }
    let remaining = diagnose(world, Some(agent), now).await?.plans;
    Ok(ForceResetReport {
        agent: agent.to_owned(),
        steps,
        remaining,
    })
}

/// One agent slot as the journal has it, checked against the world.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent: String,
    pub state: State,
    /// Open issues carrying the agent's label.
    pub labelled: Vec<u64>,
    /// The branch of the issue the slot holds, if it exists.
    pub branch: Option<RefFacts>,
    pub process_alive: bool,
    /// The slot's agent succeeded and its work waits for `clambake land` (or a run) to land it.
    pub finished: Option<FinishedWork>,
    pub inconsistencies: Vec<Inconsistency>,
}

/// Every agent slot the journal, the labels, the branches or the processes know (or just
/// `agent`), with what is wrong with it.
pub async fn agent_status(
    world: &World<'_>,
    agent: Option<&str>,
    now: Timestamp,
) -> AppResult<Vec<AgentStatus>> {
    let diagnosis = diagnose(world, agent, now).await?;
    let snapshot = &diagnosis.snapshot;
    let finished = finished_work(snapshot, &diagnosis.believed);
    let mut agents: BTreeSet<String> = diagnosis.believed.keys().cloned().collect();
    agents.extend(snapshot.issues.iter().flat_map(|i| {
        i.labels
            .iter()
            .filter(|l| crate::core::queue::labels::agent_slot(l).is_some())
            .cloned()
    }));
    agents.extend(
        snapshot
            .branches
            .iter()
            .filter_map(|b| parse_branch_name(&b.name).map(|o| o.agent.to_owned())),
    );
    agents.extend(snapshot.processes.iter().map(|p| p.agent.clone()));
    if let Some(agent) = agent {
        agents = BTreeSet::from([agent.to_owned()]);
    }
    Ok(agents
        .into_iter()
        .map(|name| {
            let state = diagnosis
                .believed
                .get(&name)
                .cloned()
                .unwrap_or(State::Idle {});
            let held = state.claimed_issue();
            AgentStatus {
                labelled: snapshot
                    .issues
                    .iter()
                    .filter(|i| i.labels.contains(&name))
                    .map(|i| i.number)
                    .collect(),
                branch: held.and_then(|issue| {
                    snapshot
                        .branches
                        .iter()
                        .filter(|b| {
                            parse_branch_name(&b.name)
                                .is_some_and(|o| o.agent == name && o.issue == issue)
                        })
                        .max_by_key(|b| b.commits_ahead)
                        .cloned()
                }),
                process_alive: snapshot
                    .processes
                    .iter()
                    .any(|p| p.agent == name && p.alive),
                finished: finished.iter().find(|w| w.agent == name).cloned(),
                inconsistencies: diagnosis
                    .plans
                    .iter()
                    .map(|p| p.inconsistency.clone())
                    .filter(|i| i.concerns(&name))
                    .collect(),
                state,
                agent: name,
            }
        })
        .collect())
}

/// The forge, journal, process port and configuration of a repository, opened once for the
/// `agent` commands.
pub struct Opened {
    forge: std::sync::Arc<dyn Forge>,
    journal: Box<dyn Store>,
    processes: Box<dyn AgentProcesses>,
    config: Config,
    base: String,
}

impl Opened {
    pub async fn open(
        workspace: &Workspace,
        processes: Box<dyn AgentProcesses>,
    ) -> AppResult<Self> {
        let config = workspace.load_config()?.config;
        let forge = workspace.open_forge(config.forge.backend).await?;
        let journal = Box::new(crate::app::lifecycle::transitions::open_journal(workspace)?);
        let base = forge.default_branch().await?;
        Ok(Self {
            forge,
            journal,
            processes,
            config,
            base,
        })
    }

    /// `state_machine.enabled`.
    pub fn state_machine(&self) -> bool {
        self.config.state_machine.enabled
    }

    pub fn world<'a>(&'a self, workspace: &'a Workspace) -> World<'a> {
        World::new(
            workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            self.processes.as_ref(),
            self.base.clone(),
            &self.config,
        )
    }
}
