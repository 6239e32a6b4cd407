//! Whether the configured agent CLI can run: found (on PATH or at its configured path), its
//! version, and a model key it will see. `doctor` reports all three; `run` refuses to claim
//! anything without the first, and stops claiming if the CLI disappears while it runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::app::agents::attempt::{AttemptError, AttemptResult, worktree_path};
use crate::app::agents::worktree::remove_worktree;
use crate::app::compose::locate;
use crate::app::health::{Check, Health};
use crate::app::lifecycle::transitions::journal_slot;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::agents::cli::{AgentCli, agent_cli};
use crate::core::agents::command::{ANTHROPIC_KEYS, ModelKeys, OPENAI_KEYS, agent_environment};
use crate::core::agents::outcome::Outcome;
use crate::core::config::AgentsConfig;
use crate::core::lifecycle::machine::Event;
use crate::core::queue::labels;
use crate::ports::Forge;
use crate::ports::journal::Journal;

/// How long `--version` may take before doctor stops waiting.
const VERSION_PATIENCE: Duration = Duration::from_secs(20);

/// Why the configured agent CLI cannot be started, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub runtime: String,
    pub problem: String,
    pub advice: String,
}

impl From<Unavailable> for AppError {
    fn from(u: Unavailable) -> Self {
        AppError::AgentUnavailable {
            runtime: u.runtime,
            problem: u.problem,
            advice: u.advice,
        }
    }
}

/// The configured CLI and where it is, or why it cannot be started. `None` for the simulated
/// agent.
pub fn startable_cli(agents: &AgentsConfig) -> Result<Option<(AgentCli, PathBuf)>, Unavailable> {
    let Some(cli) = agent_cli(agents.runtime, agents).map_err(|error| Unavailable {
        runtime: agents.runtime.as_str().to_owned(),
        problem: error.to_string(),
        advice: "correct agents.command".to_owned(),
    })?
    else {
        return Ok(None);
    };
    match locate(&cli.program, std::env::var_os("PATH").as_deref()) {
        Ok(path) => Ok(Some((cli, path))),
        Err(problem) => Err(Unavailable {
            runtime: cli.runtime.to_owned(),
            problem: problem.to_string(),
            advice: cli.advice(),
        }),
    }
}

/// The run's error once an attempt found the CLI gone (`error` says how starting it failed).
pub fn unavailable(agents: &AgentsConfig, error: &AttemptError) -> AppError {
    let cli = agent_cli(agents.runtime, agents).ok().flatten();
    AppError::AgentUnavailable {
        runtime: agents.runtime.as_str().to_owned(),
        problem: error.to_string(),
        advice: cli.map_or_else(|| "check the agents settings".to_owned(), |c| c.advice()),
    }
}

/// The run's error when `result` ended on a model key the API refused, which would fail every
/// attempt alike: then nothing more is claimed, and the issue goes back to the queue.
pub fn key_refused(agents: &AgentsConfig, result: &AttemptResult) -> Option<AppError> {
    let refused = result.classification.outcome != Outcome::Success
        && result
            .report
            .totals
            .result
            .as_ref()
            .is_some_and(|r| r.details.refuses_key());
    refused.then(|| AppError::ModelKeyRefused {
        runtime: agents.runtime.as_str().to_owned(),
        problem: result.classification.reason.clone(),
    })
}

/// Gives back the claim of an attempt that could not start its CLI, or whose key the model
/// API refused (`cause`): the issue is ready again with no attempt counted against it, its
/// worktree is removed (its work, if any, stays on its branch), and `journal` (given when the
/// state machine is on) abandons the slot.
pub async fn release_claim(
    workspace: &Workspace,
    forge: &dyn Forge,
    journal: Option<&dyn Journal>,
    (agent, issue): (&str, u64),
    cause: &str,
    now: Timestamp,
) -> AppResult<()> {
    forge
        .edit_labels(issue, &[labels::READY.to_owned()], &[agent.to_owned()])
        .await?;
    remove_worktree(workspace, &worktree_path(workspace, agent, issue)).await?;
    journal_slot(journal, agent, issue, &[Event::Abandon], cause, now)
}

