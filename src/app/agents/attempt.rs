//! One attempt of an agent at an issue, end to end: its own worktree on its own branch, the
//! prompt, the supervised run, then Clambake's own bookkeeping: leftovers committed, commits
//! counted, the outcome classified.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;

use jiff::Timestamp;

use crate::app::agents::elsewhere::{claim_id, fetch_pushed, publish_for_runner};
use crate::app::agents::handover::{Takeover, take_over_earlier_attempts};
use crate::app::agents::work_checks::{CheckedWork, check_work, discard_interrupted_checks};
use crate::app::agents::worktree::{commit_leftovers, creation_interrupted};
use crate::app::queue::claim::{PROCESS_STARTED, SlotJournal, journal_working};
use crate::app::workspace::Workspace;
use crate::core::agents::containment::left_running;
use crate::core::agents::outcome::{
    Classification, Evidence, ExitStatus, Outcome, Termination, classify,
};
use crate::core::agents::prompt::{ChecksFailure, LeftOut, PromptComment, ReviewFeedback};
use crate::core::branches::name::branch_name;
use crate::core::queue::slots::{RunningSlot, check_slot};
use crate::ports::agent::{AgentRuntime, AgentSpec, LogFiles};
use crate::ports::agent_host::{AgentHost, AttemptReport, Limits};
use crate::ports::agent_registry::{AgentHandle, RegisteredAgent};
use crate::ports::git::{Removal, Worktrees};

pub use crate::app::error::AttemptError;

/// What an attempt is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    pub agent: String,
    pub issue: u64,
    pub title: String,
    pub body: String,
    pub comments: Vec<PromptComment>,
    /// The comments `agents.prompt_comments` kept out of the prompt.
    pub comments_left_out: Option<LeftOut>,
    /// 1 for the first attempt at this issue; names the log files.
    pub attempt: u32,
    /// The branch the work starts from and is counted against.
    pub base: String,
    /// Branches open pull requests carry: a retry may continue their work, but never moves
    /// or deletes them.
    pub pull_request_heads: Vec<String>,
    /// The agent session an earlier attempt left unfinished, for the runtime to continue.
    pub resume_session: Option<String>,
    /// How the project's checks failed on the last attempt's work, which this one fixes.
    pub checks_failure: Option<ChecksFailure>,
    /// What reviewers asked of the work on the branch, which this attempt addresses.
    pub review_feedback: Vec<ReviewFeedback>,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub agent: String,
    /// The runtime that ran it (`claude`, `simulated`, ...).
    pub runtime: String,
    pub issue: u64,
    pub branch: String,
    pub worktree: PathBuf,
    pub logs: LogFiles,
    pub report: AttemptReport,
    /// Whether Clambake committed work the agent left uncommitted.
    pub committed_leftovers: bool,
    /// The project's checks on work the agent finished, when a command is configured.
    pub checks: Option<CheckedWork>,
    pub commits_ahead: u32,
    pub classification: Classification,
    /// What the agent left running when it ended (stopped since), as its verdict says.
    pub left_running: Option<String>,
    /// From the agent's exit to its classified outcome (leftovers committed, commits counted).
    pub exit_to_outcome: Duration,
}

/// Where attempts live under the state directory.
pub const WORKTREES_DIR: &str = "worktrees";
pub const LOGS_DIR: &str = "logs";
pub const PROMPTS_DIR: &str = "prompts";

/// The worktree of `agent`'s attempts at `issue`.
pub fn worktree_path(workspace: &Workspace, agent: &str, issue: u64) -> PathBuf {
    workspace
        .state_dir()
        .join(WORKTREES_DIR)
        .join(format!("{agent}-{issue}"))
}

/// Runs one attempt to its end, journaling nothing. Sending `()` on `stop` terminates it.
pub async fn run_attempt(
    workspace: &Workspace,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> Result<AttemptResult, AttemptError> {
    run_attempt_journaled(workspace, runtime, request, limits, stop, None).await
}

/// Where an attempt works and what its agent writes to: its branch and its log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPlace {
    pub branch: String,
    pub logs: LogFiles,
}

