//! Pull requests: their branches live in the bare repository, read fresh on every request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{ApiError, parse_body};
use crate::git::MergeTree;
use crate::landing::land;
use crate::pages::{Params, created, paginate};
use crate::render::{self, PullDetails};
use crate::server::App;
use crate::state::{Issue, IssueState, Pull, timestamp};

type PullPath = Path<(String, String, u64)>;

/// Reads the branches of these open pull requests from the bare repository. A pull request
/// whose head branch is gone is closed, and one whose head a push brought into its base is
/// merged, as GitHub does; the latter only while no merge or creation is under way, which
/// decide for themselves.
pub async fn refresh(app: &App, numbers: &[u64]) -> Result<(), ApiError> {
    let open: Vec<(u64, Pull)> = {
        let state = app.lock();
        numbers
            .iter()
            .filter_map(|number| state.issues.get(number))
            .filter(|issue| issue.state == IssueState::Open)
            .filter_map(|issue| Some((issue.number, issue.pull.clone()?)))
            .collect()
    };
    if open.is_empty() {
        return Ok(());
    }
    let branches: HashMap<String, String> = app.repo.refs().await?.into_iter().collect();
    let branch = |name: &str| branches.get(&format!("refs/heads/{name}")).cloned();
    let serial = app.serial.try_lock().ok();
    for (number, before) in open {
        let head = branch(&before.head_ref);
        let base = branch(&before.base_ref);
        let pair = head.clone().zip(base.clone());
        let check = pair.is_some() && pair != before.landing_checked_for && serial.is_some();
        let landed = match &pair {
            Some((head, base)) if check => app.repo.is_ancestor(head, base).await?,
            _ => false,
        };
        {
            let mut state = app.lock();
            let Some(issue) = state.issues.get_mut(&number) else {
                continue;
            };
            let Some(pull) = issue.pull.as_mut() else {
                continue;
            };
            // A merged pull request keeps the base it was reviewed against, as its diff does.
            if let Some(base) = &base
                && !landed
            {
                pull.base_sha = base.clone();
            }
            if check {
                pull.landing_checked_for = pair.clone();
            }
            match &head {
                Some(head) => pull.head_sha = head.clone(),
                None => {
                    let now = timestamp();
                    issue.state = IssueState::Closed;
                    issue.closed_at = Some(now.clone());
                    issue.updated_at = now;
                }
            }
        }
        if let (true, Some(head)) = (landed, &head) {
            land(app, number, head, &before.base_sha).await?;
        }
    }
    Ok(())
}

/// The pull request of that number, or 404 (also for a plain issue).
fn pull_of(app: &App, number: u64) -> Result<Issue, ApiError> {
    let state = app.lock();
    state
        .issues
        .get(&number)
        .filter(|issue| issue.pull.is_some())
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// `mergeable` as GitHub reports it: `null` on the first read after the head or base moved
/// (while it computes), then the computed answer.
async fn mergeable(app: &App, issue: &Issue) -> Result<Option<bool>, ApiError> {
    let pull = issue.pull.as_ref().expect("a pull request");
    if issue.state == IssueState::Closed {
        return Ok(None);
    }
    if let Some((head, base, answer)) = &pull.mergeable_for
        && *head == pull.head_sha
        && *base == pull.base_sha
    {
        return Ok(Some(*answer));
    }
    let answer =
        app.repo.merge_tree(&pull.base_sha, &pull.head_sha).await? != MergeTree::Conflicted;
    let mut state = app.lock();
    if let Some(stored) = state
        .issues
        .get_mut(&issue.number)
        .and_then(|i| i.pull.as_mut())
    {
        stored.mergeable_for = Some((pull.head_sha.clone(), pull.base_sha.clone(), answer));
    }
    Ok(None)
}

/// The full pull request object, after reading its branches afresh.
pub async fn full(app: &App, number: u64) -> Result<serde_json::Value, ApiError> {
    refresh(app, &[number]).await?;
    let issue = pull_of(app, number)?;
    let pull = issue.pull.as_ref().expect("a pull request");
    let (additions, deletions, changed_files) =
        app.repo.diff_stat(&pull.base_sha, &pull.head_sha).await?;
    let details = PullDetails {
        mergeable: mergeable(app, &issue).await?,
        commits: app
            .repo
            .commits_between(&pull.base_sha, &pull.head_sha)
            .await?,
        additions,
        deletions,
        changed_files,
    };
    let default_branch = app.repo.default_branch().await?;
    let state = app.lock();
    let issue = state.issues.get(&number).expect("read above");
    Ok(render::pull(
        app,
        &state,
        issue,
        &default_branch,
        Some(&details),
    ))
}

/// `GET /repos/{owner}/{repo}/pulls/{number}`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path((_, _, number)): PullPath,
) -> Result<Response, ApiError> {
    Ok(Json(full(&app, number).await?).into_response())
}

