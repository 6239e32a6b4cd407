//! Merging a pull request with GitHub's compare-and-swap on its head (`sha`), and reading back
//! what the merge closed.

use ::http::{Method, StatusCode};
use jiff::Timestamp;
use serde_json::json;

use super::GithubForge;
use super::errors::{Subject, refusal};
use super::http::{Request, backoff};
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::{Merged, WireIssue, WirePull};
use crate::core::text::closing::closed_issues;
use crate::ports::Forge;
use crate::ports::forge::{
    ForgeError, ForgeResult, MergeOutcome, Number, PullRequest, PullRequestState,
};

/// Reads of a pull request whose `mergeable` GitHub is still working out, before giving up.
const MERGEABLE_POLLS: u32 = 4;
/// Reads of a done merge's outcome (each retried as any read is) before reporting a failure.
const OUTCOME_TRIES: u32 = 3;

/// The merge commit's message: ours alone. GitHub's default carries the pull request's title
/// and body, somebody else's words, and closing keywords in commit messages that reach the
/// default branch close issues.
const MERGE_MESSAGE: &str = "Merged by Clambake.";

/// What GitHub says of merging a pull request it refused to merge.
enum Mergeability {
    Merged(Box<WirePull>),
    Clean,
    Conflicting,
    /// Still working it out.
    Unknown,
}

/// Whether `pull` is merged at the head `sha`; merged at another, `head_moved`: someone
/// merged a head we were not asked to.
fn merged_at(pull: &WirePull, sha: &str, head_moved: &dyn Fn() -> ForgeError) -> ForgeResult<bool> {
    match &pull.merged_at {
        None => Ok(false),
        Some(_) if pull.head.sha.as_deref() == Some(sha) => Ok(true),
        Some(_) => Err(head_moved()),
    }
}

impl GithubForge {
    /// Merges with a merge commit, if the head is still `expected_head` (or, without one,
    /// the head read just before): GitHub's `sha` makes the merge a compare-and-swap.
    pub(super) async fn merge(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome> {
        let pull = PullRequest::from(self.read_pull(number).await?);
        if pull.state != PullRequestState::Open {
            return Err(ForgeError::NotOpen {
                number,
                state: pull.state.as_str(),
            });
        }
        // Read before merging: what fails after the merge leaves it done but unreported.
        let default_branch = self.default_branch().await?;
        let head_moved = || ForgeError::HeadMoved {
            number,
            branch: pull.head.clone(),
        };
        // GitHub compares the `sha` itself (409 if the head is elsewhere), so an expected head
        // that is already stale is refused by the same path as one that moves meanwhile.
        let Some(sha) = expected_head.or(pull.head_sha.as_deref()) else {
            return Err(ForgeError::NoSuchBranch(pull.head.clone()));
        };
        let url = self.repo_url(&["pulls", &number.to_string(), "merge"], &[]);
        let body = json!({
            "sha": sha,
            "merge_method": "merge",
            "commit_title": format!("Merge pull request #{number} from {}", pull.head),
            "commit_message": MERGE_MESSAGE,
        });
        let request = Request::new(Method::PUT, url, Some(body));
        // A merge whose answer was lost is found merged at `sha`; one that was not is tried
        // again with the same `sha`, which cannot merge anything else. Merged at another head,
        // it is someone else's merge of a newer head, not ours.
        let made = move || async move {
            let pull = self.read_pull(number).await?;
            Ok(merged_at(&pull, sha, &head_moved)?.then_some(None))
        };
        let mut waited_for_mergeable = false;
        loop {
            let answer = self
                .http
                .send_unrepeated(&request, &made, |reply| Ok(Some(reply)))
                .await?;
            let Some(reply) = answer else { break };
            match reply.status {
                status if status.is_success() => {
                    if reply.json::<Merged>()?.merged {
                        break;
                    }
                    return Err(ForgeError::Conflict(reply.message()));
                }
                StatusCode::CONFLICT => return Err(head_moved()),
                StatusCode::METHOD_NOT_ALLOWED => match self.mergeability(number).await? {
                    Mergeability::Merged(pull) => {
                        merged_at(&pull, sha, &head_moved)?;
                        break;
                    }
                    Mergeability::Conflicting => {
                        return Err(ForgeError::MergeConflict {
                            number,
                            base: pull.base.clone(),
                            paths: Vec::new(),
                        });
                    }
                    // Refused while GitHub was still working it out: once more, now it knows.
                    Mergeability::Clean if !waited_for_mergeable => waited_for_mergeable = true,
                    // Mergeable, and refused all the same: a protected branch's rules.
                    Mergeability::Clean => return Err(ForgeError::Conflict(reply.message())),
                    Mergeability::Unknown => {
                        return Err(ForgeError::Transient(format!(
                            "GitHub is still working out whether pull request #{number} merges"
                        )));
                    }
                },
                _ => return Err(refusal(&reply, Subject::PullRequest(number))),
            }
        }
        // The merge is done: reporting it failed because a read after it failed in passing
        // would have it merged again, and refused as not open.
        for _ in 1..OUTCOME_TRIES {
            match self.merge_outcome(number, &default_branch).await {
                Err(ForgeError::Transient(_)) => {}
                outcome => return outcome,
            }
        }
        self.merge_outcome(number, &default_branch).await
    }

    /// Whether the pull request can be merged, reading it again while GitHub works it out.
    async fn mergeability(&self, number: Number) -> ForgeResult<Mergeability> {
        for poll in 0..MERGEABLE_POLLS {
            if poll > 0 {
                tokio::time::sleep(backoff(poll)).await;
            }
            let pull = self.read_pull(number).await?;
            if pull.merged_at.is_some() {
                return Ok(Mergeability::Merged(Box::new(pull)));
            }
            match pull.mergeable {
                Some(true) => return Ok(Mergeability::Clean),
                Some(false) => return Ok(Mergeability::Conflicting),
                None => {}
            }
        }
        Ok(Mergeability::Unknown)
    }

    /// The merged pull request, and the issues its closing keywords named that GitHub closed
    /// with the merge (those it closed when it merged into the default branch).
    async fn merge_outcome(
        &self,
        number: Number,
        default_branch: &str,
    ) -> ForgeResult<MergeOutcome> {
        let pull = PullRequest::from(self.read_pull(number).await?);
        let named = if pull.base == default_branch {
            closed_issues(&pull.body)
        } else {
            Vec::new()
        };
        let closed = match pull.merged_at {
            Some(merged_at) if !named.is_empty() => self.closed_since(&named, merged_at).await?,
            _ => Vec::new(),
        };
        Ok(MergeOutcome {
            pull_request: pull,
            closed_issues: closed,
        })
    }

    /// Those of `named` that were closed at `since` or later, in the order of `named`: one
    /// listing of recently changed closed issues rather than a read per issue.
    async fn closed_since(&self, named: &[Number], since: Timestamp) -> ForgeResult<Vec<Number>> {
        let since_text = since.to_string();
        let url = self.repo_url(
            &["issues"],
            &[
                ("state", "closed"),
                ("since", &since_text),
                ("per_page", PER_PAGE_TEXT),
            ],
        );
        let items: Vec<WireIssue> = listing::all(&self.http, url, Subject::Repository).await?;
        let closed: Vec<Number> = items
            .into_iter()
            .filter(|item| !item.is_pull_request())
            .map(crate::ports::forge::Issue::from)
            .filter(|issue| issue.closed_at.is_some_and(|at| at >= since))
            .map(|issue| issue.number)
            .collect();
        Ok(named
            .iter()
            .copied()
            .filter(|number| closed.contains(number))
            .collect())
    }
}
