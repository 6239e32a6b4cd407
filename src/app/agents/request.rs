//! What the next attempt at an issue is about: its number (past every earlier one), the issue
//! as the forge has it now, the session it continues, and the limits it runs under.

use std::path::Path;
use std::time::Duration;

use crate::app::Workspace;
use crate::app::agents::attempt::{AttemptError, AttemptRequest, LOGS_DIR};
use crate::app::agents::review_feedback;
use crate::app::agents::work_checks::earlier_failure;
use crate::app::queue::claim::Claimed;
use crate::core::agents::outcome::Outcome;
use crate::core::agents::prompt::{
    PromptComment, PromptInput, build_checks_retry_prompt, build_prompt, build_resume_prompt,
};
use crate::core::agents::retry::continues_session;
use crate::core::config::PromptComments;
use crate::ports::Forge;
use crate::ports::agent_host::Limits;
use crate::ports::forge::{PullRequestFilter, PullRequestState};
use crate::ports::journal::AttemptRecord;

/// Limits from the configuration's minutes and seconds.
pub fn limits_from(config: &crate::core::config::AgentsConfig) -> Limits {
    Limits {
        stall: Duration::from_secs(u64::from(config.stall_timeout_minutes) * 60),
        timeout: Duration::from_secs(u64::from(config.timeout_minutes) * 60),
        grace: Duration::from_secs(u64::from(config.terminate_grace_seconds)),
        budget: None,
    }
}

/// The next attempt of `agent` at the issue it `claimed`, with the issue's title and body as
/// just read (by the claim, or the listing that found it claimed) and the comments
/// `comments_from` admits as the forge has them now (none listed if it had none when read).
/// `earlier` are the issue's attempts the journal recorded: the new number is past them and
/// every logged attempt, so no two attempts share a number, and the last one's session is
/// continued if it ended unfinished ([`continues_session`]). It is at least `claimed.attempt`, the
/// attempt the issue's claim counts over every orchestrator (0 when it counts none).
pub async fn request_for(
    workspace: &Workspace,
    forge: &dyn Forge,
    agent: &str,
    claimed: &Claimed,
    base: &str,
    earlier: &[AttemptRecord],
    comments_from: PromptComments,
) -> crate::app::AppResult<AttemptRequest> {
    let recorded = earlier.iter().map(|a| a.attempt).max().unwrap_or(0);
    let last = earlier.iter().max_by_key(|a| a.attempt);
    let resume_session = last
        .filter(|last| continues_session(&last.outcome))
        .and_then(|last| last.session_id.clone());
    let checks_failure = last
        .filter(|last| last.outcome == Outcome::ChecksFailed.as_str())
        .and_then(|last| earlier_failure(Path::new(&last.log)));
    let found = &claimed.issue;
    let issue = found.number;
    // An issue that had no comments when it was read has none to list.
    let thread = if found.comments == 0 {
        Vec::new()
    } else {
        forge.comments(issue).await?
    };
    let thread = thread.into_iter().map(|c| {
        let trusted = c.author_association.is_trusted();
        let comment = PromptComment {
            author: c.author,
            body: c.body,
        };
        (comment, trusted)
    });
    let (comments, comments_left_out) = comments_from.select(thread);
    let attempt = next_attempt(&workspace.state_dir().join(LOGS_DIR), agent, issue)?
        .max(recorded + 1)
        .max(claimed.attempt);
    let pull_request_heads = forge
        .pull_requests(&PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        })
        .await?
        .into_iter()
        .map(|pr| pr.head)
        .collect();
    Ok(AttemptRequest {
        agent: agent.to_owned(),
        issue,
        title: found.title.clone(),
        body: found.body.clone(),
        comments,
        comments_left_out,
        attempt,
        base: base.to_owned(),
        pull_request_heads,
        resume_session,
        checks_failure,
        review_feedback: review_feedback::pending(&workspace.state_dir(), issue, earlier)?,
    })
}

impl AttemptRequest {
    /// The prompt of this attempt on `branch`: a continued session (`resumes`) is told only
    /// what its conversation lacks.
    pub fn prompt(&self, branch: &str, resumes: bool) -> String {
        match (resumes, &self.checks_failure) {
            (true, Some(failure)) => build_checks_retry_prompt(self.issue, branch, failure),
            (true, None) => build_resume_prompt(self.issue, branch),
            (false, _) => build_prompt(&PromptInput {
                issue: self.issue,
                title: self.title.clone(),
                body: self.body.clone(),
                comments: self.comments.clone(),
                comments_left_out: self.comments_left_out,
                branch: branch.to_owned(),
                checks_failure: self.checks_failure.clone(),
                review_feedback: self.review_feedback.clone(),
            }),
        }
    }
}

/// One more than the attempts already logged for this agent and issue.
pub fn next_attempt(logs: &Path, agent: &str, issue: u64) -> Result<u32, AttemptError> {
    let prefix = format!("{agent}-{issue}-");
    let entries = match std::fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(source) => {
            return Err(AttemptError::Io {
                action: "list",
                path: logs.to_path_buf(),
                source,
            });
        }
    };
    let done = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?
                .strip_suffix(".jsonl")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    Ok(done + 1)
}