/// `GET /repos/{owner}/{repo}/pulls` with `state`, `head` (`owner:branch`), `base`, `sort`,
/// `direction` and pagination.
pub async fn list(State(app): State<Arc<App>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::from_uri(&uri);
    let open: Vec<u64> = app
        .lock()
        .issues
        .values()
        .filter(|i| i.pull.is_some())
        .map(|i| i.number)
        .collect();
    refresh(&app, &open).await?;
    let default_branch = app.repo.default_branch().await?;
    let wanted_state = params.get("state").unwrap_or("open");
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::validation("PullRequest", "state", "invalid"));
    }
    let owner = &app.options.owner;
    let head = params.get("head").map(|head| match head.split_once(':') {
        Some((head_owner, branch)) => (head_owner.to_string(), branch.to_string()),
        None => (owner.clone(), head.to_string()),
    });
    let state = app.lock();
    let mut pulls: Vec<&Issue> = state
        .issues
        .values()
        .filter(|issue| wanted_state == "all" || issue.state.as_str() == wanted_state)
        .filter(|issue| {
            issue.pull.as_ref().is_some_and(|pull| {
                head.as_ref()
                    .is_none_or(|(o, b)| o.eq_ignore_ascii_case(owner) && *b == pull.head_ref)
                    && params.get("base").is_none_or(|base| base == pull.base_ref)
            })
        })
        .collect();
    let sort = params.get("sort").unwrap_or("created");
    match sort {
        "created" => pulls.sort_by_key(|issue| (issue.created_at.clone(), issue.number)),
        "updated" => pulls.sort_by_key(|issue| (issue.updated_at.clone(), issue.number)),
        _ => return Err(ApiError::validation("PullRequest", "sort", "invalid")),
    }
    let default_direction = if sort == "created" { "desc" } else { "asc" };
    match params.get("direction").unwrap_or(default_direction) {
        "desc" => pulls.reverse(),
        "asc" => {}
        _ => return Err(ApiError::validation("PullRequest", "direction", "invalid")),
    }
    paginate(&app.api_url, &uri, pulls, |issue| {
        render::pull(&app, &state, issue, &default_branch, None)
    })
}

#[derive(Debug, Deserialize)]
struct NewPull {
    title: Option<String>,
    head: String,
    base: String,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
}