/// The doctor's checks of the agent CLI and its key, given this process's `environment`.
pub async fn agent_checks(agents: &AgentsConfig, environment: &[(String, String)]) -> Vec<Check> {
    let (cli, path) = match startable_cli(agents) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return vec![Check::ok(
                "agent",
                "the simulated agent: nothing to install",
            )];
        }
        Err(Unavailable {
            problem, advice, ..
        }) => return vec![Check::problem("agent", Health::Fail, problem, advice)],
    };
    let mut checks = vec![match cli.runtime {
        // An arbitrary command may do real work when run: it is only located.
        "command" => Check::ok("agent", format!("{}", path.display())),
        _ => match version(&path).await {
            Some(version) => Check::ok("agent", format!("{} ({version})", path.display())),
            None => Check::problem(
                "agent",
                Health::Warn,
                format!("{} did not answer `--version`", path.display()),
                cli.advice(),
            ),
        },
    }];
    if !cli.key_variables.is_empty() {
        checks.push(key_check(&cli, agents, environment));
    }
    if cli.runtime == "claude" && agents.claude_permission_mode == "bypassPermissions" {
        checks.push(bypass_check(agents, environment));
    }
    checks
}

/// Claude Code refuses `bypassPermissions` to root unless `IS_SANDBOX=1` says the machine is
/// a sandbox: every attempt would exit at once. Clambake never sets it on its own.
fn bypass_check(agents: &AgentsConfig, environment: &[(String, String)]) -> Check {
    use std::os::unix::fs::MetadataExt;
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let sandbox = agent_environment(
        environment
            .iter()
            .filter(|(k, v)| k == "IS_SANDBOX" && v == "1")
            .cloned(),
        &agents.env_passthrough,
        ModelKeys::Own(ANTHROPIC_KEYS),
    );
    if !as_root || !sandbox.is_empty() {
        return Check::ok("agent mode", "bypassPermissions");
    }
    Check::problem(
        "agent mode",
        Health::Fail,
        "Claude Code refuses bypassPermissions to root unless IS_SANDBOX=1 reaches it",
        "on a machine that is a sandbox, export IS_SANDBOX=1 (agents.env_passthrough passes it); \
         otherwise run as another user or choose another agents.claude_permission_mode",
    )
}

/// The model keys `runtime` is given without the pass-through naming them.
fn runtime_keys(runtime: &str) -> ModelKeys {
    match runtime {
        "claude" => ModelKeys::Own(ANTHROPIC_KEYS),
        "codex" => ModelKeys::Own(OPENAI_KEYS),
        _ => ModelKeys::Named,
    }
}

/// `program --version`'s first line, if it answers in time.
async fn version(program: &Path) -> Option<String> {
    let output = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_PATIENCE, output)
        .await
        .ok()?
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

/// Whether the agent will see a model key: one of its variables set and given to it (its
/// runtime's own keys always are; a `command` agent's only through `agents.env_passthrough`),
/// or a login the CLI saved in the home directory.
fn key_check(cli: &AgentCli, agents: &AgentsConfig, environment: &[(String, String)]) -> Check {
    let set: Vec<&str> = cli
        .key_variables
        .iter()
        .copied()
        .filter(|name| {
            environment
                .iter()
                .any(|(k, v)| k == name && !v.trim().is_empty())
        })
        .collect();
    let passed = agent_environment(
        environment
            .iter()
            .filter(|(k, _)| set.contains(&k.as_str()))
            .cloned(),
        &agents.env_passthrough,
        runtime_keys(cli.runtime),
    );
    if let Some((name, _)) = passed.first() {
        return Check::ok("agent key", format!("{name} is set and given to the agent"));
    }
    let home = |name: &str| {
        environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
    };
    let login = match cli.runtime {
        "claude" => home("HOME").map(|h| h.join(".claude/.credentials.json")),
        _ => home("CODEX_HOME")
            .or_else(|| home("HOME").map(|h| h.join(".codex")))
            .map(|dir| dir.join("auth.json")),
    };
    if let Some(login) = login.filter(|l| l.is_file()) {
        return Check::ok("agent key", format!("logged in ({})", login.display()));
    }
    let names = cli.key_variables.join(", ");
    Check::problem(
        "agent key",
        Health::Fail,
        format!(
            "no model key: none of {names} is set, and `{}` is not logged in",
            cli.program
        ),
        format!(
            "export {}, or log in with `{}`",
            cli.key_variables[0], cli.program
        ),
    )
}
