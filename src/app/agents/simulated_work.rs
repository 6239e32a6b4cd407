//! Which work the simulated agent made, read from the attempts recorded with it (never guessed
//! from the work itself), so that its pull requests, comments and the run can say so.

use std::path::Path;

use crate::app::{AppResult, compose};
use crate::core::config::{AgentRuntimeKind, AgentsConfig, TransitionLogging};
use crate::ports::journal::AttemptLog;

/// Whether a simulated attempt left work on `issue`: its branch then holds simulated commits,
/// whatever real attempts added since.
pub fn simulated_issue(attempts: &dyn AttemptLog, issue: u64) -> AppResult<bool> {
    Ok(attempts
        .attempts(issue)?
        .iter()
        .any(|a| a.simulated() && a.commits_ahead > 0))
}

/// Those of `issues` that hold simulated work, by the journal in `state_dir`.
pub fn simulated_issues(state_dir: &Path, issues: &[u64]) -> AppResult<Vec<u64>> {
    let journal = compose::journal(
        &state_dir.join(compose::JOURNAL_DATABASE),
        TransitionLogging::default(),
    )?;
    let mut simulated = Vec::new();
    for issue in issues {
        if simulated_issue(&journal, *issue)? {
            simulated.push(*issue);
        }
    }
    Ok(simulated)
}

/// Whether this configuration runs only the simulated agent.
pub fn agents_are_simulated(config: &AgentsConfig) -> bool {
    !config.real_processes || config.runtime == AgentRuntimeKind::Simulated
}
