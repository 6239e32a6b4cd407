//! Every section and key of `clambake.toml`, declared once (see [`super::schema`] for the
//! syntax). The doc comments are what `init` writes above each key and `config list` shows.
//!
//! To add a key, add one line to its section here:
//!
//! ```text
//! /// How often the run loop polls the forge.
//! poll_interval_seconds: u32 = 5, kind = POSITIVE;
//! ```
//!
//! and read it where it takes effect (`config.forge.poll_interval_seconds`). Validation,
//! `config get|set|list`, `CLAMBAKE_FORGE__POLL_INTERVAL_SECONDS` and `init`'s template follow.
//! A key is declared only once something reads it: no key waits for its feature.

use super::minutes::Minutes;
use super::schema::{POSITIVE, ValueKind, choices, configuration};
use super::usd::Usd;

/// The variables agents see besides the basic allowlist: what Claude Code and Codex need to
/// reach their models, besides their keys (see [`crate::agents::command::ModelKeys`]). Forge
/// tokens are never passed, whatever this says.
pub const DEFAULT_ENV_PASSTHROUGH: &str =
    "ANTHROPIC_BASE_URL CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC IS_SANDBOX CODEX_HOME";

/// Forge credentials and Clambake's own settings: never handed to an agent, even if listed.
const NEVER_PASSED: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];
const NEVER_PASSED_PREFIX: &str = "CLAMBAKE_";

/// Whether `name` is never handed to an agent: a forge token or one of Clambake's settings.
pub fn never_passed(name: &str) -> bool {
    NEVER_PASSED.contains(&name) || name.starts_with(NEVER_PASSED_PREFIX)
}

choices! {
    /// Where issues, labels and pull requests live.
    ForgeBackend {
        /// The embedded forge: SQLite under `.clambake/` plus the repository's own refs.
        #[default]
        Local = "local",
        /// GitHub's REST API.
        Github = "github",
    }
}

choices! {
    /// Which agent CLI runs an attempt.
    AgentRuntimeKind {
        #[default]
        Claude = "claude",
        Codex = "codex",
        Command = "command",
        Simulated = "simulated",
    }
}

choices! {
    /// Whose comments on an issue reach an agent's prompt. Anyone may comment on a public
    /// repository; the comments of people who cannot push are left out by default.
    PromptComments {
        /// The repository's owner, members and collaborators (GitHub's `author_association`).
        #[default]
        Trusted = "trusted",
        /// Everyone's.
        All = "all",
        /// Nobody's: the issue's title and body only.
        None = "none",
    }
}

choices! {
    /// What a train does with a branch that conflicts with the rest.
    ConflictStrategy {
        /// Open an individual pull request for it.
        #[default]
        IndividualFallback = "individual_fallback",
        /// Leave it waiting for the next train.
        SkipConflicts = "skip_conflicts",
    }
}

choices! {
    /// When a train departs.
    BundleTrigger {
        #[default]
        Schedule = "schedule",
        OnLand = "on_land",
        Manual = "manual",
    }
}

choices! {
    /// Where a train departs from.
    BundlingExecutor {
        /// This machine's orchestrator bundles.
        #[default]
        Local = "local",
        /// The bundling workflow on GitHub Actions, dispatched at each departure; this machine
        /// bundles instead when the dispatch fails or the run does not finish in time.
        Actions = "actions",
    }
}

choices! {
    /// Where agent attempts run.
    AgentExecutor {
        /// As processes of this machine.
        #[default]
        Local = "local",
        /// On GitHub Actions runners, one workflow run per attempt.
        Actions = "actions",
    }
}

choices! {
    /// Whose verdict a bundle waits for before it is offered for review.
    BundleChecks {
        /// checks.command's, when one is set; no checks otherwise.
        #[default]
        Auto = "auto",
        /// checks.command's, run on the bundle's tip in a temporary worktree.
        Command = "command",
        /// The forge's: the check runs and commit statuses its CI reports on the bundle's tip
        /// (needs forge.backend = "github").
        Forge = "forge",
        /// None: bundles are offered as soon as they are built.
        Off = "off",
    }
}

choices! {
    /// How much of each transition the journal records.
    TransitionLogging {
        /// The states, the event and its cause.
        #[default]
        Detailed = "detailed",
        /// The states and the event: what resuming a slot needs.
        Minimal = "minimal",
    }
}

