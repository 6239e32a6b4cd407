//! The JSON shapes of GitHub's objects (users, repositories, labels, issues, comments, pull
//! requests), with every field the OpenAPI description requires.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::server::App;
use crate::state::{Comment, Issue, IssueState, Label, State};

/// A stable database id for a login.
fn user_id(login: &str) -> u64 {
    let digest = Sha256::digest(login.as_bytes());
    u64::from(u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) >> 8) + 1
}

pub fn user(app: &App, login: &str) -> Value {
    let api = &app.api_url;
    let id = user_id(login);
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_fake{id}"),
        "avatar_url": format!("{api}/avatars/{login}"),
        "gravatar_id": "",
        "url": format!("{api}/users/{login}"),
        "html_url": format!("{api}/{login}"),
        "followers_url": format!("{api}/users/{login}/followers"),
        "following_url": format!("{api}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{api}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/users/{login}/subscriptions"),
        "organizations_url": format!("{api}/users/{login}/orgs"),
        "repos_url": format!("{api}/users/{login}/repos"),
        "events_url": format!("{api}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{api}/users/{login}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The base URL of the repository's API, `{api}/repos/{owner}/{repo}`.
pub fn repo_url(app: &App) -> String {
    format!(
        "{}/repos/{}/{}",
        app.api_url, app.options.owner, app.options.repo
    )
}

pub fn html_repo_url(app: &App) -> String {
    format!("{}/{}/{}", app.api_url, app.options.owner, app.options.repo)
}

/// The permissions GitHub grants for an association with the repository.
fn permissions(association: &str) -> Value {
    let (admin, push) = match association {
        "OWNER" => (true, true),
        "MEMBER" | "COLLABORATOR" => (false, true),
        _ => (false, false),
    };
    json!({ "admin": admin, "maintain": admin, "push": push, "triage": push, "pull": true })
}

pub fn repository(app: &App, state: &State, default_branch: &str) -> Value {
    let url = repo_url(app);
    let html = html_repo_url(app);
    let options = &app.options;
    let open = state
        .issues
        .values()
        .filter(|issue| issue.state == IssueState::Open)
        .count();
    let mut repository = json!({
        "id": user_id(&format!("{}/{}", options.owner, options.repo)),
        "node_id": "R_fake",
        "name": options.repo,
        "full_name": format!("{}/{}", options.owner, options.repo),
        "owner": user(app, &options.owner),
        "private": true,
        "visibility": "private",
        "html_url": html,
        "description": null,
        "fork": false,
        "url": url,
        "clone_url": format!("file://{}", app.repo.path().display()),
        "git_url": format!("file://{}", app.repo.path().display()),
        "ssh_url": format!("file://{}", app.repo.path().display()),
        "svn_url": html,
        "mirror_url": null,
        "homepage": null,
        "language": null,
        "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0,
        "watchers_count": 0, "size": 0, "network_count": 0, "subscribers_count": 0,
        "default_branch": default_branch,
        "open_issues": open,
        "open_issues_count": open,
        "is_template": false,
        "topics": [],
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
        "has_downloads": false, "has_discussions": false,
        "archived": false,
        "disabled": false,
        "license": null,
        "pushed_at": "2026-01-01T00:00:00Z",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "permissions": permissions(&options.association),
        "allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": false,
        "allow_auto_merge": false, "delete_branch_on_merge": false,
    });
    for (name, path) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        repository[name] = Value::String(format!("{url}{path}"));
    }
    repository
}

pub fn label(app: &App, label: &Label) -> Value {
    json!({
        "id": label.id,
        "node_id": format!("LA_fake{}", label.id),
        "url": format!("{}/labels/{}", repo_url(app), encode(&label.name)),
        "name": label.name,
        "description": label.description,
        "color": label.color,
        "default": false,
    })
}

/// The labels of an issue, as full label objects.
pub fn issue_labels(app: &App, state: &State, issue: &Issue) -> Value {
    issue
        .labels
        .iter()
        .filter_map(|name| state.label(name))
        .map(|l| label(app, l))
        .collect()
}

fn users(app: &App, logins: &[String]) -> Value {
    logins.iter().map(|login| user(app, login)).collect()
}

pub fn issue(app: &App, state: &State, issue: &Issue) -> Value {
    let url = format!("{}/issues/{}", repo_url(app), issue.number);
    let html_kind = if issue.pull.is_some() {
        "pull"
    } else {
        "issues"
    };
    let mut value = json!({
        "id": issue.id,
        "node_id": format!("I_fake{}", issue.id),
        "url": url,
        "repository_url": repo_url(app),
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "timeline_url": format!("{url}/timeline"),
        "html_url": format!("{}/{html_kind}/{}", html_repo_url(app), issue.number),
        "number": issue.number,
        "state": issue.state.as_str(),
        "state_reason": issue.state_reason,
        "title": issue.title,
        "body": issue.body,
        "user": user(app, &issue.author),
        "labels": issue_labels(app, state, issue),
        "assignee": issue.assignees.first().map(|login| user(app, login)),
        "assignees": users(app, &issue.assignees),
        "milestone": null,
        "locked": issue.locked,
        "active_lock_reason": null,
        "comments": issue.comments,
        "closed_at": issue.closed_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_by": issue.closed_by.as_ref().map(|login| user(app, login)),
        "author_association": issue.author_association,
    });
    if issue.pull.is_none() {
        value["issue_dependencies_summary"] = crate::dependencies::summary(state, issue.number);
    }
    if let Some(pull) = &issue.pull {
        let pull_url = format!("{}/pulls/{}", repo_url(app), issue.number);
        let html = format!("{}/pull/{}", html_repo_url(app), issue.number);
        value["draft"] = json!(pull.draft);
        value["pull_request"] = json!({
            "url": pull_url,
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": pull.merged_at,
        });
    }
    value
}

pub fn comment(app: &App, comment: &Comment) -> Value {
    let url = format!("{}/issues/comments/{}", repo_url(app), comment.id);
    json!({
        "id": comment.id,
        "node_id": format!("IC_fake{}", comment.id),
        "url": url,
        "html_url": format!("{}/issues/{}#issuecomment-{}", html_repo_url(app), comment.issue, comment.id),
        "issue_url": format!("{}/issues/{}", repo_url(app), comment.issue),
        "body": comment.body,
        "user": user(app, &comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": comment.author_association,
    })
}

/// Figures only the full pull request object carries, read from git.
#[derive(Debug, Clone, Default)]
pub struct PullDetails {
    pub mergeable: Option<bool>,
    pub commits: u64,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
}

/// A pull request: the listing's shape, or with `details` the full one.
pub fn pull(
    app: &App,
    state: &State,
    issue: &Issue,
    default_branch: &str,
    details: Option<&PullDetails>,
) -> Value {
    let pull = issue.pull.as_ref().expect("pull: not a pull request");
    let url = format!("{}/pulls/{}", repo_url(app), issue.number);
    let issue_url = format!("{}/issues/{}", repo_url(app), issue.number);
    let html = format!("{}/pull/{}", html_repo_url(app), issue.number);
    let statuses = format!("{}/statuses/{}", repo_url(app), pull.head_sha);
    let owner = &app.options.owner;
    let repository = repository(app, state, default_branch);
    let side = |branch: &str, sha: &str| {
        json!({
            "label": format!("{owner}:{branch}"),
            "ref": branch,
            "sha": sha,
            "user": user(app, owner),
            "repo": repository,
        })
    };
    let href = |href: String| json!({ "href": href });
    let mut value = json!({
        "url": url,
        "id": pull.id,
        "node_id": format!("PR_fake{}", pull.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_url,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", repo_url(app)),
        "comments_url": format!("{issue_url}/comments"),
        "statuses_url": statuses,
        "number": issue.number,
        "state": issue.state.as_str(),
        "locked": issue.locked,
        "title": issue.title,
        "user": user(app, &issue.author),
        "body": issue.body,
        "labels": issue_labels(app, state, issue),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": issue.assignees.first().map(|login| user(app, login)),
        "assignees": users(app, &issue.assignees),
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(&pull.head_ref, &pull.head_sha),
        "base": side(&pull.base_ref, &pull.base_sha),
        "_links": {
            "self": href(url.clone()),
            "html": href(html.clone()),
            "issue": href(issue_url.clone()),
            "comments": href(format!("{issue_url}/comments")),
            "review_comments": href(format!("{url}/comments")),
            "review_comment": href(format!("{}/pulls/comments{{/number}}", repo_url(app))),
            "commits": href(format!("{url}/commits")),
            "statuses": href(statuses),
        },
        "author_association": issue.author_association,
        "auto_merge": null,
        "draft": pull.draft,
    });
    if let Some(details) = details {
        let merged = pull.merged_at.is_some();
        let mergeable_state = match (issue.state, details.mergeable) {
            (IssueState::Closed, _) | (_, None) => "unknown",
            (_, Some(true)) => "clean",
            (_, Some(false)) => "dirty",
        };
        value["merged"] = json!(merged);
        value["mergeable"] = json!(details.mergeable);
        value["rebaseable"] = json!(details.mergeable);
        value["mergeable_state"] = json!(mergeable_state);
        value["merged_by"] = json!(pull.merged_by.as_ref().map(|login| user(app, login)));
        value["comments"] = json!(issue.comments);
        value["review_comments"] = json!(0);
        value["maintainer_can_modify"] = json!(false);
        value["commits"] = json!(details.commits);
        value["additions"] = json!(details.additions);
        value["deletions"] = json!(details.deletions);
        value["changed_files"] = json!(details.changed_files);
    }
    value
}

/// Percent-encodes a path segment such as a label name.
pub fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
