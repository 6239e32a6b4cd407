//! An attempt run on a GitHub Actions runner, as its two sides agree on it: the inputs the
//! agent workflow is dispatched with, the artifact the runner's side uploads, and the
//! `exit.json` in it that says how the attempt ended there.

use serde::{Deserialize, Serialize};

use super::outcome::{ExitStatus, Termination};

/// The agent workflow's inputs, besides the dispatch key.
pub const INPUT_ISSUE: &str = "issue";
pub const INPUT_SLOT: &str = "slot";
pub const INPUT_BRANCH: &str = "branch";
pub const INPUT_ATTEMPT: &str = "attempt";
pub const INPUT_CLAIM: &str = "claim";

/// The directory the runner's side writes into, uploaded as the attempt's artifact.
pub const OUT_DIR: &str = "clambake-agent-out";
/// In it: the agent's stdout, as a local attempt's `.jsonl` log.
pub const EVENTS_FILE: &str = "events.jsonl";
/// In it: the agent's stderr.
pub const STDERR_FILE: &str = "stderr.log";
/// In it: how the attempt ended, a [`RemoteExit`].
pub const EXIT_FILE: &str = "exit.json";

/// The name of the artifact of `issue`'s attempt `attempt`.
pub fn artifact_name(issue: u64, attempt: u32) -> String {
    format!("clambake-agent-{issue}-{attempt}")
}

/// How an attempt ended on the runner, written there to [`EXIT_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteExit {
    /// How the agent's process ended; `None` if it never started (see `error`).
    pub exit: Option<ExitStatus>,
    /// Why the runner's side stopped it, if it did (its stall or time limit).
    pub terminated: Option<Termination>,
    /// Whether Clambake committed work the agent left uncommitted.
    pub committed_leftovers: bool,
    /// The branch's tip as pushed to origin; `None` if nothing was pushed.
    pub pushed_head: Option<String>,
    /// What went wrong on the runner's side before or after the agent ran, if anything.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_reads_back_as_written() {
        let exit = RemoteExit {
            exit: Some(ExitStatus::Code(0)),
            terminated: None,
            committed_leftovers: true,
            pushed_head: Some("0123abcd".to_owned()),
            error: None,
        };
        let text = serde_json::to_string(&exit).unwrap();
        assert_eq!(serde_json::from_str::<RemoteExit>(&text).unwrap(), exit);
        assert_eq!(artifact_name(7, 2), "clambake-agent-7-2");
    }
}
