//! `status`: the queue at a glance, why ready issues wait, and what the last run asked of the
//! forge.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::forge_usage::{self, UsageRecord};
use crate::app::lifecycle::transitions::open_journal;
use crate::app::queue::dependencies::Dependencies;
use crate::app::queue::holds::Holds;
use crate::app::{AppResult, Workspace};
use crate::core::queue::standing::{Stage, stage};
use crate::ports::Forge;
use crate::ports::forge::{IssueFilter, Number, PullRequestFilter, PullRequestState};
use crate::ports::journal::{DepartureRecord, TrainLog};

#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub number: Number,
    pub title: String,
    /// The agent holding a claimed issue.
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Open issues by stage; every stage is present, possibly empty.
    pub stages: BTreeMap<Stage, Vec<QueueEntry>>,
    pub open_pull_requests: Vec<Number>,
    /// Why ready issues wait and whether claiming is paused, as the run loop decides it.
    pub holds: Holds,
    /// The forge requests the last run made and the rate limit it saw; `None` for a forge
    /// that counts nothing, or before any run.
    pub forge_usage: Option<UsageRecord>,
    /// The last train's departure: when, what it sent, and where it was made (here, by the
    /// bundling workflow's run, or here instead of it, and why).
    pub last_departure: Option<DepartureRecord>,
}

pub async fn status(workspace: &Workspace, forge: &dyn Forge) -> AppResult<StatusReport> {
    let mut stages: BTreeMap<Stage, Vec<QueueEntry>> =
        Stage::ALL.iter().map(|s| (*s, Vec::new())).collect();
    let open = forge.issues(&IssueFilter::open()).await?;
    let config = workspace.load_config()?.config;
    let holds = Holds::read(forge, &config, &mut Dependencies::default(), &open).await?;
    for issue in open {
        let at = stage(issue.labels.iter().map(String::as_str));
        let agent = issue
            .labels
            .iter()
            .find(|l| crate::core::queue::labels::agent_slot(l).is_some())
            .cloned();
        stages.entry(at).or_default().push(QueueEntry {
            number: issue.number,
            title: issue.title,
            agent,
        });
    }
    let open_pull_requests = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await?
        .into_iter()
        .map(|pr| pr.number)
        .collect();
    Ok(StatusReport {
        stages,
        open_pull_requests,
        holds,
        forge_usage: forge_usage::read(workspace)?,
        last_departure: open_journal(workspace)?.last_departure()?,
    })
}
