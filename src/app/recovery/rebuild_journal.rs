//! `agent rebuild-journal`: a new journal, made from what the forge and git show, when the old
//! one is damaged or lost. The old file is moved aside, never deleted. Each slot's state is
//! reconstructed from the world: the issue its label claims (with its branch and whether its
//! agent process lives), else its latest landed work (`route:review`, or `route:bundled` in an
//! open bundle pull request whose head contains the branch), else nothing (Idle); issues another
//! live orchestrator claims are left out. The transitions that lead there go through the state machine like any other, each with a cause
//! that says it was rebuilt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::lock::{RunLock, describe_this_process};
use crate::app::lifecycle::transitions::transition;
use crate::app::queue::ledger::ClaimLedger;
use crate::app::recovery::observe::{Records, observe, registered_processes};
use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::branches::name::{branch_name, parse_branch_name};
use crate::core::config::TransitionLogging;
use crate::core::lifecycle::machine::{Event, State};
use crate::core::queue::labels::{self, agent_slot};
use crate::core::recovery::drift::{RefFacts, Snapshot, leave_out};
use crate::core::trains::schedule::BUNDLE_BRANCH_PREFIX;
use crate::ports::Forge;
use crate::ports::forge::{Issue, IssueFilter, PullRequest, PullRequestFilter, PullRequestState};

/// The cause of every rebuilt transition.
pub const REBUILT: &str = "rebuilt from the forge and git by `clambake agent rebuild-journal`";

/// What the rebuild did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// Where the old journal now is, if there was one.
    pub moved_aside: Vec<PathBuf>,
    /// Each slot with a state other than Idle, as rebuilt.
    pub slots: BTreeMap<String, State>,
}

/// Moves the journal aside and rebuilds it. Refused while a `run` or `spawn` works here.
pub async fn rebuild_journal(
    workspace: &Workspace,
    forge: &dyn Forge,
    now: Timestamp,
) -> AppResult<RebuildReport> {
    let config = workspace.load_config()?.config;
    let state_dir = workspace.state_dir();
    let _lock = RunLock::acquire(
        &state_dir,
        &describe_this_process("clambake agent rebuild-journal", now),
    )?;
    let path = state_dir.join(compose::JOURNAL_DATABASE);
    let moved_aside = move_aside(&path, now)?;
    let journal = compose::journal(&path, TransitionLogging::default())?;
    let base = forge.default_branch().await?;
    let processes = registered_processes(workspace)?;
    let records = Records {
        journal: &journal,
        attempts: &journal,
    };
    let mut snapshot = observe(workspace, forge, processes.as_ref(), records, &base, now).await?;
    // Another live orchestrator's claims are its own slots', not this journal's.
    let elsewhere = ClaimLedger::open(workspace, &config)?
        .held_by_live_others(now)
        .await?;
    leave_out(&mut snapshot, &mut BTreeMap::new(), &elsewhere);
    let mut open = forge.issues(&IssueFilter::open()).await?;
    open.retain(|issue| !elsewhere.contains(&issue.number));
    let bundles: Vec<PullRequest> = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await?
        .into_iter()
        .filter(|pr| pr.head.starts_with(BUNDLE_BRANCH_PREFIX))
        .collect();
    let world = Observed {
        snapshot: &snapshot,
        open: &open,
    };
    let mut slots = BTreeMap::new();
    for agent in world.agents() {
        let events = match world.claim(&agent) {
            Some(claim) => claim.events(&agent),
            None => match world.latest_landed(workspace, &agent).await? {
                Some(landed) => landed.events(workspace, &agent, &bundles).await?,
                None => Vec::new(),
            },
        };
        let mut state = State::Idle {};
        for event in &events {
            state = transition(&journal, &agent, event, REBUILT, now)?.to;
        }
        if !events.is_empty() {
            slots.insert(agent, state);
        }
    }
    Ok(RebuildReport { moved_aside, slots })
}

/// Renames the journal and its write-ahead files to `<name>.before-rebuild-<stamp>`.
fn move_aside(path: &Path, now: Timestamp) -> AppResult<Vec<PathBuf>> {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        if !from.exists() {
            continue;
        }
        let to = PathBuf::from(format!("{}.before-rebuild-{stamp}", from.display()));
        std::fs::rename(&from, &to).map_err(|source| AppError::Io {
            action: "move aside",
            path: from.clone(),
            source,
        })?;
        moved.push(to);
    }
    Ok(moved)
}

