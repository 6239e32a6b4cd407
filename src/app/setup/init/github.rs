//! `init --backend github`: the repository (from origin's URL unless named), the token and
//! its permissions, checked before anything is written, then the file, the label set on
//! GitHub and Clambake's GitHub Actions workflows.

use serde::Serialize;
use serde_json::Value;

use super::{Change, InitReport, ensure_labels, prepare_state, write_config};
use crate::app::setup::workflows;
use crate::app::{AppError, AppResult, Workspace, compose};
use crate::core::config::{GithubConfig, GithubRemote};
use crate::core::queue::slots::slot_count;
use crate::ports::credentials::{RepositoryAccess, TokenSource};

/// What the command line names, each overriding what origin's URL says.
#[derive(Debug, Clone, Default)]
pub struct GithubTarget {
    pub owner: Option<String>,
    pub repo: Option<String>,
    pub api_url: Option<String>,
}

/// The repository set up, and who the token is (never the token).
#[derive(Debug, Clone, Serialize)]
pub struct GithubReport {
    pub owner: String,
    pub repo: String,
    pub api_url: String,
    pub login: String,
    pub token_source: TokenSource,
    /// The strongest permission the token has: admin, maintain or push.
    pub permission: &'static str,
}

/// Sets the repository up on GitHub; running it again changes nothing.
pub async fn init_github(
    workspace: &Workspace,
    agents: Option<u32>,
    target: &GithubTarget,
) -> AppResult<InitReport> {
    workspace.require_commits().await?;
    let github = resolve(workspace, target).await?;
    let token = compose::github_token(&github.api_url).await?;
    let backend = compose::github(&github, &token)?;
    let access = backend.access().await?;
    let permission = strongest(&access);
    if !matches!(permission, "admin" | "maintain" | "push") {
        return Err(AppError::CannotPush {
            login: access.login,
            repository: format!("{}/{}", github.owner, github.repo),
            has: match permission {
                "none" => "no permission on it".to_owned(),
                weaker => format!("only the {weaker} permission"),
            },
        });
    }

    let settings = [
        ("forge.backend", Value::from("github")),
        ("github.owner", Value::from(github.owner.as_str())),
        ("github.repo", Value::from(github.repo.as_str())),
        ("github.api_url", Value::from(github.api_url.as_str())),
    ];
    let config = write_config(workspace, &settings, agents)?;
    let (loaded, state_dir, gitignore) = prepare_state(workspace)?;
    let labels = ensure_labels(backend.forge().as_ref(), slot_count(&loaded.config)).await?;
    let workflows = workflows::install(workspace, &workflows::wanted(&loaded.config))?;
    Ok(InitReport {
        root: workspace.root.display().to_string(),
        config,
        state_dir,
        gitignore,
        forge: Change::Unchanged,
        labels,
        github: Some(GithubReport {
            owner: github.owner,
            repo: github.repo,
            api_url: github.api_url,
            login: access.login,
            token_source: token.source,
            permission,
        }),
        workflows,
    })
}

/// The repository: each part as named, else as origin's URL says.
async fn resolve(workspace: &Workspace, target: &GithubTarget) -> AppResult<GithubConfig> {
    let url = compose::origin_url(&workspace.root)
        .await?
        .ok_or(AppError::NoOrigin)?;
    let parsed = GithubRemote::parse(&url);
    let named = |given: &Option<String>| given.as_ref().map(|v| v.trim().to_owned());
    let (owner, repo) = match (named(&target.owner), named(&target.repo), &parsed) {
        (Some(owner), Some(repo), _) => (owner, repo),
        (owner, repo, Some(parsed)) => (
            owner.unwrap_or_else(|| parsed.owner.clone()),
            repo.unwrap_or_else(|| parsed.repo.clone()),
        ),
        (_, _, None) => return Err(AppError::NotAGithubRemote { url }),
    };
    let api_url = named(&target.api_url)
        .or_else(|| parsed.as_ref().map(GithubRemote::api_url))
        .unwrap_or_else(|| GithubConfig::default().api_url);
    // What the file already says of the rest (the mutation interval) is kept.
    let configured = workspace.load_config().map(|loaded| loaded.config.github);
    Ok(GithubConfig {
        owner,
        repo,
        api_url: api_url.trim_end_matches('/').to_owned(),
        ..configured.unwrap_or_default()
    })
}

/// The strongest of the token's permissions on the repository.
fn strongest(access: &RepositoryAccess) -> &'static str {
    [
        (access.admin, "admin"),
        (access.maintain, "maintain"),
        (access.push, "push"),
        (access.triage, "triage"),
        (access.pull, "pull"),
    ]
    .into_iter()
    .find_map(|(has, name)| has.then_some(name))
    .unwrap_or("none")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_permission_is_named() {
        let mut access = RepositoryAccess {
            login: "octo".to_owned(),
            admin: false,
            maintain: false,
            push: false,
            triage: true,
            pull: true,
            default_branch: "main".to_owned(),
        };
        assert_eq!(strongest(&access), "triage");
        access.push = true;
        assert_eq!(strongest(&access), "push");
        access.admin = true;
        assert_eq!(strongest(&access), "admin");
        let none = RepositoryAccess {
            pull: false,
            triage: false,
            ..access.clone()
        };
        assert_eq!(
            strongest(&RepositoryAccess {
                admin: false,
                push: false,
                ..none
            }),
            "none"
        );
    }
}
