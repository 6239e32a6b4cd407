//! `doctor`: checks what Clambake needs, and says how to fix each failure.

use std::path::Path;

use crate::app::compose::{self, git_version};
use crate::app::health::{Check, Health};
use crate::app::queue::ledger::ClaimLedger;
use crate::app::workspace::STATE_DIR;
use crate::app::{AppError, Workspace};
use crate::core::config::{Config, ForgeBackend};
use crate::core::queue::labels::label_set;
use crate::core::queue::slots::slot_count;
use crate::ports::Forge;
use crate::ports::database::{DamagedDatabase, DatabaseKind, FileState};
use crate::ports::forge::ForgeError;
use crate::ports::forge::IssueFilter;
use crate::ports::git::MINIMUM_VERSION;

mod github;

/// Runs every check it can; a failed check stops only the checks that depend on it.
pub async fn doctor(start: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let (major, minor) = MINIMUM_VERSION;
    checks.push(match git_version().await {
        Ok(version) if version >= MINIMUM_VERSION => {
            Check::ok("git", format!("git {}.{}", version.0, version.1))
        }
        Ok(version) => Check::problem(
            "git",
            Health::Fail,
            format!("git {}.{} is older than {major}.{minor}", version.0, version.1),
            format!("install git {major}.{minor} or later (trial merges need `git merge-tree --write-tree`)"),
        ),
        Err(error) => Check::problem("git", Health::Fail, error.to_string(), "install git and put it on PATH"),
    });

    let workspace = match Workspace::discover(start).await {
        Ok(workspace) => {
            checks.push(Check::ok(
                "repository",
                workspace.root.display().to_string(),
            ));
            workspace
        }
        Err(error) => {
            checks.push(Check::problem(
                "repository",
                Health::Fail,
                error.to_string(),
                "run clambake inside a git repository, or pass `-C <path>`",
            ));
            return checks;
        }
    };

    match workspace.require_commits().await {
        Ok(()) => checks.push(Check::ok("commits", "the checked-out branch has commits")),
        Err(error) => {
            let fix =
                "make a first commit, for example `git commit --allow-empty -m \"Initial commit\"`";
            checks.push(Check::problem(
                "commits",
                Health::Fail,
                error.to_string(),
                fix,
            ));
            return checks;
        }
    }

    let loaded = match workspace.load_config() {
        Ok(loaded) => {
            checks.push(Check::ok(
                "config",
                workspace.config_path().display().to_string(),
            ));
            loaded
        }
        Err(error) => {
            let fix = match &error {
                AppError::NotInitialized { .. } => "run `clambake init`".to_owned(),
                _ => "correct the value it names, or `clambake config set KEY VALUE`".to_owned(),
            };
            checks.push(Check::problem(
                "config",
                Health::Fail,
                error.to_string(),
                fix,
            ));
            return checks;
        }
    };

    let ignored = workspace.worktrees().is_ignored(STATE_DIR).await;
    checks.push(if ignored {
        Check::ok("ignore", format!("{STATE_DIR}/ is ignored by git"))
    } else {
        Check::problem(
            "ignore",
            Health::Warn,
            format!("{STATE_DIR}/ is not ignored: its database and worktrees could be committed"),
            format!("run `clambake init`, or add `/{STATE_DIR}/` to .gitignore"),
        )
    });

    for (name, file, kind) in [
        ("journal", compose::JOURNAL_DATABASE, DatabaseKind::Journal),
        ("agents", compose::REGISTRY_DATABASE, DatabaseKind::Registry),
    ] {
        checks.push(database_check(
            name,
            &workspace.state_dir().join(file),
            kind,
        ));
    }
    checks.push(logs_check(&workspace, &loaded.config));
    let environment: Vec<(String, String)> = std::env::vars().collect();
    checks
        .extend(crate::app::agents::check::agent_checks(&loaded.config.agents, &environment).await);

    checks.push(claims_check(&workspace, &loaded.config).await);

    let backend = loaded.config.forge.backend;
    if backend == ForgeBackend::Github {
        checks.extend(crate::app::setup::workflows::checks(&workspace));
        if let Some(forge) = github::github_checks(&workspace, &loaded.config, &mut checks).await {
            checks.push(label_check(forge.as_ref(), slot_count(&loaded.config)).await);
        }
        return checks;
    }
    let forge = match workspace.open_forge(backend).await {
        Ok(forge) => forge,
        Err(error) => {
            let fix = match &error {
                AppError::Forge(ForgeError::Damaged(damaged)) => damaged.kind.advice(),
                AppError::ForgeLost { .. } => {
                    "restore .clambake/forge.db from a backup (`clambake init` would start a new, \
                     empty forge beside the existing agent branches, so it refuses)"
                }
                _ => "run `clambake init`",
            };
            checks.push(Check::problem(
                "forge",
                Health::Fail,
                error.to_string(),
                fix,
            ));
            return checks;
        }
    };
    match forge.issues(&IssueFilter::open()).await {
        Ok(open) => checks.push(Check::ok(
            "forge",
            format!("{backend} forge reachable, {} open issues", open.len()),
        )),
        Err(error) => {
            checks.push(Check::problem(
                "forge",
                Health::Fail,
                error.to_string(),
                format!(
                    "check that {} is readable and not corrupted",
                    workspace.forge_database().display()
                ),
            ));
            return checks;
        }
    }

    checks.push(label_check(forge.as_ref(), slot_count(&loaded.config)).await);
    checks
}

