//! The process registry across an orchestrator crash: agents write their own logs, so they
//! outlive the supervisor; a new one re-adopts the live agents from the registry and judges
//! the dead ones from their logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::process::is_running;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{
    AttemptError, AttemptRequest, AttemptResult, adopt_agent, forget_registration, never_stop,
    open_host, run_attempt,
};
use clambake::app::lifecycle::transitions::open_journal;
use clambake::core::agents::outcome::{ExitStatus, Outcome};
use clambake::ports::agent::LogFiles;
use clambake::ports::agent_host::AgentHandle;
use clambake::ports::agent_host::Limits;
use clambake::ports::agent_registry::RegisteredAgent;
use clambake::ports::journal::{AttemptLog, AttemptRecord};

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, is_alive, wait_for_async, write_script};

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(30),
    timeout: Duration::from_secs(60),
    grace: Duration::from_secs(5),
    budget: None,
};

/// An agent that reports in, waits until `go` exists, then commits and reports success.
fn waiting_agent(scripts: &Path, go: &Path) -> CommandRuntime {
    let script = write_script(
        scripts,
        "agent.sh",
        r#"echo '{"type":"system","subtype":"init","session_id":"s-adopted"}'
while [ ! -e "$1" ]; do sleep 0.02; done
echo work > work.txt && git add work.txt && git commit -qm 'Adopted work'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":3}'
"#,
    );
    CommandRuntime::new(
        format!("{} {}", script.display(), go.display()),
        String::new(),
    )
}

/// What a restarted run does first: takes over every registered agent, judges each attempt,
/// and (its verdict acted on) forgets the registration.
async fn adopt_agents(
    workspace: &Workspace,
    limits: Limits,
) -> Result<Vec<AttemptResult>, AttemptError> {
    let watched: Vec<_> = open_host(workspace)?
        .list()?
        .into_iter()
        .map(|entry| {
            let workspace = workspace.clone();
            tokio::spawn(async move { adopt_agent(&workspace, entry, limits, never_stop()).await })
        })
        .collect();
    let mut results = Vec::new();
    for adopted in watched {
        let result = adopted.await.expect("adoption does not panic")?;
        forget_registration(workspace, &result.agent)?;
        results.push(result);
    }
    Ok(results)
}

/// Starts an attempt, waits for its registration, then drops its supervisor: the crash.
async fn start_then_crash(workspace: &Workspace, runtime: CommandRuntime) -> RegisteredAgent {
    let supervisor = tokio::spawn({
        let workspace = Workspace::discover(&workspace.root).await.unwrap();
        async move {
            let request = AttemptRequest {
                agent: "agent001".to_owned(),
                issue: 5,
                title: "Survive a crash".to_owned(),
                body: String::new(),
                comments: Vec::new(),
                comments_left_out: None,
                attempt: 1,
                base: "main".to_owned(),
                pull_request_heads: Vec::new(),
                resume_session: None,
                checks_failure: None,
                review_feedback: Vec::new(),
            };
            run_attempt(&workspace, &runtime, &request, LIMITS, never_stop()).await
        }
    });
    let registry = open_host(workspace).unwrap();
    let registered = wait_for_async("the agent to be registered", async || {
        Some(registry.list().unwrap()).filter(|listed| !listed.is_empty())
    })
    .await;
    supervisor.abort();
    assert!(supervisor.await.unwrap_err().is_cancelled());
    let [entry] = <[RegisteredAgent; 1]>::try_from(registered).expect("one registered agent");
    assert!(is_alive(&entry.handle), "the agent outlived its supervisor");
    entry
}