configuration! {
    /// Where issues, labels and pull requests live: "local" keeps them in .clambake/ beside
    /// your repository (no account, no network).
    [forge] ForgeConfig {
        /// "local" (the embedded forge) or "github".
        backend: ForgeBackend = ForgeBackend::Local;
        /// How often `run` polls the forge when nothing else wakes it (an agent exiting
        /// wakes it at once).
        poll_interval_seconds: u32 = 15, kind = POSITIVE;
    }

    /// The GitHub repository, used when forge.backend = "github".
    [github] GithubConfig {
        /// The user or organisation that owns the repository (`init --backend github` reads it
        /// from the origin remote).
        owner: String = "";
        /// The repository's name.
        repo: String = "";
        /// The REST API's base URL: https://HOST/api/v3 for GitHub Enterprise Server.
        api_url: String = "https://api.github.com";
        /// The least time between two requests that change something, in milliseconds:
        /// GitHub asks for a second; a GitHub Enterprise server or the offline fake may
        /// allow less.
        mutation_interval_ms: u32 = 1000;
    }

    /// This orchestrator among others working one repository: each claims issues under its
    /// own id, and leaves the others' claims alone while they are alive.
    [orchestrator] OrchestratorConfig {
        /// Its name on the remote (letters, digits, '.', '_', '-'); empty: one made from the
        /// host name once, and kept in .clambake/orchestrator-id.
        id: String = "";
    }

    /// The agent processes: which CLI runs, how many at once, and when to give up on one.
    [agents] AgentsConfig {
        /// The agent CLI: "claude" (Claude Code), "codex", "command" or "simulated".
        runtime: AgentRuntimeKind = AgentRuntimeKind::Claude;
        /// The Claude Code executable, a name on PATH or a path.
        claude_code_path: String = "claude";
        /// How many agents work at once.
        max_concurrent: u32 = 4, kind = POSITIVE;
        /// Where attempts run: "local" (processes of this machine) or "actions" (every slot on
        /// a GitHub Actions runner; needs github_actions.enabled).
        executor: AgentExecutor = AgentExecutor::Local;
        /// With executor = "local": this many more slots, beside max_concurrent, whose
        /// attempts run on GitHub Actions runners (0: none).
        actions_slots: u32 = 0;
        /// An attempt running longer than this is terminated.
        timeout_minutes: u32 = 60, kind = POSITIVE;
        /// An agent silent for this long is considered stalled and terminated.
        stall_timeout_minutes: u32 = 10, kind = POSITIVE;
        /// Attempts per issue before it is labelled route:failed.
        max_attempts: u32 = 3, kind = POSITIVE;
        /// Backpressure: no new issue is claimed while this many issues wait for review
        /// (route:review and route:bundled); claiming resumes as reviews are merged or closed.
        /// 0: no limit.
        max_in_review: u32 = 24;
        /// Remove a failed attempt's worktree (its branch is always kept).
        cleanup_on_failure: bool = false;
        /// false runs the built-in simulated agent instead of a real CLI.
        real_processes: bool = true;
        /// After SIGTERM, how long an agent's process group has before SIGKILL.
        terminate_grace_seconds: u32 = 30;
        /// The wait before retrying a failed issue; it doubles with each failure (30 minutes at
        /// most).
        retry_backoff_seconds: u32 = 60;
        /// Whose comments go into an agent's prompt: "trusted" (the repository's owner,
        /// members and collaborators), "all" or "none". The prompt says how many it left out.
        prompt_comments: PromptComments = PromptComments::Trusted;
        /// Space-separated variables agents inherit beyond PATH, HOME, locale and the like;
        /// NAME_* passes a prefix. Forge tokens are never passed; claude gets the Anthropic
        /// keys and codex the OpenAI keys without being named, and neither the other's.
        env_passthrough: String = DEFAULT_ENV_PASSTHROUGH;
        /// For runtime = "command": the argv, split like a shell would but never run by one;
        /// {issue}, {branch}, {prompt_file} and {worktree} are filled in.
        command: String = "";
        /// Claude Code's --permission-mode. "acceptEdits" lets an unattended agent edit files
        /// and run read-only commands; allow more with --allowedTools in claude_extra_args, or
        /// "bypassPermissions" (as root Claude Code wants IS_SANDBOX=1).
        claude_permission_mode: String = "acceptEdits";
        /// Claude Code's --max-turns (0: the CLI's own limit).
        claude_max_turns: u32 = 50;
        /// Claude Code's --model (empty: the CLI's default).
        claude_model: String = "";
        /// Text for Claude Code's --append-system-prompt (empty: none).
        claude_append_system_prompt: String = "";
        /// More arguments for Claude Code, split like a shell would but never run by one.
        claude_extra_args: String = "";
        /// The Codex CLI executable, a name on PATH or a path.
        codex_path: String = "codex";
        /// Codex's --sandbox. "workspace-write" lets it edit the worktree but not git's
        /// metadata, so Clambake commits its work when it exits; "danger-full-access" lets it
        /// commit itself.
        codex_sandbox: String = "workspace-write",
            kind = ValueKind::Choice(&["read-only", "workspace-write", "danger-full-access"]);
        /// Codex's --model (empty: the CLI's default).
        codex_model: String = "";
        /// More arguments for `codex exec`, split like a shell would but never run by one.
        codex_extra_args: String = "";
    }

    /// Trains: finished branches leave together in one pull request on a schedule; branches
    /// that conflict get pull requests of their own.
    [bundling] BundlingConfig {
        /// false gives every landed branch a pull request of its own.
        enabled: bool = true;
        /// A train departs at every UTC multiple of this many minutes (the bundling workflow's
        /// schedule follows it: `config set` rewrites an installed one).
        schedule_minutes: u32 = 10, kind = POSITIVE;
        /// The most branches one bundle pull request carries.
        max_bundle_size: u32 = 8, kind = POSITIVE;
        /// Backpressure: with this many bundle pull requests open, no train departs and no
        /// new issue is claimed until reviewers merge or close one. 0: no limit.
        max_open_bundles: u32 = 3;
        /// "individual_fallback" opens a pull request per conflicting branch; "skip_conflicts"
        /// leaves it for the next train.
        conflict_strategy: ConflictStrategy = ConflictStrategy::IndividualFallback;
        /// "schedule", "on_land" (as soon as work lands) or "manual".
        trigger: BundleTrigger = BundleTrigger::Schedule;
        /// Where trains depart from: "local" (this machine) or "actions" (the bundling
        /// workflow, with this machine as the fallback; needs github_actions.enabled).
        executor: BundlingExecutor = BundlingExecutor::Local;
    }

    /// The project's checks: run on an agent's branch before it lands, and on each bundle
    /// before it is offered for review; a failing bundle is bisected to find the culprits.
    [checks] ChecksConfig {
        /// The checks' argv, for example "cargo test --locked", split like a shell would but
        /// never run by one. Empty: no checks before landing.
        command: String = "";
        /// A check running longer than this fails, and its processes are killed.
        timeout_minutes: u32 = 30, kind = POSITIVE;
        /// Variables for the checks as NAME=VALUE words, split like a shell would; the checks
        /// see agents' scrubbed environment otherwise.
        env: String = "";
        /// How many times a failing bundle is checked again before anyone is blamed.
        retry_flaky: u32 = 1;
        /// How many bisection checks run at once.
        parallel: u32 = 2, kind = POSITIVE;
        /// What a bundle waits for: "auto" (checks.command's, if set), "command", "forge" (the
        /// CI's check runs and statuses on GitHub) or "off".
        bundles: BundleChecks = BundleChecks::Auto;
    }

    /// The lifecycle state machine that checks what Clambake believes against the forge, git
    /// and the OS, and repairs drift.
    [state_machine] StateMachineConfig {
        /// false manages agents by labels alone.
        enabled: bool = true;
        /// How often the running orchestrator compares its state with the world.
        inconsistency_check_interval_minutes: u32 = 5, kind = POSITIVE;
        /// Repair the drift it finds without asking.
        auto_recovery_enabled: bool = true;
        /// What the journal keeps of each transition, as `clambake agent history` shows it:
        /// "detailed" the states, the event and its cause (who or what asked for it, and why);
        /// "minimal" only the states and the event.
        transition_logging: TransitionLogging = TransitionLogging::Detailed;
    }

    /// When a stuck agent is repaired or reset. Work is never dropped: branch tips are
    /// archived under refs/clambake/archive/ first.
    [recovery] RecoveryConfig {
        /// A claim with no activity for this long is stale, and so is another orchestrator
        /// whose sign of life on the remote has not moved for this long: its claims may be
        /// taken over. Fractions are allowed (0.25 is 15 seconds).
        max_stuck_time_minutes: Minutes = 90;
        /// A stale agent is reset to idle after this long (its work archived first).
        force_reset_after_minutes: u32 = 180, kind = POSITIVE;
        /// Delete abandoned branches, but only those with no commits ahead of the base.
        cleanup_abandoned_branches: bool = true;
    }

    /// The agents' logs and prompts under .clambake/logs/ and .clambake/prompts/.
    [logs] LogsConfig {
        /// Files older than this many days are deleted when `run` starts and once a day
        /// while it runs, except those of an issue still claimed or with an agent running.
        /// 0 keeps them forever.
        keep_days: u32 = 30;
    }

    /// What Clambake may spend on agents, in US dollars, as they report their cost; 0 is no cap.
    /// A budget reached stops what it governs: see the README's section on budgets.
    [budget] BudgetConfig {
        /// One attempt: passed to Claude Code as --max-budget-usd, and enforced by Clambake for
        /// runtimes that report their cost as they go. An attempt stopped by it is judged
        /// "budget" and its issue is not retried (route:failed, the work kept on its branch).
        per_attempt_usd: Usd = 0;
        /// One issue, over all its attempts: an attempt may spend what is left of it; once it
        /// is spent the issue is not retried.
        per_issue_usd: Usd = 0;
        /// One UTC day, across runs: once spent no issue is claimed until midnight UTC, and
        /// attempts still running are stopped at it, their issues back on route:ready.
        per_day_usd: Usd = 0;
    }

    /// The metrics and the dashboard, served by `clambake run` over HTTP (read-only).
    [serve] ServeConfig {
        /// Serve them (`run --serve` does for one run).
        enabled: bool = false;
        /// Where: host:port. Anywhere but loopback needs a token in CLAMBAKE_SERVE_TOKEN.
        address: String = "127.0.0.1:7878";
    }

    /// Notifications: a small JSON message (its schema is in the README) POSTed when an issue
    /// fails, a bundle is ready for review or the run stops. A receiver that is slow, down or
    /// failing is logged and never stops or slows the run.
    [notify] NotifyConfig {
        /// Where: an http:// or https:// URL that takes JSON. Empty: no notifications.
        /// Everything after its host may be a credential, so it is shown as [redacted].
        webhook_url: String = "";
    }

    /// GitHub Actions: trains departed by a scheduled workflow, agents run on Actions runners
    /// (see bundling.executor and agents.executor). Needs forge.backend = "github". The
    /// workflows under .github/workflows/ are made from these keys: `clambake actions install`
    /// writes them, `config set` rewrites them, `doctor` compares them.
    [github_actions] GithubActionsConfig {
        /// false (or `clambake rollback --feature actions`) runs bundling and agents on this
        /// machine, whatever bundling.executor and agents.executor say.
        enabled: bool = false;
        /// The bundling workflow's file under .github/workflows/.
        bundling_workflow: String = "clambake-bundling.yml";
        /// The agent workflow's file under .github/workflows/.
        agent_workflow: String = "clambake-agent.yml";
        /// How long a dispatched run may take: a bundling run not done by then is given up and
        /// the train departs from this machine; an agent run is cancelled and its attempt
        /// ends as timed out.
        workflow_timeout_minutes: u32 = 30, kind = POSITIVE;
        /// The repository secret holding a GitHub App's or a person's token for the bundling
        /// workflow (the agent workflow has only its run's), used instead of the workflow's
        /// GITHUB_TOKEN when set: pushes made with
        /// GITHUB_TOKEN start no other workflow, so CI would not run on bundle pull requests.
        /// Empty: always GITHUB_TOKEN.
        token_secret: String = "CLAMBAKE_TOKEN";
        /// The runner label the workflows' jobs run on; it needs cargo (and npm for the agent's
        /// CLI), as GitHub's ubuntu-latest has.
        runs_on: String = "ubuntu-latest";
        /// Where the workflows install Clambake from, with `cargo install --locked` (the binary
        /// is cached, keyed on the version): empty, this version of the `clambake` crate from
        /// the crates registry; a git URL, that repository's tag v<version>.
        clambake_git: String = "";
    }
}
