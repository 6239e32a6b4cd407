//! How an agent slot takes an issue and how its work is journaled while it runs: the one path
//! the run loop and `clambake spawn` share. A claim is first the issue's claim reference on the
//! remote, which of several orchestrators only one moves ([`ClaimLedger::take`]), then the
//! slot's label, set and checked on the forge (so no two slots, nor a `run` and a `spawn`, work
//! one issue), then `Assign` in the journal; `StartWork` follows when the agent process starts,
//! and again when a restarted run re-adopts it.

use jiff::Timestamp;

use crate::app::AppResult;
use crate::app::lifecycle::transitions::journal_slot;
use crate::app::lifecycle::transitions::transition;
use crate::app::queue::ledger::ClaimLedger;
use crate::core::lifecycle::machine::Event;
use crate::core::queue::claims::ClaimState;
use crate::core::queue::labels::{self, agent_slot};
use crate::ports::forge::Issue;
use crate::ports::journal::Journal;
use crate::ports::{Clock, Forge};

/// Where a slot's steps are journaled (given only when the state machine is on), and the
/// clock that stamps them.
#[derive(Clone, Copy)]
pub struct SlotJournal<'a> {
    pub journal: &'a dyn Journal,
    pub clock: &'a dyn Clock,
}

/// Why the journal moved a slot to `Working`.
pub const PROCESS_STARTED: &str = "the agent process started";
pub const READOPTED: &str = "re-adopted by the run loop after a restart: the agent still runs";

/// An issue a slot claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub issue: Issue,
    /// The attempt the claim is for, counted over every orchestrator's attempts.
    pub attempt: u32,
}

/// Claims `issue` for `agent` at `now`: its claim reference first (another orchestrator that
/// holds it, or wins the race for it, makes this `None` with no label touched), then on the
/// forge (its label on, `route:ready` off), checking that the claim held: if another slot
/// claimed it at the same moment, ours is withdrawn and `None` returned.
pub async fn claim_issue(
    claims: &ClaimLedger,
    forge: &dyn Forge,
    agent: &str,
    issue: u64,
    now: Timestamp,
) -> AppResult<Option<Claimed>> {
    let Some(record) = claims.take(issue, agent, now).await? else {
        return Ok(None);
    };
    // The edit's answer is the issue as it stands after it: a second claimant's label shows.
    let claimed = forge
        .edit_labels(issue, &[agent.to_owned()], &[labels::READY.to_owned()])
        .await?;
    if claimants(&claimed).len() == 1 {
        return Ok(Some(Claimed {
            issue: claimed,
            attempt: record.attempt,
        }));
    }
    tracing::warn!(
        agent,
        issue,
        "issue claimed twice at once; withdrawing this claim"
    );
    forge.edit_labels(issue, &[], &[agent.to_owned()]).await?;
    claims.release(issue, ClaimState::Returned, now).await?;
    Ok(None)
}

/// The agent slots whose label `issue` carries.
pub fn claimants(issue: &Issue) -> Vec<&str> {
    issue
        .labels
        .iter()
        .map(String::as_str)
        .filter(|l| agent_slot(l).is_some())
        .collect()
}

/// Journals `Assign`, bringing the slot there first if the journal lags the forge (a crash
/// between the claim and the journal write, or a slot left elsewhere by drift). Nothing is
/// written if the journal already has the slot on `issue`.
pub fn journal_assignment(
    slot: Option<SlotJournal<'_>>,
    agent: &str,
    issue: u64,
    branch: &str,
    cause: &str,
) -> AppResult<()> {
    let Some(SlotJournal { journal, clock }) = slot else {
        return Ok(());
    };
    let current = journal.current_state(agent)?;
    if current.claimed_issue() == Some(issue) {
        return Ok(());
    }
    if current.claimed_issue().is_some() {
        transition(
            journal,
            agent,
            &Event::ForceReset,
            "its claim moved on the forge",
            clock.now(),
        )?;
    }
    let assign = Event::Assign {
        agent_id: agent.to_owned(),
        issue,
        branch: branch.to_owned(),
    };
    transition(journal, agent, &assign, cause, clock.now())?;
    Ok(())
}

/// Journals `StartWork`: the slot's agent process runs on `issue`, its branch `commits_ahead`
/// of the base. A slot the journal has elsewhere is left as it is.
pub fn journal_working(
    slot: Option<SlotJournal<'_>>,
    agent: &str,
    issue: u64,
    commits_ahead: u32,
    cause: &str,
) -> AppResult<()> {
    let Some(SlotJournal { journal, clock }) = slot else {
        return Ok(());
    };
    let now: Timestamp = clock.now();
    let events = [Event::StartWork { commits_ahead }];
    journal_slot(Some(journal), agent, issue, &events, cause, now)
}
