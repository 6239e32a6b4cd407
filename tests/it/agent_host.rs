//! The agent host as `clambake run` uses it: the run's busy slots are registered agents shown
//! by their own pid, what an agent said is told from its log while it runs and after, and what
//! an attempt leaves running is stopped and told in its verdict.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::LocalHost;
use clambake::core::agents::events::{AgentEvent, ResultSubtype};
use clambake::ports::AgentRuntime;
use clambake::ports::agent::{AgentSpec, LogFiles};
use clambake::ports::agent_host::{AgentHost, EventWindow, Limits, NumberedEvent};
use tokio::sync::oneshot;

use crate::support::{TestRepo, process_alive, wait_for_async, write_script};

/// Generous: the machine may be loaded.
const PATIENCE: Duration = Duration::from_secs(60);

/// A repository with one slot, its `command` agent `body` (run in the attempt's worktree),
/// and one ready issue.
fn repo_with_agent(scripts: &Path, body: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    let script = write_script(scripts, "agent.sh", body);
    repo.configure(&[
        ("agents.runtime", "command"),
        ("agents.command", script.to_str().unwrap()),
        ("agents.max_attempts", "1"),
        ("bundling.trigger", "manual"),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Host me",
        "--label",
        "route:ready",
    ])
    .success();
    repo
}

/// The number in `file`, once something has written it whole.
fn wait_for_pid(file: &Path) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            return text.trim().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The agent writes its pid and its daemon's where `dir` is, then ends as `end` says.
fn daemonizing_agent(dir: &Path, end: &str) -> String {
    let dir = dir.display();
    format!(
        "setsid sh -c 'echo $$ > \"{dir}/daemon.tmp\" && mv \"{dir}/daemon.tmp\" \"{dir}/daemon.pid\"; exec sleep 300' > /dev/null 2>&1 < /dev/null &\n\
         while [ ! -s \"{dir}/daemon.pid\" ]; do sleep 0.01; done\n\
         {end}\n"
    )
}