#[tokio::test]
async fn a_live_agent_is_re_adopted_after_a_crash_and_classified_when_it_ends() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let go = scripts.path().join("go");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let entry = start_then_crash(&workspace, waiting_agent(scripts.path(), &go)).await;
    assert_eq!(entry.issue, 5);
    assert_eq!(entry.branch, "agent001/5-survive-a-crash");
    assert!(
        entry
            .logs
            .stdout
            .ends_with(".clambake/logs/agent001-5-1.jsonl")
    );

    // Its first step finds the agent alive (waiting for `go`) and starts watching it.
    let mut adoption = std::pin::pin!(adopt_agent(&workspace, entry.clone(), LIMITS, never_stop()));
    assert!(
        futures_util::poll!(adoption.as_mut()).is_pending(),
        "the adopted agent is still working"
    );
    std::fs::write(&go, "").unwrap();
    let result = adoption.await.unwrap();
    forget_registration(&workspace, &result.agent).unwrap();

    assert_eq!(result.agent, "agent001");
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
    assert_eq!(
        result.report.exit,
        ExitStatus::Code(0),
        "its waiter recorded how it ended"
    );
    assert_eq!(result.commits_ahead, 1);
    assert_eq!(
        result.report.totals.session_id.as_deref(),
        Some("s-adopted"),
        "the log was read from its start"
    );
    assert_eq!(result.report.totals.turns, 3);
    assert!(!is_alive(&entry.handle));
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    assert_eq!(open_host(&workspace).unwrap().list().unwrap(), []);
}

#[tokio::test]
async fn an_agent_that_ended_while_nobody_watched_is_judged_by_its_log() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let go = scripts.path().join("go");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let entry = start_then_crash(&workspace, waiting_agent(scripts.path(), &go)).await;
    std::fs::write(&go, "").unwrap();
    wait_for_async("the agent to exit", async || !is_alive(&entry.handle)).await;
    let results = adopt_agents(&workspace, LIMITS).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].classification.outcome, Outcome::Success);
    assert_eq!(results[0].commits_ahead, 1);
    assert_eq!(open_host(&workspace).unwrap().list().unwrap(), []);
}

/// A plain command (no result event): waits until `go` exists, commits, then exits `code`.
fn silent_agent(scripts: &Path, go: &Path, code: u8) -> CommandRuntime {
    let script = write_script(
        scripts,
        "silent.sh",
        &format!(
            "while [ ! -e \"$1\" ]; do sleep 0.02; done\n\
             echo work > work.txt && git add work.txt && git commit -qm 'Silent work'\n\
             exit {code}\n"
        ),
    );
    CommandRuntime::new(
        format!("{} {}", script.display(), go.display()),
        String::new(),
    )
}

#[tokio::test]
async fn a_command_that_succeeded_while_nobody_watched_is_judged_by_its_recorded_exit() {
    for (code, outcome, exit) in [
        (0, Outcome::Success, ExitStatus::Code(0)),
        (3, Outcome::Crashed, ExitStatus::Code(3)),
    ] {
        let repo = TestRepo::new();
        let scripts = tempfile::tempdir().unwrap();
        let go = scripts.path().join("go");
        let workspace = Workspace::discover(repo.path()).await.unwrap();
        let entry = start_then_crash(&workspace, silent_agent(scripts.path(), &go, code)).await;
        std::fs::write(&go, "").unwrap();
        wait_for_async("the agent to exit", async || !is_alive(&entry.handle)).await;
        let results = adopt_agents(&workspace, LIMITS).await.unwrap();
        let [result] = <[_; 1]>::try_from(results).expect("one adopted agent");
        assert_eq!(result.report.exit, exit);
        assert_eq!(
            result.classification.outcome, outcome,
            "{:?}",
            result.classification
        );
        assert_eq!(result.commits_ahead, 1);
    }
}

#[tokio::test]
async fn a_re_adopted_command_that_succeeds_is_judged_by_its_recorded_exit() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let go = scripts.path().join("go");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    start_then_crash(&workspace, silent_agent(scripts.path(), &go, 0)).await;
    let adoption = tokio::spawn(async move { adopt_agents(&workspace, LIMITS).await });
    std::fs::write(&go, "").unwrap();
    let results = adoption.await.unwrap().unwrap();
    let [result] = <[_; 1]>::try_from(results).expect("one adopted agent");
    assert_eq!(result.report.exit, ExitStatus::Code(0));
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
}