impl AttemptPlace {
    /// A local attempt's: the branch its slot and the issue's title name, its logs under
    /// `.clambake/logs/`.
    pub fn local(workspace: &Workspace, request: &AttemptRequest) -> Self {
        Self {
            branch: branch_name(&request.agent, request.issue, &request.title),
            logs: LogFiles::in_dir(
                &workspace.state_dir().join(LOGS_DIR),
                &request.agent,
                request.issue,
                request.attempt,
            ),
        }
    }
}

/// Runs one attempt to its end, journaling `StartWork` in `journal` (when given) as the agent
/// process starts. Sending `()` on `stop` terminates it.
pub async fn run_attempt_journaled(
    workspace: &Workspace,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
    limits: Limits,
    stop: oneshot::Receiver<()>,
    journal: Option<SlotJournal<'_>>,
) -> Result<AttemptResult, AttemptError> {
    let place = AttemptPlace::local(workspace, request);
    run_in_place(workspace, runtime, request, place, limits, stop, journal).await
}

/// Runs one attempt to its end at `place` rather than a local attempt's, journaling nothing:
/// the attempt another machine dispatched, whose branch it named and whose logs it collects.
pub async fn run_attempt_at(
    workspace: &Workspace,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
    place: AttemptPlace,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> Result<AttemptResult, AttemptError> {
    run_in_place(workspace, runtime, request, place, limits, stop, None).await
}

async fn run_in_place(
    workspace: &Workspace,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
    place: AttemptPlace,
    limits: Limits,
    stop: oneshot::Receiver<()>,
    journal: Option<SlotJournal<'_>>,
) -> Result<AttemptResult, AttemptError> {
    let AttemptPlace { branch, logs } = place;
    let worktree = worktree_path(workspace, &request.agent, request.issue);
    let host = open_host(workspace)?;
    {
        let _adding = workspace.lock_worktrees().await;
        let host = host.as_ref();
        prepare_worktree(workspace, host, &worktree, &branch, request, limits.grace).await?;
    }
    let stem = format!("{}-{}-{}", request.agent, request.issue, request.attempt);
    // Only a runtime that can continue a session is given one: others start afresh.
    let resume_session = request
        .resume_session
        .clone()
        .filter(|_| runtime.resumes_sessions());
    let prompt = request.prompt(&branch, resume_session.is_some());
    let prompt_file = workspace
        .state_dir()
        .join(PROMPTS_DIR)
        .join(format!("{stem}.md"));
    write_file(&prompt_file, &prompt).await?;
    let claim = match runtime.runs_elsewhere() {
        true => {
            publish_for_runner(workspace, &branch, &request.base).await?;
            Some(claim_id(workspace, request.issue).await?)
        }
        false => None,
    };
    let spec = AgentSpec {
        agent: request.agent.clone(),
        issue: request.issue,
        attempt: request.attempt,
        title: request.title.clone(),
        branch: branch.clone(),
        worktree: worktree.clone(),
        prompt,
        prompt_file,
        resume_session,
        logs,
        claim,
        max_budget_usd: limits.budget,
    };
    host.stop_unregistered(&worktree, limits.grace).await;
    // Nothing of an earlier agent runs there now: a lock its killed git left goes.
    workspace.worktrees().clear_stale_lock(&worktree).await?;
    if journal.is_some() {
        // Journaled before the start, so that a refusal leaves no process unwatched.
        let ahead = workspace.commits_ahead(&request.base, &branch).await?;
        journal_working(
            journal,
            &request.agent,
            request.issue,
            ahead,
            PROCESS_STARTED,
        )
        .map_err(|error| AttemptError::Journal(Box::new(error)))?;
    }
    let running = runtime.start(&spec).await?;
    // A process too quick to be seen has already ended: there is nothing to re-adopt.
    let registered = host.handle(&running).map(|handle| RegisteredAgent {
        agent: request.agent.clone(),
        issue: request.issue,
        attempt: request.attempt,
        handle,
        runtime: runtime.name().to_owned(),
        reports_result: runtime.reports_result(),
        branch: branch.clone(),
        base: request.base.clone(),
        worktree: worktree.clone(),
        logs: spec.logs.clone(),
        started_at: Timestamp::now(),
        containment: running.containment.clone(),
    });
    if let Some(entry) = &registered {
        host.register(entry)?;
    }
    let report = host
        .watch(running, limits, stop)
        .await
        .map_err(|source| AttemptError::Io {
            action: "supervise the agent reading its log",
            path: spec.logs.stdout.clone(),
            source,
        })?;
    let ended = EndedAttempt {
        agent: request.agent.clone(),
        runtime: runtime.name().to_owned(),
        issue: request.issue,
        branch,
        base: request.base.clone(),
        worktree,
        logs: spec.logs,
        reports_result: runtime.reports_result(),
        elsewhere: runtime.runs_elsewhere(),
        report,
    };
    finish(workspace, ended).await
}

/// An attempt whose agent has ended, before Clambake's own bookkeeping.
struct EndedAttempt {
    agent: String,
    runtime: String,
    issue: u64,
    branch: String,
    base: String,
    worktree: PathBuf,
    logs: LogFiles,
    reports_result: bool,
    /// It ran on another machine, which pushed its work to the remote.
    elsewhere: bool,
    report: AttemptReport,
}

/// Commits leftovers, counts commits and classifies. The agent's registration stays: until
/// the caller has acted on the verdict ([`forget_registration`]), a restart re-adopts the
/// ended agent and judges it again from its log, so a kill cannot lose the verdict.
async fn finish(workspace: &Workspace, ended: EndedAttempt) -> Result<AttemptResult, AttemptError> {
    let bookkeeping = async {
        if ended.elsewhere {
            fetch_pushed(workspace, &ended.branch, &ended.worktree).await?;
        }
        // A worktree recovery already put away had its leftovers committed then.
        discard_interrupted_checks(workspace, &ended.worktree, &ended.logs).await?;
        let committed_leftovers = ended.worktree.is_dir()
            && commit_leftovers(
                workspace.worktrees(),
                &ended.worktree,
                ended.issue,
                &ended.agent,
            )
            .await?;
        let commits_ahead = match workspace.refs().branch_tip(&ended.branch).await? {
            Some(_) => workspace.commits_ahead(&ended.base, &ended.branch).await?,
            None => 0,
        };
        Ok::<_, AttemptError>((committed_leftovers, commits_ahead))
    }
    .await;
    let (committed_leftovers, commits_ahead) = bookkeeping?;
    let mut ended = ended;
    // Terminated by a `clambake terminate` in another process, unless it ended on its own
    // with success just before (a stop then is no verdict on its work).
    if ended.report.terminated.is_none()
        && ended.report.exit != ExitStatus::Code(0)
        && ended.logs.stop_request().exists()
    {
        ended.report.terminated = Some(Termination::Requested);
    }
    let mut classification = classify(&Evidence {
        result: ended.report.totals.result.as_ref(),
        exit: ended.report.exit,
        terminated: ended.report.terminated,
        commits_ahead,
        reports_result: ended.reports_result,
    });
    // As a test runner reports a leak: part of the verdict, whatever the outcome. An attempt
    // Clambake terminated left nothing: its processes were being stopped as it ended.
    let strays = ended
        .report
        .strays
        .iter()
        .map(|s| (s.pid, s.command.as_str()));
    let left_running = left_running(strays).filter(|_| ended.report.terminated.is_none());
    if let Some(left) = &left_running {
        classification.reason = format!("{}; {left}", classification.reason);
    }
    // The verdict quotes what the agent wrote and left running, which may hold a secret it
    // found (the GitHub token `gh auth token` gives it): redacted before it is logged,
    // journaled or commented.
    classification.reason = crate::app::compose::secrets()
        .redact(&classification.reason)
        .into_owned();
    // Work the agent calls finished must pass the project's checks before it may land.
    let checks = match classification.outcome == Outcome::Success && ended.worktree.is_dir() {
        true => check_work(workspace, &ended.worktree, &ended.logs).await?,
        false => None,
    };
    if let Some(checked) = &checks {
        checked.judge(&mut classification);
    }
    let exit_to_outcome = ended.report.exited_at.elapsed();
    tracing::info!(
        agent = %ended.agent,
        issue = ended.issue,
        outcome = %classification.outcome,
        reason = %classification.reason,
        commits_ahead,
        "attempt classified"
    );
    Ok(AttemptResult {
        agent: ended.agent,
        runtime: ended.runtime,
        issue: ended.issue,
        branch: ended.branch,
        worktree: ended.worktree,
        logs: ended.logs,
        report: ended.report,
        committed_leftovers,
        checks,
        commits_ahead,
        classification,
        left_running,
        exit_to_outcome,
    })
}

/// Refuses to start `agent` if it is already running, or if `max` agents already are.
pub fn check_slot_free(host: &dyn AgentHost, agent: &str, max: u32) -> Result<(), AttemptError> {
    let running: Vec<RunningSlot> = host
        .list()?
        .into_iter()
        .filter(|entry| host.is_alive(&entry.handle))
        .map(|entry| RunningSlot {
            pid: host.pid(&entry.handle),
            agent: entry.agent,
            issue: entry.issue,
        })
        .collect();
    Ok(check_slot(agent, &running, max)?)
}

/// The host of this workspace's agents, which registers them in `.clambake/agents.db`, and
/// reaches the repository's GitHub Actions when a run there must be asked about. A
/// configuration that does not load follows runs by the defaults: loading it fails
/// elsewhere, where it matters.
pub fn open_host(workspace: &Workspace) -> Result<Box<dyn AgentHost>, AttemptError> {
    let config = workspace
        .load_config()
        .map(|l| l.config)
        .unwrap_or_default();
    let reach = workspace.clone();
    crate::app::compose::agent_host(&workspace.state_dir(), &config, move || {
        let workspace = reach.clone();
        async move { workspace.open_actions().await.map_err(|e| e.to_string()) }
    })
}

/// Forgets `agent`'s registration, once its attempt's verdict has been acted on.
pub fn forget_registration(workspace: &Workspace, agent: &str) -> Result<(), AttemptError> {
    Ok(open_host(workspace)?.forget(agent)?)
}

/// Takes over one registered agent that a previous orchestrator started. A live one (the same
/// pid with the same start time) is watched again from its log until it ends (or `stop` asks
/// it to); a dead one is judged from its log at once. Either is then finished like any attempt.
pub async fn adopt_agent(
    workspace: &Workspace,
    entry: RegisteredAgent,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> Result<AttemptResult, AttemptError> {
    let report = open_host(workspace)?
        .adopt(&entry, limits, stop)
        .await
        .map_err(|source| AttemptError::Io {
            action: "read the log of the re-adopted agent",
            path: entry.logs.stdout.clone(),
            source,
        })?;
    let ended = EndedAttempt {
        agent: entry.agent,
        runtime: entry.runtime,
        issue: entry.issue,
        branch: entry.branch,
        base: entry.base,
        worktree: entry.worktree,
        logs: entry.logs,
        reports_result: entry.reports_result,
        elsewhere: matches!(entry.handle, AgentHandle::Actions { .. }),
        report,
    };
    finish(workspace, ended).await
}

/// Moves a directory that git no longer knows as a worktree out of the way, under
/// `.clambake/broken-worktrees/`, keeping whatever files it holds, and forgets its metadata.
async fn set_aside_broken(git: &dyn Worktrees, worktree: &Path) -> Result<(), AttemptError> {
    let name = worktree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let state_dir = worktree.parent().and_then(Path::parent).unwrap_or(worktree);
    let aside = state_dir
        .join("broken-worktrees")
        .join(format!("{name}-{}", Timestamp::now().as_second()));
    tracing::warn!(worktree = %worktree.display(), aside = %aside.display(), "setting a broken worktree aside");
    let io = |source| AttemptError::Io {
        action: "set aside the broken worktree",
        path: worktree.to_path_buf(),
        source,
    };
    if let Some(parent) = aside.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::rename(worktree, &aside).map_err(io)?;
    git.prune().await?;
    Ok(())
}

/// Gives the attempt its worktree on `branch`: reused if it is already there, on the existing
/// branch if an earlier attempt made one (taking over other slots' earlier attempts), or on
/// the remote's if another orchestrator's attempt published it, else on a new branch from
/// `base`.
async fn prepare_worktree(
    workspace: &Workspace,
    host: &dyn AgentHost,
    worktree: &std::path::Path,
    branch: &str,
    request: &AttemptRequest,
    grace: Duration,
) -> Result<(), AttemptError> {
    let git = workspace.worktrees();
    let base = request.base.as_str();
    if worktree.exists() && branch_deleted_under(workspace, worktree, branch).await? {
        // A commit there would start a history of its own, sharing nothing with the base.
        set_aside_broken(git, worktree).await?;
    }
    if let Some(agent_worktrees) = worktree.parent() {
        let takeover = Takeover {
            issue: request.issue,
            branch,
            base,
            agent_worktrees,
            pull_request_heads: &request.pull_request_heads,
            host,
        };
        take_over_earlier_attempts(workspace.repository(), &takeover, grace).await?;
    }
    if worktree.exists() && creation_interrupted(worktree).await {
        // Nothing ran in it yet: agents start only once it is complete. Made again below.
        git.remove(worktree, Removal::Locked).await?;
    }
    if worktree.exists() && !git.is_worktree(worktree).await {
        set_aside_broken(git, worktree).await?;
    }
    if worktree.exists() {
        let found = git.branch(worktree).await?.unwrap_or_default();
        return if found == branch {
            Ok(())
        } else {
            Err(AttemptError::WorktreeOnOtherBranch {
                worktree: worktree.to_path_buf(),
                branch: branch.to_owned(),
                found,
            })
        };
    }
    let start = match workspace.refs().branch_tip(branch).await? {
        Some(local) => {
            continue_published(workspace, branch, &local).await?;
            None
        }
        // An attempt of another orchestrator published its work there: this one continues it.
        None => match workspace.remote().tip(branch).await? {
            Some(published) => {
                workspace.refs().create_branch(branch, &published).await?;
                None
            }
            None => Some(base),
        },
    };
    git.add(worktree, branch, start).await?;
    Ok(())
}

/// Moves `branch` (here at `local`) forward to the remote's tip when that holds it and more:
/// an attempt elsewhere (another orchestrator's, before it fell silent) went on with this work
/// there, and this attempt continues it rather than a stale copy. Diverged histories are left
/// as they are: publishing never overwrites the remote's.
async fn continue_published(
    workspace: &Workspace,
    branch: &str,
    local: &str,
) -> Result<(), AttemptError> {
    let Some(published) = workspace.remote().tip(branch).await? else {
        return Ok(());
    };
    if published != local && workspace.refs().is_ancestor(local, &published).await? {
        workspace
            .refs()
            .compare_and_swap_ref(
                &format!("refs/heads/{branch}"),
                &published,
                Some(local),
                "clambake: continue the work published on the remote",
            )
            .await?;
    }
    Ok(())
}

/// Whether `worktree` has `branch` checked out but the branch itself is gone (deleted by
/// something that did not look at worktrees): its HEAD is unborn.
async fn branch_deleted_under(
    workspace: &Workspace,
    worktree: &Path,
    branch: &str,
) -> Result<bool, AttemptError> {
    let worktrees = workspace.worktrees();
    if creation_interrupted(worktree).await || !worktrees.is_worktree(worktree).await {
        return Ok(false);
    }
    let checked_out = worktrees.branch(worktree).await?;
    Ok(checked_out.as_deref() == Some(branch)
        && workspace.refs().branch_tip(branch).await?.is_none())
}

async fn write_file(path: &std::path::Path, text: &str) -> Result<(), AttemptError> {
    let io = |source| AttemptError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    tokio::fs::write(path, text).await.map_err(io)
}

/// A `stop` receiver that never fires (its sender is gone), for attempts nobody will
/// terminate by hand.
pub fn never_stop() -> oneshot::Receiver<()> {
    oneshot::channel().1
}