fn last_comment(repo: &TestRepo) -> String {
    let shown = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json();
    shown["comments"].as_array().unwrap().last().unwrap()["body"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_runs_busy_slot_is_listed_with_its_agents_own_pid() {
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path().display();
    let body = format!(
        "echo $$ > \"{dir}/agent.tmp\" && mv \"{dir}/agent.tmp\" \"{dir}/agent.pid\"\n\
         echo '{{\"type\":\"system\",\"subtype\":\"init\"}}'\n\
         while [ ! -e \"{dir}/go\" ]; do sleep 0.02; done\n\
         echo work > work.txt && git add work.txt && git commit -qm 'Work'\n\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n"
    );
    let repo = repo_with_agent(scripts.path(), &body);
    let mut run = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(["run", "--until-idle", "--no-view"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent_pid = wait_for_pid(&scripts.path().join("agent.pid"));
    let deadline = Instant::now() + PATIENCE;
    let listed = loop {
        let listed = repo.clambake(&["agent", "list", "--json"]).success().json();
        if let Some(slot) = listed.as_array().unwrap().first() {
            break slot.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the run never registered its agent"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(listed["agent"], "agent001", "{listed}");
    assert_eq!(listed["pid"], agent_pid, "{listed}");
    assert_ne!(listed["pid"], run.id(), "{listed}");
    let monitored = repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(monitored["pid"], agent_pid, "{monitored}");
    std::fs::write(scripts.path().join("go"), "").unwrap();
    assert!(run.wait().unwrap().success());
    assert_eq!(repo.labels_of(1), ["route:review"]);
}

#[test]
fn a_daemon_a_landed_attempt_left_running_is_stopped_and_told() {
    let scripts = tempfile::tempdir().unwrap();
    // Agents commit with git's automatic maintenance off: the commit's detached
    // `git maintenance` would be one more process left running, now and then still there
    // when the agent ends, and named in the comment as the agent's.
    let seen = scripts.path().join("maintenance");
    let body = daemonizing_agent(
        scripts.path(),
        &format!(
            "echo work > work.txt && git add work.txt && git commit -qm 'Work'\n\
             git config --get maintenance.auto > '{}'\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'",
            seen.display()
        ),
    );
    let repo = repo_with_agent(scripts.path(), &body);
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    let daemon = wait_for_pid(&scripts.path().join("daemon.pid"));
    assert!(!process_alive(daemon), "the daemon was stopped");
    assert_eq!(repo.labels_of(1), ["route:review"]);
    let told = format!("the agent left 1 process running (pid {daemon}");
    let comment = last_comment(&repo);
    assert!(comment.contains(&told), "{comment}");
    assert!(comment.contains("stopped by Clambake"), "{comment}");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "false\n");
    let recorded = repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(recorded["outcome"], "success", "{recorded}");
    let reason = recorded["reason"].as_str().unwrap();
    assert!(reason.contains(&told), "{reason}");
}

#[test]
fn a_daemon_a_failed_attempt_left_running_is_stopped_and_told() {
    let scripts = tempfile::tempdir().unwrap();
    let body = daemonizing_agent(scripts.path(), "exit 3");
    let repo = repo_with_agent(scripts.path(), &body);
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    let daemon = wait_for_pid(&scripts.path().join("daemon.pid"));
    assert!(!process_alive(daemon), "the daemon was stopped");
    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let comment = last_comment(&repo);
    assert!(
        comment.contains(&format!("the agent left 1 process running (pid {daemon}")),
        "{comment}"
    );
}

/// The numbers and kinds of `events`.
fn kinds(events: &[NumberedEvent]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .map(|e| {
            let kind = match &e.event {
                AgentEvent::Init { .. } => "init",
                AgentEvent::Assistant { .. } => "assistant",
                AgentEvent::Text { .. } => "text",
                AgentEvent::Result(_) => "result",
                AgentEvent::User { .. } | AgentEvent::Other { .. } | AgentEvent::Spent { .. } => {
                    "other"
                }
            };
            (e.number, kind)
        })
        .collect()
}

#[tokio::test]
async fn the_host_tells_what_an_agent_said_while_it_runs_and_once_it_has_ended() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = write_script(
        dir.path(),
        "agent.sh",
        &format!(
            "echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s-host\",\"model\":\"scripted\"}}'\n\
             echo '{{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\",\"text\":\"Working.\"}}],\"usage\":{{\"input_tokens\":7,\"output_tokens\":3}}}}}}'\n\
             while [ ! -e \"{}\" ]; do sleep 0.02; done\n\
             echo 'plain words'\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"total_cost_usd\":0.25}}'\n",
            go.display()
        ),
    );
    let runtime = CommandRuntime::new(script.display().to_string(), String::new());
    let spec = AgentSpec {
        agent: "agent001".to_owned(),
        issue: 7,
        attempt: 1,
        title: "Say things".to_owned(),
        branch: "agent001/7-say-things".to_owned(),
        worktree: dir.path().to_path_buf(),
        prompt: "say things".to_owned(),
        prompt_file: dir.path().join("prompt.md"),
        resume_session: None,
        logs: LogFiles::in_dir(&dir.path().join("logs"), "agent001", 7, 1),
        claim: None,
        max_budget_usd: None,
    };
    let host = LocalHost::open(&dir.path().join("agents.db")).unwrap();
    let log = spec.logs.stdout.clone();
    let running = runtime.start(&spec).await.unwrap();
    let limits = Limits {
        stall: PATIENCE,
        timeout: PATIENCE,
        grace: Duration::from_secs(5),
        budget: None,
    };
    let (_stop, stopped) = oneshot::channel();
    let latest = EventWindow {
        from: 0,
        latest: 10,
    };
    let live = async {
        let said = wait_for_async("the agent's first two events, whole", async || {
            let said = host.said(&log, latest).await.unwrap();
            (kinds(&said.events) == [(0, "init"), (1, "assistant")]).then_some(said)
        })
        .await;
        std::fs::write(&go, "").unwrap();
        said
    };
    let (report, live) = tokio::join!(host.watch(running, limits, stopped), live);
    let report = report.unwrap();
    assert_eq!(live.totals.session_id.as_deref(), Some("s-host"));
    assert_eq!(live.totals.turns, 1);
    assert_eq!(live.totals.usage.input_tokens, 7);
    assert_eq!(live.totals.cost_usd, None);

    let ended = host
        .said(&log, EventWindow { from: 1, latest: 2 })
        .await
        .unwrap();
    assert_eq!(kinds(&ended.events), [(2, "text"), (3, "result")]);
    assert_eq!(
        ended.events[0].event,
        AgentEvent::Text {
            line: "plain words".to_owned()
        }
    );
    assert_eq!(ended.totals.events, 4);
    assert_eq!(ended.totals.turns, 2);
    assert_eq!(ended.totals.cost_usd, Some(0.25));
    assert_eq!(
        ended.totals.result.as_ref().map(|r| &r.subtype),
        Some(&ResultSubtype::Success)
    );
    // What the host tells afterwards is what it saw live.
    assert_eq!(ended.totals, report.totals);
}
