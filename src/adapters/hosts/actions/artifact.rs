//! The end of a remote attempt: the artifact its run uploaded (the agent's events, its stderr
//! and `exit.json`) written into the attempt's local log files, where `monitor`, `history` and
//! the verdict read them as for a local attempt, and the report made from them.

use crate::adapters::hosts::local::said;
use crate::core::agents::outcome::{ExitStatus, Termination};
use crate::core::agents::remote::{EVENTS_FILE, EXIT_FILE, RemoteExit, STDERR_FILE, artifact_name};
use crate::ports::actions::{Actions, ArtifactFile, Conclusion, WorkflowRun};
use crate::ports::agent::LogFiles;
use crate::ports::agent_host::{AttemptReport, EventWindow, RunProgress};
use crate::ports::agent_registry::RegisteredAgent;

use super::follow::Followed;

/// Reads the attempt's artifact (one request) into its logs and judges how the run ended.
pub async fn report(
    actions: &dyn Actions,
    agent: &RegisteredAgent,
    followed: &mut Followed,
) -> std::io::Result<AttemptReport> {
    let progress: &mut RunProgress = &mut followed.progress;
    progress.requests += 1;
    let name = artifact_name(agent.issue, agent.attempt);
    let files = match actions.artifact(progress.run_id, &name).await {
        Ok(files) => files.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(run_id = progress.run_id, %error, "could not read the agent's artifact");
            Vec::new()
        }
    };
    tracing::info!(
        agent = %agent.agent,
        run_id = progress.run_id,
        requests = progress.requests,
        "remote attempt ended"
    );
    let exit = write_logs(&agent.logs, &files).await?;
    if let Some(error) = exit.as_ref().and_then(|e| e.error.as_deref()) {
        tracing::warn!(agent = %agent.agent, %error, "the runner's side of the attempt failed");
    }
    let nothing = EventWindow { from: 0, latest: 0 };
    let conclusion = followed
        .run
        .as_ref()
        .and_then(|run: &WorkflowRun| run.conclusion);
    Ok(AttemptReport {
        exit: exit
            .as_ref()
            .and_then(|e| e.exit)
            .unwrap_or(ExitStatus::Unknown),
        terminated: followed
            .terminated
            .or(exit.as_ref().and_then(|e| e.terminated))
            .or(match conclusion {
                Some(Conclusion::TimedOut) => Some(Termination::Timeout),
                Some(Conclusion::Cancelled) => Some(Termination::Requested),
                _ => None,
            }),
        totals: said::read(&agent.logs.stdout, nothing).await?.totals,
        last_event_at: progress.last_activity,
        exited_at: tokio::time::Instant::now(),
        strays: Vec::new(),
    })
}

/// Writes the artifact's events and stderr over the attempt's logs, and reads its
/// `exit.json`: `None` if the run uploaded none (it never got that far) or it cannot be read.
async fn write_logs(
    logs: &LogFiles,
    files: &[ArtifactFile],
) -> std::io::Result<Option<RemoteExit>> {
    let file = |name: &str| {
        files
            .iter()
            .find(|f| f.path == name || f.path.ends_with(&format!("/{name}")))
    };
    for (name, path) in [(EVENTS_FILE, &logs.stdout), (STDERR_FILE, &logs.stderr)] {
        if let Some(found) = file(name) {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(path, &found.contents).await?;
        }
    }
    Ok(
        file(EXIT_FILE).and_then(|f| match serde_json::from_slice(&f.contents) {
            Ok(exit) => Some(exit),
            Err(error) => {
                tracing::warn!(%error, "the attempt's exit.json does not read");
                None
            }
        }),
    )
}