#[tokio::test]
async fn the_waiter_outlives_a_terminate_of_an_unwatched_agent_and_records_its_end() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let got = scripts.path().join("got-term");
    let ready = scripts.path().join("trap-set");
    let script = write_script(
        scripts.path(),
        "stubborn.sh",
        &format!(
            "trap 'echo yes > {}; exit 143' TERM\n: > {}\nwhile :; do sleep 0.02; done\n",
            got.display(),
            ready.display()
        ),
    );
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let entry = start_then_crash(&workspace, runtime).await;
    // A SIGTERM before the shell has set its trap would end it unseen.
    wait_for_async("the agent to set its trap", async || ready.exists()).await;
    let report = clambake::app::agents::terminate::terminate(&workspace, "agent001", LIMITS.grace)
        .await
        .unwrap();
    assert_eq!(
        report.stopped,
        clambake::ports::agent_host::Stopped::Gracefully
    );
    assert!(got.exists(), "SIGTERM reached the agent under its waiter");
    assert_eq!(
        std::fs::read_to_string(entry.logs.stdout.with_extension("status")).unwrap(),
        "143\n"
    );
    let results = adopt_agents(&workspace, LIMITS).await.unwrap();
    let [result] = <[_; 1]>::try_from(results).expect("one adopted agent");
    assert_eq!(result.report.exit, ExitStatus::Signal(15));
    assert_eq!(
        result.classification.outcome,
        Outcome::Killed,
        "{:?}",
        result.classification
    );
}

#[tokio::test]
async fn a_dead_agent_whose_worktree_recovery_put_away_is_still_judged_and_forgotten() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let go = scripts.path().join("go");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let entry = start_then_crash(&workspace, waiting_agent(scripts.path(), &go)).await;
    std::fs::write(&go, "").unwrap();
    wait_for_async("the agent to exit", async || !is_alive(&entry.handle)).await;
    // `agent recover` put the orphaned worktree away (its branch stays, with the work).
    repo.git(&["worktree", "remove", entry.worktree.to_str().unwrap()]);

    let results = adopt_agents(&workspace, LIMITS).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].classification.outcome, Outcome::Success);
    assert_eq!(results[0].commits_ahead, 1);
    assert!(!results[0].committed_leftovers);
    assert_eq!(
        open_host(&workspace).unwrap().list().unwrap(),
        [],
        "a registration left behind would fail every later start"
    );
}

#[tokio::test]
async fn a_reused_pid_is_never_taken_for_the_registered_agent() {
    let repo = TestRepo::new();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let worktree = workspace.state_dir().join("worktrees").join("agent003-9");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "agent003/9-old",
        worktree.to_str().unwrap(),
        "main",
    ]);
    // This very test process holds the pid now, but it started at another time.
    let pid = std::process::id();
    let registry = open_host(&workspace).unwrap();
    registry
        .register(&RegisteredAgent {
            agent: "agent003".to_owned(),
            issue: 9,
            attempt: 1,
            handle: AgentHandle::Local { pid, start_time: 1 },
            runtime: "claude".to_owned(),
            reports_result: true,
            branch: "agent003/9-old".to_owned(),
            base: "main".to_owned(),
            worktree,
            logs: LogFiles::in_dir(&workspace.state_dir().join("logs"), "agent003", 9, 1),
            started_at: jiff::Timestamp::now(),
            containment: None,
        })
        .unwrap();
    let results = adopt_agents(&workspace, LIMITS).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].classification.outcome, Outcome::Crashed);
    assert_eq!(results[0].report.exit, ExitStatus::Unknown);
    assert!(is_running(
        pid,
        clambake::adapters::hosts::local::procfs::stat(pid)
            .unwrap()
            .start_time
    ));
    assert_eq!(registry.list().unwrap(), []);
}

/// An agent that reports success after committing, the first time; any later run on the same
/// issue fails loudly, so a second attempt shows in the outcome.
fn once_only_agent(scripts: &Path) -> PathBuf {
    let ran = scripts.join("ran");
    write_script(
        scripts,
        "once.sh",
        &format!(
            r#"if [ -e {ran} ]; then echo "ran twice" >&2; exit 9; fi
touch {ran}
echo '{{"type":"system","subtype":"init","session_id":"s-once"}}'
echo done > done.txt && git add done.txt && git commit -qm 'Done'
echo '{{"type":"result","subtype":"success","is_error":false,"num_turns":1}}'
"#,
            ran = ran.display()
        ),
    )
}