/// How much the attempt logs and prompts under `.clambake/` take, and for how long they are
/// kept.
fn logs_check(workspace: &Workspace, config: &Config) -> Check {
    let keep = match config.logs.keep_days {
        0 => "kept forever (logs.keep_days = 0)".to_owned(),
        days => format!("kept {days} day(s) (logs.keep_days)"),
    };
    match crate::app::agents::prune::kept_attempt_files(workspace) {
        Ok(kept) => Check::ok(
            "logs",
            format!(
                "{} file(s), {:.1} MiB under .clambake/logs/ and prompts/, {keep}",
                kept.files,
                kept.bytes as f64 / (1024.0 * 1024.0)
            ),
        ),
        Err(error) => Check::problem(
            "logs",
            Health::Warn,
            error.to_string(),
            "check that .clambake/logs/ and .clambake/prompts/ are readable",
        ),
    }
}

/// Whether every claim on the remote can be read: one that cannot is held by someone unknown,
/// and nobody here claims, takes over or recovers its issue.
async fn claims_check(workspace: &Workspace, config: &Config) -> Check {
    let unreadable = match ClaimLedger::open(workspace, config) {
        Ok(ledger) => ledger.unreadable().await,
        Err(error) => Err(error),
    };
    match unreadable {
        Ok(issues) if issues.is_empty() => Check::ok("claims", "every shared claim reads"),
        Ok(issues) => {
            let named: Vec<String> = issues.iter().map(|n| format!("#{n}")).collect();
            Check::problem(
                "claims",
                Health::Warn,
                format!(
                    "the claims on {} cannot be read (a newer Clambake's?): held by someone unknown, they are left alone",
                    named.join(", ")
                ),
                "run the Clambake that wrote them here too; a damaged claim nobody works on can be \
                 deleted, refs/clambake/claims/<issue> on the remote",
            )
        }
        Err(error) => Check::problem(
            "claims",
            Health::Warn,
            error.to_string(),
            "check that the remote is reachable",
        ),
    }
}

/// Whether every route label and the labels of `agents` agents exist.
async fn label_check(forge: &dyn Forge, agents: u32) -> Check {
    match forge.labels().await {
        Ok(present) => {
            let missing: Vec<String> = label_set(agents)
                .into_iter()
                .map(|l| l.name)
                .filter(|name| !present.iter().any(|p| p.name.eq_ignore_ascii_case(name)))
                .collect();
            if missing.is_empty() {
                Check::ok("labels", "every route and agent label exists")
            } else {
                Check::problem(
                    "labels",
                    Health::Warn,
                    format!("missing: {}", missing.join(", ")),
                    "run `clambake init` to create them",
                )
            }
        }
        Err(error) => Check::problem(
            "labels",
            Health::Fail,
            error.to_string(),
            "run `clambake init`",
        ),
    }
}

/// Whether one of Clambake's own database files is sound (or not made yet).
fn database_check(name: &'static str, path: &Path, kind: DatabaseKind) -> Check {
    match compose::inspect_database(path) {
        Ok(FileState::Database) => Check::ok(name, path.display().to_string()),
        Ok(FileState::Missing) => Check::ok(name, format!("{} not created yet", path.display())),
        Ok(FileState::Damaged(damage)) => Check::problem(
            name,
            Health::Fail,
            DamagedDatabase {
                path: path.to_path_buf(),
                kind,
                damage,
            }
            .to_string(),
            kind.advice(),
        ),
        Err(error) => Check::problem(
            name,
            Health::Fail,
            format!("{}: {error}", path.display()),
            "check that .clambake/ is readable",
        ),
    }
}
