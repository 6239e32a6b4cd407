//! One step of a recovery plan, executed idempotently: stopping a process, committing
//! leftovers, archiving, restoring or deleting a branch, removing a worktree, labels, issues,
//! comments and journal entries.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;

use crate::app::AppResult;
use crate::app::agents::worktree::{commit_leftovers, creation_interrupted};
use crate::app::lifecycle::transitions::transition;
use crate::core::branches::name::parse_branch_name;
use crate::core::lifecycle::machine::{Event, Lifecycle, State};
use crate::core::recovery::drift::archive_ref;
use crate::core::recovery::plans::Step;
use crate::ports::forge::IssueState;
use crate::ports::git::{BranchDeletion, GitError, Refs, Removal, Worktrees};

use super::{StepOutcome, World, done, failed};

/// Whether adding `label` would move an issue back past where its labels show it is: a plan
/// made from a journal that lagged the forge (a run killed between the two) must not requeue
/// a failed or landed issue, nor land a failed one.
fn moved_past(label: &str, labels: &[&str]) -> bool {
    use crate::core::queue::labels::{BUNDLED, FAILED, READY, REVIEW};
    match label {
        READY => labels.iter().any(|l| [FAILED, REVIEW, BUNDLED].contains(l)),
        REVIEW => labels.contains(&FAILED),
        _ => false,
    }
}

pub(super) async fn run_step(
    world: &World<'_>,
    step: &Step,
    chain: &Chain,
    cause: &str,
    now: Timestamp,
) -> AppResult<StepOutcome> {
    let (refs, worktrees) = (world.workspace.refs(), world.workspace.worktrees());
    Ok(match step {
        Step::StopProcess { agent } => {
            let live = world.processes.processes().await?;
            if live.iter().any(|p| p.agent == *agent && p.alive) {
                world.processes.stop(agent).await?;
                StepOutcome::Done
            } else {
                StepOutcome::AlreadyDone
            }
        }
        Step::CommitLeftovers { worktree } => commit_worktree(worktrees, worktree).await?,
        Step::ArchiveBranch {
            tip, archive_ref, ..
        }
        | Step::ArchiveHead {
            head: tip,
            archive_ref,
            ..
        } => keep_at(refs, archive_ref, tip, "clambake: archive before recovery").await?,
        Step::RestoreBranch { branch, tip, .. } => {
            keep_at(
                refs,
                &format!("refs/heads/{branch}"),
                tip,
                "clambake: restore from archive",
            )
            .await?
        }
        Step::DeleteBranch { branch, tip } => {
            delete_branch(refs, worktrees, branch, tip, &world.base).await?
        }
        Step::RemoveWorktree { worktree } => remove_worktree(worktrees, worktree).await?,
        Step::EditLabels { issue, add, remove } => {
            let current = world.forge.issue(*issue).await?;
            let labels: Vec<&str> = current.labels.iter().map(String::as_str).collect();
            let add: Vec<String> = add
                .iter()
                .filter(|label| !moved_past(label, &labels))
                .cloned()
                .collect();
            let settled = add.iter().all(|l| current.has_label(l))
                && !remove.iter().any(|l| current.has_label(l));
            if !settled {
                world.forge.edit_labels(*issue, &add, remove).await?;
            }
            done(!settled)
        }
        Step::CloseIssue { issue } => {
            let open = world.forge.issue(*issue).await?.state == IssueState::Open;
            if open {
                world
                    .forge
                    .set_issue_state(*issue, IssueState::Closed)
                    .await?;
            }
            done(open)
        }
        Step::Journal { .. } if !world.state_machine => StepOutcome::Skipped {
            reason: "the state machine is disabled: the journal is not written".to_owned(),
        },
        Step::Journal { agent, event } => journal_step(world, agent, event, chain, cause, now)?,
        Step::Comment { issue, body } => {
            let comments = world.forge.comments(*issue).await?;
            let said = comments.last().is_some_and(|c| c.body == *body);
            if !said {
                world.forge.create_comment(*issue, body).await?;
            }
            done(!said)
        }
        Step::LeaveForHuman { .. } => StepOutcome::LeftForHuman,
    })
}

/// The slot's state before a plan's journal step, and the states that step and the plan's
/// later journal steps for the same slot lead to.
#[derive(Debug, Clone, Default)]
pub(super) struct Chain {
    before: Option<State>,
    later: Vec<State>,
}

/// For each of the steps, its [`Chain`] if it is a journal step the lifecycle accepts.
pub(super) fn journal_chains(plan: &[Step], believed: &BTreeMap<String, State>) -> Vec<Chain> {
    let mut chains = vec![Chain::default(); plan.len()];
    let mut at: BTreeMap<&str, State> = BTreeMap::new();
    let mut owners: Vec<(usize, &str)> = Vec::new();
    for (index, step) in plan.iter().enumerate() {
        let Step::Journal { agent, event } = step else {
            continue;
        };
        let before = at
            .get(agent.as_str())
            .or_else(|| believed.get(agent))
            .cloned()
            .unwrap_or(State::Idle {});
        let Ok(transition) = Lifecycle::resume(agent, before.clone()).apply(event) else {
            break;
        };
        for (earlier, owner) in &owners {
            if owner == agent {
                chains[*earlier].later.push(transition.to.clone());
            }
        }
        chains[index] = Chain {
            before: Some(before),
            later: vec![transition.to.clone()],
        };
        owners.push((index, agent));
        at.insert(agent, transition.to);
    }
    chains
}

