//! `terminate`: stop a running agent, whichever Clambake process supervises it.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::app::Workspace;
use crate::app::agents::attempt::{AttemptError, open_host};
use crate::ports::agent_host::{AgentHandle, Stopped};

#[derive(Debug, Clone, Serialize)]
pub struct TerminateReport {
    pub agent: String,
    pub issue: u64,
    pub pid: u32,
    /// The workflow run cancelled, for an attempt on GitHub Actions.
    pub run: Option<u64>,
    pub stopped: Stopped,
}

/// SIGTERM to the agent in `slot`, `grace` to end, then SIGKILL; for an attempt on GitHub
/// Actions, its run cancelled. Its supervisor sees it end and classifies the attempt (as
/// killed, unless it had already finished its work).
pub async fn terminate(
    workspace: &Workspace,
    slot: &str,
    grace: Duration,
) -> Result<TerminateReport, AttemptError> {
    let not_running = || AttemptError::NotRunning {
        agent: slot.to_owned(),
    };
    let host = open_host(workspace)?;
    let entry = host
        .list()?
        .into_iter()
        .find(|e| e.agent == slot)
        .ok_or_else(not_running)?;
    host.refresh(std::slice::from_ref(&entry)).await;
    if !host.is_alive(&entry.handle) {
        // It ended on its own: a request left now would count its finished work as killed.
        return Err(not_running());
    }
    // Whoever supervises the agent reads this when it ends, and counts the attempt as killed.
    let request = entry.logs.stop_request();
    // A run on GitHub Actions has written no log here yet, nor made its directory.
    let directory = request.parent().map_or(Ok(()), std::fs::create_dir_all);
    let written = directory.and_then(|()| std::fs::write(&request, Timestamp::now().to_string()));
    written.map_err(|source| AttemptError::Io {
        action: "record the request to stop",
        path: request.clone(),
        source,
    })?;
    let pid = host.pid(&entry.handle);
    let stopped = host.stop(&entry, grace).await;
    if stopped == Stopped::AlreadyGone {
        // It ended between the check and the request: not by this request.
        let _ = std::fs::remove_file(&request);
        return Err(not_running());
    }
    Ok(TerminateReport {
        agent: entry.agent,
        issue: entry.issue,
        pid,
        run: match entry.handle {
            AgentHandle::Actions { run_id } => Some(run_id),
            AgentHandle::Local { .. } => None,
        },
        stopped,
    })
}