/// `POST /repos/{owner}/{repo}/pulls`: 422 for a missing branch, a branch with no new
/// commits, or a second open pull request with the same head and base.
pub async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let new: NewPull = parse_body(&body)?;
    ApiError::check_body("PullRequest", new.body.as_deref())?;
    let _serial = app.serial.lock().await;
    let title = new.title.filter(|title| !title.is_empty());
    let title =
        title.ok_or_else(|| ApiError::validation("PullRequest", "title", "missing_field"))?;
    let head_ref = match new.head.split_once(':') {
        Some((_, branch)) => branch.to_string(),
        None => new.head.clone(),
    };
    let head = app.repo.branch_sha(&head_ref).await?;
    let head = head.ok_or_else(|| ApiError::validation("PullRequest", "head", "invalid"))?;
    let base = app.repo.branch_sha(&new.base).await?;
    let base = base.ok_or_else(|| ApiError::validation("PullRequest", "base", "invalid"))?;
    let open: Vec<u64> = app.lock().issues.keys().copied().collect();
    refresh(&app, &open).await?;
    let owner = app.options.owner.clone();
    let duplicate = app.lock().issues.values().any(|issue| {
        issue.state == IssueState::Open
            && issue
                .pull
                .as_ref()
                .is_some_and(|p| p.head_ref == head_ref && p.base_ref == new.base)
    });
    if duplicate {
        let message = format!("A pull request already exists for {owner}:{head_ref}.");
        return Err(ApiError::custom_validation("PullRequest", &message));
    }
    if app.repo.commits_between(&base, &head).await? == 0 {
        let message = format!("No commits between {} and {head_ref}", new.base);
        return Err(ApiError::custom_validation("PullRequest", &message));
    }
    let number = {
        let mut state = app.lock();
        let now = timestamp();
        let number = state.take_number();
        let pull = Pull {
            id: state.take_id(),
            head_ref,
            base_ref: new.base,
            head_sha: head,
            base_sha: base,
            draft: new.draft,
            merged_at: None,
            merge_commit_sha: None,
            merged_by: None,
            mergeable_for: None,
            landing_checked_for: None,
        };
        let issue = Issue {
            id: state.take_id(),
            number,
            title,
            body: new.body,
            state: IssueState::Open,
            state_reason: None,
            labels: Vec::new(),
            assignees: Vec::new(),
            author: app.options.login.clone(),
            author_association: app.options.association.clone(),
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            closed_by: None,
            comments: 0,
            locked: false,
            pull: Some(pull),
        };
        state.issues.insert(number, issue);
        number
    };
    Ok(created(&full(&app, number).await?))
}

#[derive(Debug, Deserialize)]
struct PullPatch {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    base: Option<String>,
}

/// `PATCH /repos/{owner}/{repo}/pulls/{number}`: title, body, state and base.
pub async fn update(
    State(app): State<Arc<App>>,
    Path((_, _, number)): PullPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch: PullPatch = parse_body(&body)?;
    ApiError::check_body("PullRequest", patch.body.as_deref())?;
    if !matches!(patch.state.as_deref(), None | Some("open" | "closed")) {
        return Err(ApiError::validation("PullRequest", "state", "invalid"));
    }
    refresh(&app, &[number]).await?;
    let current = pull_of(&app, number)?;
    let merged = current
        .pull
        .as_ref()
        .is_some_and(|pull| pull.merged_at.is_some());
    if patch.state.as_deref() == Some("open") && current.state == IssueState::Closed && merged {
        return Err(ApiError::custom_validation(
            "PullRequest",
            "state cannot be changed. The pull request cannot be reopened.",
        ));
    }
    let base_sha = match &patch.base {
        Some(base) => Some(
            app.repo
                .branch_sha(base)
                .await?
                .ok_or_else(|| ApiError::validation("PullRequest", "base", "invalid"))?,
        ),
        None => None,
    };
    {
        let mut state = app.lock();
        let issue = state.issues.get_mut(&number).expect("checked above");
        if let Some(title) = patch.title {
            issue.title = title;
        }
        if let Some(body) = patch.body {
            issue.body = Some(body);
        }
        match patch.state.as_deref() {
            Some("closed") if issue.state == IssueState::Open => {
                issue.state = IssueState::Closed;
                issue.closed_at = Some(timestamp());
            }
            Some("open") if issue.state == IssueState::Closed => {
                issue.state = IssueState::Open;
                issue.closed_at = None;
            }
            _ => {}
        }
        let pull = issue.pull.as_mut().expect("a pull request");
        if let (Some(base), Some(sha)) = (patch.base, base_sha) {
            pull.base_ref = base;
            pull.base_sha = sha;
        }
        issue.updated_at = timestamp();
    }
    Ok(Json(full(&app, number).await?).into_response())
}