/// Applies `event` unless the journal already holds its outcome (or a later step's). The journal
/// must be where the plan believed it: anything else means another clambake moved the slot,
/// and the step fails rather than guess.
fn journal_step(
    world: &World<'_>,
    agent: &str,
    event: &Event,
    chain: &Chain,
    cause: &str,
    now: Timestamp,
) -> AppResult<StepOutcome> {
    let current = world.journal.current_state(agent)?;
    let Some(before) = &chain.before else {
        // The lifecycle refuses it: let the journal say so in its own words.
        transition(world.journal, agent, event, cause, now)?;
        return Ok(StepOutcome::Done);
    };
    if current != *before && chain.later.contains(&current) {
        return Ok(StepOutcome::AlreadyDone);
    }
    if current != *before {
        return Ok(failed(format!(
            "{agent} is {} in the journal, not {} as planned: run the recovery again",
            current.kind(),
            before.kind()
        )));
    }
    transition(world.journal, agent, event, cause, now)?;
    Ok(StepOutcome::Done)
}

/// Points `reference` at `tip` if it does not exist; fine if it already does; refuses to move
/// it from another commit.
async fn keep_at(
    refs: &dyn Refs,
    reference: &str,
    tip: &str,
    reason: &str,
) -> AppResult<StepOutcome> {
    if refs
        .compare_and_swap_ref(reference, tip, None, reason)
        .await?
    {
        return Ok(StepOutcome::Done);
    }
    Ok(match refs.resolve(reference).await? {
        Some(found) if found == tip => StepOutcome::AlreadyDone,
        found => failed(format!(
            "`{reference}` exists at {}, not {tip}; left as it is",
            found.as_deref().unwrap_or("nothing")
        )),
    })
}

/// Deletes `branch` only while it is still at `tip` and that tip is archived, removing a
/// worktree that has it checked out first (refused if that worktree has changes).
async fn delete_branch(
    refs: &dyn Refs,
    worktrees: &dyn Worktrees,
    branch: &str,
    tip: &str,
    base: &str,
) -> AppResult<StepOutcome> {
    let Some(current) = refs.branch_tip(branch).await? else {
        return Ok(StepOutcome::AlreadyDone);
    };
    if current != tip {
        return Ok(failed(format!(
            "`{branch}` moved to {current} since it was observed at {tip}; kept"
        )));
    }
    let archive = archive_ref(branch, tip);
    if refs.resolve(&archive).await?.as_deref() != Some(tip) {
        return Ok(failed(format!(
            "`{branch}` is not archived under `{archive}`; kept"
        )));
    }
    // A branch deleted under its worktree leaves it on an unborn HEAD, where the next commit
    // would start a history of its own: the worktree goes first, and only if it holds nothing.
    for worktree in worktrees.list().await? {
        if worktree.branch.as_deref() == Some(branch)
            && let Err(error) = remove_worktree(worktrees, &worktree.path).await
        {
            return Ok(failed(format!(
                "`{branch}` is checked out in {} which could not be removed ({error}); kept",
                worktree.path.display()
            )));
        }
    }
    Ok(match refs.delete_branch(branch, tip, base).await {
        Ok(BranchDeletion::Deleted { .. } | BranchDeletion::Absent) => StepOutcome::Done,
        Ok(BranchDeletion::Moved { found }) => failed(format!(
            "`{branch}` moved to {found} since it was observed at {tip}; kept"
        )),
        Err(error @ GitError::DeletionRefused { .. }) => failed(error.to_string()),
        Err(error) => failed(format!("could not delete `{branch}`: {error}")),
    })
}

async fn commit_worktree(worktrees: &dyn Worktrees, worktree: &Path) -> AppResult<StepOutcome> {
    if !worktree.is_dir() {
        return Ok(StepOutcome::AlreadyDone);
    }
    if creation_interrupted(worktree).await {
        return Ok(StepOutcome::Skipped {
            reason: "its checkout was never finished, so nothing in it is work".to_owned(),
        });
    }
    let branch = worktrees.branch(worktree).await?.unwrap_or_default();
    let Some(owner) = parse_branch_name(&branch) else {
        return Ok(failed(format!(
            "{} is not on an agent branch (`{branch}`); its changes were left alone",
            worktree.display()
        )));
    };
    Ok(done(
        commit_leftovers(worktrees, worktree, owner.issue, owner.agent).await?,
    ))
}

/// `git worktree remove` without force, so that uncommitted changes make it fail, never vanish;
/// forced only for a worktree whose creation was interrupted, which holds no work.
async fn remove_worktree(worktrees: &dyn Worktrees, worktree: &Path) -> AppResult<StepOutcome> {
    if !worktree.is_dir() {
        worktrees.prune().await?;
        return Ok(StepOutcome::AlreadyDone);
    }
    let removal = match creation_interrupted(worktree).await {
        true => Removal::Locked,
        false => Removal::Clean,
    };
    worktrees.remove(worktree, removal).await?;
    Ok(StepOutcome::Done)
}
#[cfg(test)]
mod tests {
    use super::moved_past;
    use crate::core::queue::labels::{BUNDLED, FAILED, HUMAN_ONLY, READY, REVIEW};

    #[test]
    fn recovery_never_moves_an_issue_back_past_where_it_is() {
        for later in [FAILED, REVIEW, BUNDLED] {
            assert!(moved_past(READY, &[later]), "{later}");
        }
        assert!(moved_past(REVIEW, &[FAILED]));
        assert!(!moved_past(READY, &[]));
        assert!(!moved_past(READY, &[HUMAN_ONLY]));
        assert!(
            !moved_past(REVIEW, &[BUNDLED]),
            "a closed bundle sends its issues back"
        );
        assert!(!moved_past("agent001", &[FAILED]));
    }
}
