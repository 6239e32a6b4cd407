//! The GitHub Actions workflows Clambake writes into a repository: the bundling workflow (a
//! train on a schedule or when dispatched) and the agent workflow (one attempt per run). Each is
//! text made from the configuration alone, so `actions install`, `init`, `config set` and
//! `doctor` agree on what a workflow should say, and the snapshot tests show all of it.
//!
//! The rules both keep:
//! - Every input reaches a script through `env:`, never spliced into it (script injection).
//! - Every value from the configuration is a single-quoted YAML scalar, and every action is
//!   pinned to a release that runs on a runtime GitHub supports (actionlint checks both).
//! - The Clambake step has the id [`STEP_ID`], a `dispatch_key` input shows in `run-name`, and
//!   Clambake's commits are the Actions bot's, pushed with [`token_expression`]'s token.

pub mod cron;

mod agent;
mod bundling;

pub use agent::agent_workflow;
pub use bundling::{INPUT_FORCE_BUNDLE, bundling_workflow};

use crate::config::{Config, wrap};

/// `actions/checkout`, at a release on a supported runtime (v4 runs on Node 20, deprecated).
pub const CHECKOUT: &str = "actions/checkout@v5";
/// `actions/cache`'s restore and save halves, likewise (v4 runs on Node 20): apart, so that
/// the cache is saved before anything else runs, never at the job's end (see
/// [`checkout_and_install`]).
pub const CACHE_RESTORE: &str = "actions/cache/restore@v5";
pub const CACHE_SAVE: &str = "actions/cache/save@v5";
/// `actions/upload-artifact`, likewise (v4 and v5 run on Node 20).
pub const UPLOAD_ARTIFACT: &str = "actions/upload-artifact@v6";

/// Where workflows live in a repository.
pub const WORKFLOWS_DIR: &str = ".github/workflows";
/// The id of a workflow's Clambake step, the one the GitHub fake's runner runs.
pub const STEP_ID: &str = "clambake";
/// The workflows' input that a dispatch finds its run by, through `run-name`.
pub const INPUT_DISPATCH_KEY: &str = "dispatch_key";
/// How every workflow Clambake wrote begins: a file without it is someone else's.
pub const MARKER: &str = "# Written by Clambake";

/// The identity of the commits Clambake makes on a runner: GitHub's Actions bot.
pub const BOT_NAME: &str = "github-actions[bot]";
pub const BOT_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";

/// Whether `text` is a workflow Clambake wrote (edited by hand or not).
pub fn is_clambakes(text: &str) -> bool {
    text.starts_with(MARKER)
}

/// The run's own `GITHUB_TOKEN`: its permissions are the workflow's, and it expires with the job.
pub const RUN_TOKEN: &str = "${{ github.token }}";

/// The token the bundling workflow gives Clambake and `actions/checkout`: the configured
/// secret when the repository has it (so that its CI runs on bundle pull requests), the run's
/// own otherwise. The agent workflow has only the run's: an agent can read what its runner's
/// processes hold, and a secret token outlives the job and reaches beyond the repository.
pub fn token_expression(config: &Config) -> String {
    match config.github_actions.token_secret.trim() {
        "" => RUN_TOKEN.to_owned(),
        secret => format!("${{{{ secrets.{secret} || github.token }}}}"),
    }
}

/// `value` as a single-quoted YAML scalar: nothing in it is read as YAML syntax.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `text` as YAML comment lines indented by `indent`.
fn comment(text: &str, indent: &str) -> String {
    wrap(text, 96 - indent.len())
        .into_iter()
        .map(|line| format!("{indent}# {line}\n"))
        .collect()
}

/// The file's first lines: whose it is and how to change it.
fn header(name: &str, version: &str) -> String {
    format!(
        "{MARKER} {version} from clambake.toml ({name}).\n{}",
        comment(
            "`clambake actions install`, `clambake init` and `clambake config set` rewrite it, \
             so change clambake.toml rather than this file (a hand edit is lost then, never \
             silently: `clambake run` leaves it alone, and `clambake doctor` says when it \
             differs from what clambake.toml asks for).",
            ""
        )
    )
}

/// The `workflow_dispatch` input a dispatch is found by, indented under `inputs:`.
fn dispatch_key_input() -> String {
    format!(
        "      {INPUT_DISPATCH_KEY}:\n        \
         description: Set by Clambake to find the run it dispatched.\n        \
         type: string\n        required: false\n        default: ''\n"
    )
}

