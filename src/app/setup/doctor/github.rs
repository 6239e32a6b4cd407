//! `doctor` on the GitHub backend: where the token comes from (never the token), what it may
//! do in the repository, and how much of the rate limit is left.

use std::sync::Arc;

use miette::Diagnostic;

use crate::app::health::{Check, Health};
use crate::app::{AppError, Workspace};
use crate::core::config::Config;
use crate::ports::Forge;
use crate::ports::forge::{ForgeError, IssueFilter};

/// Below this share of the rate limit left, `doctor` warns.
const LOW_RATE_LIMIT_PERCENT: u64 = 10;

/// The GitHub checks; the forge, for the checks after them, unless one failed.
pub(super) async fn github_checks(
    workspace: &Workspace,
    config: &Config,
    checks: &mut Vec<Check>,
) -> Option<Arc<dyn Forge>> {
    let fail = |name, error: &dyn Diagnostic, fallback: &str| {
        let fix = error
            .help()
            .map_or_else(|| fallback.to_owned(), |help| help.to_string());
        Check::problem(name, Health::Fail, error.to_string(), fix)
    };
    match workspace.github_token(config).await {
        Ok(token) => checks.push(Check::ok("token", format!("from {}", token.source))),
        Err(error) => {
            checks.push(fail("token", &error, "set GH_TOKEN"));
            return None;
        }
    }
    let repository = format!("{}/{}", config.github.owner, config.github.repo);
    let backend = match workspace.open_github().await {
        Ok(backend) => backend,
        Err(error) => {
            checks.push(fail("github", &error, "check github.api_url"));
            return None;
        }
    };
    match backend.access().await {
        Ok(access) if access.push || access.maintain || access.admin => {
            let held: Vec<&str> = [
                (access.admin, "admin"),
                (access.maintain, "maintain"),
                (access.push, "push"),
                (access.triage, "triage"),
                (access.pull, "pull"),
            ]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect();
            checks.push(Check::ok(
                "access",
                format!("{} on {repository}: {}", access.login, held.join(", ")),
            ));
        }
        Ok(access) => {
            let error = AppError::CannotPush {
                login: access.login,
                repository: repository.clone(),
                has: "no push permission".to_owned(),
            };
            checks.push(fail("access", &error, "give the token push access"));
            return None;
        }
        Err(error) => {
            let fallback = match &error {
                ForgeError::NotFound { .. } => "check github.owner and github.repo",
                _ => "check github.api_url and the token",
            };
            checks.push(fail("access", &error, fallback));
            return None;
        }
    }
    let forge = backend.forge();
    match forge.issues(&IssueFilter::open()).await {
        Ok(open) => checks.push(Check::ok(
            "forge",
            format!("github forge reachable, {} open issues", open.len()),
        )),
        Err(error) => {
            checks.push(fail("forge", &error, "check github.api_url and the token"));
            return None;
        }
    }
    checks.push(match forge.usage().rate_limit {
        Some(limit) if limit.remaining * 100 < limit.limit * LOW_RATE_LIMIT_PERCENT => {
            Check::problem(
                "rate limit",
                Health::Warn,
                format!(
                    "{} of {} requests left until {}",
                    limit.remaining, limit.limit, limit.reset
                ),
                "Clambake waits a spent limit out; other tools using the same token share it",
            )
        }
        Some(limit) => Check::ok(
            "rate limit",
            format!(
                "{} of {} requests left until {}",
                limit.remaining, limit.limit, limit.reset
            ),
        ),
        None => Check::problem(
            "rate limit",
            Health::Warn,
            "the API sent no rate-limit headers",
            "check that github.api_url is GitHub's REST API",
        ),
    });
    Some(forge)
}