/// The world the rebuild reads.
struct Observed<'a> {
    snapshot: &'a Snapshot,
    open: &'a [Issue],
}

/// An issue a slot's label claims.
struct Claimed<'a> {
    issue: &'a Issue,
    branch: Option<&'a RefFacts>,
    process_alive: bool,
}

impl Claimed<'_> {
    /// Assigned, then Working if its process lives or its branch has work.
    fn events(&self, agent: &str) -> Vec<Event> {
        let branch = self.branch.map_or_else(
            || branch_name(agent, self.issue.number, &self.issue.title),
            |b| b.name.clone(),
        );
        let mut events = vec![Event::Assign {
            agent_id: agent.to_owned(),
            issue: self.issue.number,
            branch,
        }];
        let ahead = self.branch.map_or(0, |b| b.commits_ahead);
        if self.process_alive || ahead > 0 {
            events.push(Event::StartWork {
                commits_ahead: ahead,
            });
        }
        events
    }
}

/// A slot's landed work on an open issue.
struct Landed<'a> {
    issue: &'a Issue,
    branch: &'a RefFacts,
}

impl Landed<'_> {
    /// Assigned, Working, Landed, and Bundled if an open bundle carries the branch.
    async fn events(
        &self,
        workspace: &Workspace,
        agent: &str,
        bundles: &[PullRequest],
    ) -> AppResult<Vec<Event>> {
        let mut events = vec![
            Event::Assign {
                agent_id: agent.to_owned(),
                issue: self.issue.number,
                branch: self.branch.name.clone(),
            },
            Event::StartWork {
                commits_ahead: self.branch.commits_ahead,
            },
            Event::CompleteWork,
        ];
        if self.issue.has_label(labels::BUNDLED) {
            for bundle in bundles {
                let head = format!("refs/heads/{}", bundle.head);
                if workspace
                    .refs()
                    .is_ancestor(&self.branch.tip, &head)
                    .await?
                {
                    events.push(Event::Bundle {
                        bundle_pr: bundle.number,
                    });
                    break;
                }
            }
        }
        Ok(events)
    }
}

impl<'a> Observed<'a> {
    /// Every agent slot a label or a branch names.
    fn agents(&self) -> BTreeSet<String> {
        let labelled = self
            .open
            .iter()
            .flat_map(|i| i.labels.iter())
            .filter(|l| agent_slot(l).is_some())
            .cloned();
        let branched = self
            .snapshot
            .branches
            .iter()
            .filter_map(|b| parse_branch_name(&b.name).map(|o| o.agent.to_owned()));
        labelled.chain(branched).collect()
    }

    /// The agent's branch for `issue` with the most work.
    fn branch(&self, agent: &str, issue: u64) -> Option<&'a RefFacts> {
        self.snapshot
            .branches
            .iter()
            .filter(|b| {
                parse_branch_name(&b.name).is_some_and(|o| o.agent == agent && o.issue == issue)
            })
            .max_by_key(|b| b.commits_ahead)
    }

    /// The open issue the agent's label claims: of several, the one with the most work, then
    /// the lowest number.
    fn claim(&self, agent: &str) -> Option<Claimed<'a>> {
        self.open
            .iter()
            .filter(|i| i.has_label(agent))
            .map(|issue| Claimed {
                issue,
                branch: self.branch(agent, issue.number),
                process_alive: self
                    .snapshot
                    .processes
                    .iter()
                    .any(|p| p.agent == agent && p.issue == issue.number && p.alive),
            })
            .min_by_key(|c| {
                (
                    std::cmp::Reverse(c.branch.map_or(0, |b| b.commits_ahead)),
                    c.issue.number,
                )
            })
    }

    /// The agent's most recently committed work on an open issue waiting for review or in a
    /// bundle.
    async fn latest_landed(
        &self,
        workspace: &Workspace,
        agent: &str,
    ) -> AppResult<Option<Landed<'a>>> {
        let mut latest: Option<(i64, Landed<'a>)> = None;
        for issue in self
            .open
            .iter()
            .filter(|i| i.has_label(labels::REVIEW) || i.has_label(labels::BUNDLED))
        {
            let Some(branch) = self
                .branch(agent, issue.number)
                .filter(|b| b.commits_ahead > 0)
            else {
                continue;
            };
            let committed = workspace.refs().commit_time(&branch.tip).await?;
            if latest.as_ref().is_none_or(|(at, _)| committed >= *at) {
                latest = Some((committed, Landed { issue, branch }));
            }
        }
        Ok(latest.map(|(_, landed)| landed))
    }
}
