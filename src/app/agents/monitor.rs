//! What a running agent is doing, as its host tells it: the same view whether this process
//! supervises it or another one does. Once its attempt has ended, the attempt as
//! the journal recorded it.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::app::agents::attempt::{AttemptError, open_host};
use crate::app::lifecycle::transitions::open_journal;
use crate::app::{AppResult, Workspace};
use crate::core::agents::events::Usage;
use crate::ports::agent_host::{
    AgentHandle, AgentHost, EventWindow, NumberedEvent, RunProgress, Said,
};
use crate::ports::agent_registry::RegisteredAgent;
use crate::ports::journal::AttemptLog;

/// Whether a registered agent's process is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Running,
    /// The process is gone; its attempt waits to be classified by its supervisor.
    Exited,
}

/// One agent, as `monitor` and `agent list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    pub state: AgentState,
    /// The agent's own process.
    pub pid: u32,
    /// How its host names it.
    pub handle: AgentHandle,
    pub runtime: String,
    pub branch: String,
    pub worktree: PathBuf,
    pub log: PathBuf,
    pub started_at: Timestamp,
    pub uptime_seconds: i64,
    /// When the agent last wrote to its log: its heartbeat.
    pub last_activity: Option<Timestamp>,
    pub turns: u32,
    pub cost_usd: Option<f64>,
    pub usage: Usage,
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Events in the log so far.
    pub events: u64,
    /// The events asked for, numbered from 0 in log order.
    pub latest_events: Vec<NumberedEvent>,
    /// For an attempt on GitHub Actions: its run as last seen (its events arrive with its
    /// artifact, once it has ended).
    pub run: Option<RunProgress>,
}

/// A slot's last attempt, ended and judged: its recorded verdict, and what its log says.
#[derive(Debug, Clone, Serialize)]
pub struct EndedAttempt {
    pub agent: String,
    pub issue: u64,
    pub attempt: u32,
    pub state: Ended,
    pub runtime: Option<String>,
    pub outcome: String,
    pub reason: String,
    pub branch: String,
    pub commits_ahead: u32,
    pub turns: u32,
    pub cost_usd: Option<f64>,
    pub usage: Usage,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub log: PathBuf,
    pub finished_at: Timestamp,
    /// Events in the log.
    pub events: u64,
    pub latest_events: Vec<NumberedEvent>,
}

/// The state of an [`EndedAttempt`]: `"ended"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    Ended,
}

/// What `monitor` shows of a slot: its registered agent, or else its last ended attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Monitored {
    Registered(Box<AgentStatus>),
    Ended(Box<EndedAttempt>),
}

/// The status of the registered agent in `slot` or, with none registered, its last attempt
/// as the journal recorded it.
pub async fn monitor(
    workspace: &Workspace,
    slot: &str,
    window: EventWindow,
    now: Timestamp,
) -> AppResult<Monitored> {
    let host = open_host(workspace)?;
    let entry = host
        .list()
        .map_err(AttemptError::from)?
        .into_iter()
        .find(|e| e.agent == slot);
    if let Some(entry) = entry {
        return Ok(Monitored::Registered(Box::new(
            status(host.as_ref(), entry, window, now).await?,
        )));
    }
    let journal = open_journal(workspace)?;
    let Some(record) = journal.last_attempt_by(slot)? else {
        return Err(AttemptError::NotRunning {
            agent: slot.to_owned(),
        }
        .into());
    };
    let log = PathBuf::from(&record.log);
    let read = said(host.as_ref(), &log, window).await?;
    Ok(Monitored::Ended(Box::new(EndedAttempt {
        agent: record.agent,
        issue: record.issue,
        attempt: record.attempt,
        state: Ended::Ended,
        runtime: record.runtime,
        outcome: record.outcome,
        reason: record.reason,
        branch: record.branch,
        commits_ahead: record.commits_ahead,
        turns: record.turns,
        cost_usd: record.cost_usd.or(read.totals.cost_usd),
        usage: read.totals.usage,
        session_id: read.totals.session_id,
        model: read.totals.model,
        log,
        finished_at: record.finished_at,
        events: read.totals.events,
        latest_events: read.events,
    })))
}

/// How often `follow` looks at the registry and the log again.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Watches the agent in `slot` until it ends, handing each status with only its new events to
/// `each` (the first with the latest `latest`). Returns the last status: its state is
/// `exited` once the process is gone, whether or not its supervisor has let it go already.
pub async fn follow(
    workspace: &Workspace,
    slot: &str,
    latest: usize,
    mut each: impl FnMut(&AgentStatus),
) -> Result<AgentStatus, AttemptError> {
    let registry = open_host(workspace)?;
    let find = || -> Result<Option<RegisteredAgent>, AttemptError> {
        Ok(registry.list()?.into_iter().find(|e| e.agent == slot))
    };
    let entry = find()?.ok_or_else(|| AttemptError::NotRunning {
        agent: slot.to_owned(),
    })?;
    let mut window = EventWindow { from: 0, latest };
    loop {
        // Once its supervisor has classified it and let it go, only its log is left to read.
        let let_go = find()?.as_ref() != Some(&entry);
        let mut status = status(registry.as_ref(), entry.clone(), window, Timestamp::now()).await?;
        if let_go {
            status.state = AgentState::Exited;
        }
        each(&status);
        if status.state == AgentState::Exited {
            return Ok(status);
        }
        window = EventWindow {
            from: status.events,
            latest: usize::MAX,
        };
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Every registered agent, by slot, without events.
pub async fn list_agents(
    workspace: &Workspace,
    now: Timestamp,
) -> Result<Vec<AgentStatus>, AttemptError> {
    let none = EventWindow { from: 0, latest: 0 };
    let mut statuses = Vec::new();
    let host = open_host(workspace)?;
    for entry in host.list()? {
        statuses.push(status(host.as_ref(), entry, none, now).await?);
    }
    Ok(statuses)
}

/// What the agent whose stdout went to `log` has said, as its host tells it.
async fn said(host: &dyn AgentHost, log: &Path, window: EventWindow) -> Result<Said, AttemptError> {
    host.said(log, window)
        .await
        .map_err(|source| AttemptError::Io {
            action: "read the agent's log",
            path: log.to_path_buf(),
            source,
        })
}

async fn status(
    host: &dyn AgentHost,
    entry: RegisteredAgent,
    window: EventWindow,
    now: Timestamp,
) -> Result<AgentStatus, AttemptError> {
    host.refresh(std::slice::from_ref(&entry)).await;
    let Said { totals, events } = said(host, &entry.logs.stdout, window).await?;
    let last_activity = host.last_activity(&entry);
    let state = if host.is_alive(&entry.handle) {
        AgentState::Running
    } else {
        AgentState::Exited
    };
    Ok(AgentStatus {
        uptime_seconds: now.duration_since(entry.started_at).as_secs().max(0),
        agent: entry.agent,
        issue: entry.issue,
        attempt: entry.attempt,
        state,
        pid: host.pid(&entry.handle),
        handle: entry.handle,
        runtime: entry.runtime,
        branch: entry.branch,
        worktree: entry.worktree,
        log: entry.logs.stdout,
        started_at: entry.started_at,
        last_activity,
        turns: totals.turns,
        cost_usd: totals.cost_usd,
        usage: totals.usage,
        session_id: totals.session_id,
        model: totals.model,
        events: totals.events,
        latest_events: events,
        run: host.run_progress(&entry.handle),
    })
}