/// A repository on `backend` whose agent001 ran an attempt at its claimed issue #1 to its
/// verdict (through `once_only_agent`), as a run that then died left it: the registration
/// still there.
async fn ended_attempt(backend: Backend, scripts: &Path) -> (TestRepo, Workspace, AttemptResult) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let script = once_only_agent(scripts);
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        ("agents.command", script.display().to_string()),
        ("bundling.enabled", "false".to_owned()),
    ]);
    repo.clambake(&["issue", "create", "--title", "Once", "--label", "agent001"])
        .success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let request = AttemptRequest {
        agent: "agent001".to_owned(),
        issue: 1,
        title: "Once".to_owned(),
        body: String::new(),
        comments: Vec::new(),
        comments_left_out: None,
        attempt: 1,
        base: "main".to_owned(),
        pull_request_heads: Vec::new(),
        resume_session: None,
        checks_failure: None,
        review_feedback: Vec::new(),
    };
    let ended = run_attempt(&workspace, &runtime, &request, LIMITS, never_stop())
        .await
        .unwrap();
    (repo, workspace, ended)
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_verdict_not_yet_acted_on_when_the_run_died_is_judged_again_not_rerun(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let scripts = tempfile::tempdir().unwrap();
    // The attempt ran to its verdict; the run died before acting on it.
    let (repo, workspace, ended) = ended_attempt(backend, scripts.path()).await;
    assert_eq!(ended.classification.outcome, Outcome::Success);
    assert_eq!(open_host(&workspace).unwrap().list().unwrap().len(), 1);
    // Spawning the slot by hand now would replace the registration and lose the verdict.
    let by_hand = repo.clambake(&["spawn", "--agent", "agent001", "--issue", "1"]);
    assert_eq!(by_hand.code, 8, "{}", by_hand.stderr);
    assert!(
        by_hand
            .stderr
            .contains("agent001's last attempt, on #1, ended but no run has acted on its verdict"),
        "{}",
        by_hand.stderr
    );

    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    assert_eq!(summary["events"][0]["event"], "adopted", "{summary}");
    assert_eq!(summary["events"][1]["outcome"], "success", "{summary}");
    assert_eq!(
        summary["events"].as_array().unwrap().len(),
        2,
        "no second attempt"
    );
    assert_eq!(repo.labels_of(1), ["route:review"], "{summary}");
    assert_eq!(open_host(&workspace).unwrap().list().unwrap(), []);
    if backend == Backend::Github {
        assert_eq!(
            repo.origin_tip(&ended.branch),
            Some(repo.git(&["rev-parse", &ended.branch]))
        );
    }
    repo.assert_no_violations();
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_verdict_acted_on_before_the_run_died_is_not_acted_on_again(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let scripts = tempfile::tempdir().unwrap();
    let (repo, workspace, ended) = ended_attempt(backend, scripts.path()).await;
    // The run landed it and recorded the attempt, then died before forgetting the
    // registration; a person has since moved the issue on.
    open_journal(&workspace)
        .unwrap()
        .record_attempt(&AttemptRecord {
            issue: 1,
            attempt: 1,
            agent: "agent001".to_owned(),
            branch: ended.branch.clone(),
            outcome: "success".to_owned(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: None,
            turns: 1,
            log: String::new(),
            finished_at: jiff::Timestamp::now(),
            runtime: Some("command".to_owned()),
            session_id: None,
        })
        .unwrap();
    repo.clambake(&[
        "issue",
        "label",
        "1",
        "--add",
        "human-only",
        "--remove",
        "agent001",
    ])
    .success();

    let summary = repo
        .clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    assert_eq!(summary["events"], serde_json::json!([]), "{summary}");
    assert_eq!(repo.labels_of(1), ["human-only"]);
    assert_eq!(open_host(&workspace).unwrap().list().unwrap(), []);
    repo.assert_no_violations();
}