/// The steps every workflow begins with: the repository with its whole history (trains merge
/// branches), its token left out of `.git/config` (where an agent's `git config` would read
/// it; Clambake gives git the token itself), then Clambake, built once per version and
/// restored from the cache after. The cache is saved right after the build: saved at the
/// job's end (as `actions/cache` does), it would keep whatever an agent left at the binary's
/// path, and every later run, the bundling workflow's with its wider token, would run that.
fn checkout_and_install(config: &Config, token: &str, version: &str) -> String {
    let git = config.github_actions.clambake_git.trim();
    let (key, install) = if git.is_empty() {
        (
            format!("clambake-{version}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}"),
            "cargo install --locked clambake --version \"$CLAMBAKE_RELEASE\"".to_owned(),
        )
    } else {
        (
            format!(
                "clambake-{version}-git-{}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}",
                slug::slugify(git)
            ),
            "cargo install --locked --git \"$CLAMBAKE_GIT\" --tag \"v$CLAMBAKE_RELEASE\" clambake"
                .to_owned(),
        )
    };
    let git_env = if git.is_empty() {
        String::new()
    } else {
        format!("          CLAMBAKE_GIT: {}\n", quoted(git))
    };
    format!(
        "      - uses: {CHECKOUT}\n        with:\n          fetch-depth: 0\n          \
         token: {token}\n          persist-credentials: false\n\
         \x20     - name: Restore Clambake {version}\n        id: clambake-cache\n        \
         uses: {CACHE_RESTORE}\n        with:\n          path: ~/.cargo/bin/clambake\n          \
         key: {key}\n\
         \x20     - name: Install Clambake {version}\n        \
         if: steps.clambake-cache.outputs.cache-hit != 'true'\n        env:\n          \
         CLAMBAKE_RELEASE: {release}\n{git_env}        run: {install}\n\
         \x20     - name: Cache Clambake {version}\n        \
         if: steps.clambake-cache.outputs.cache-hit != 'true'\n        \
         uses: {CACHE_SAVE}\n        with:\n          path: ~/.cargo/bin/clambake\n          \
         key: {key}\n",
        key = quoted(&key),
        release = quoted(version),
    )
}

/// The `env:` lines every Clambake step has: its token and the bot's identity.
fn clambake_env(token: &str) -> String {
    let mut env = format!("          GH_TOKEN: {token}\n");
    for (name, value) in [
        ("GIT_AUTHOR_NAME", BOT_NAME),
        ("GIT_AUTHOR_EMAIL", BOT_EMAIL),
        ("GIT_COMMITTER_NAME", BOT_NAME),
        ("GIT_COMMITTER_EMAIL", BOT_EMAIL),
    ] {
        env.push_str(&format!("          {name}: {}\n", quoted(value)));
    }
    env
}

/// The job's lines up to its steps.
fn job(name: &str, config: &Config) -> String {
    format!(
        "jobs:\n  {name}:\n    runs-on: {}\n    timeout-minutes: {}\n    steps:\n",
        quoted(&config.github_actions.runs_on),
        config.github_actions.workflow_timeout_minutes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_cannot_escape_its_quotes() {
        assert_eq!(quoted("it's: #1"), "'it''s: #1'");
    }

    #[test]
    fn the_token_falls_back_to_the_runs_own() {
        let mut config = Config::default();
        assert_eq!(
            token_expression(&config),
            "${{ secrets.CLAMBAKE_TOKEN || github.token }}"
        );
        config.github_actions.token_secret = String::new();
        assert_eq!(token_expression(&config), "${{ github.token }}");
    }

    #[test]
    fn no_checkout_leaves_its_token_in_the_repository() {
        let config = Config::default();
        for workflow in [
            bundling_workflow(&config, "1.2.3"),
            agent_workflow(&config, "1.2.3"),
        ] {
            let (_, checkout) = workflow.split_once(CHECKOUT).unwrap();
            let (with, _) = checkout.split_once("- name:").unwrap();
            assert!(with.contains("persist-credentials: false\n"), "{with}");
        }
    }

    #[test]
    fn clambake_is_cached_before_anything_else_runs() {
        let config = Config::default();
        for workflow in [
            bundling_workflow(&config, "1.2.3"),
            agent_workflow(&config, "1.2.3"),
        ] {
            assert!(!workflow.contains("uses: actions/cache@"), "{workflow}");
            let saved = workflow.find(CACHE_SAVE).unwrap();
            let clambake = workflow.find(&format!("id: {STEP_ID}\n")).unwrap();
            assert!(saved < clambake, "{workflow}");
        }
    }

    #[test]
    fn a_workflow_is_known_by_its_first_line() {
        let config = Config::default();
        assert!(is_clambakes(&bundling_workflow(&config, "1.2.3")));
        assert!(is_clambakes(&agent_workflow(&config, "1.2.3")));
        assert!(!is_clambakes("name: CI\n"));
    }
}
