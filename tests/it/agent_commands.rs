//! The commands around running agents, through the real binary with real agent processes:
//! the slot limit, monitor, terminate, land, and the agent list.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use clambake::app::Workspace;
use clambake::app::agents::attempt::open_host;
use clambake::app::agents::monitor::{AgentState, list_agents};
use clambake::ports::agent_registry::RegisteredAgent;

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{PATIENCE, TestRepo, is_alive, wait_for_async, write_script};

/// An initialized repository on a backend with issue #1, whose `command` agent writes its pid to `go.pid`,
/// reports in, waits for the file `go` beside its script, then commits and reports success.
struct Setup {
    repo: TestRepo,
    scripts: tempfile::TempDir,
}

impl Setup {
    fn new(backend: Backend) -> Self {
        let repo = TestRepo::on(backend);
        repo.init(&[]).success();
        repo.clambake(&["issue", "create", "--title", "Add greeting", "--json"])
            .success();
        let scripts = tempfile::tempdir().unwrap();
        let script = write_script(
            scripts.path(),
            "agent.sh",
            r#"echo $$ > "$1.pid.tmp" && mv "$1.pid.tmp" "$1.pid"
echo '{"type":"system","subtype":"init","session_id":"s-cli","model":"scripted"}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"Working on it."}],"usage":{"input_tokens":7,"output_tokens":3}}}'
while [ ! -e "$1" ]; do sleep 0.02; done
echo hi > greeting.txt && git add greeting.txt && git commit -qm 'Add greeting'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.25}'
"#,
        );
        let go = scripts.path().join("go");
        let template = format!("{} {}", script.display(), go.display());
        repo.clambake(&["config", "set", "agents.command", &template])
            .success();
        Self { repo, scripts }
    }

    fn go(&self) -> PathBuf {
        self.scripts.path().join("go")
    }

    /// The agent script's own pid, once it has written it.
    async fn agent_pid(&self) -> u32 {
        let file = self.scripts.path().join("go.pid");
        wait_for_async("the agent to write its pid", async || {
            std::fs::read_to_string(&file).ok()?.trim().parse().ok()
        })
        .await
    }

    /// `clambake spawn` of `agent` on issue 1 in the background, once its agent is registered.
    async fn spawn_in_background(&self, agent: &str) -> (Child, RegisteredAgent) {
        let mut child = self
            .repo
            .clambake_command(&[])
            .args([
                "spawn",
                "--agent",
                agent,
                "--issue",
                "1",
                "--runtime",
                "command",
            ])
            .args(["--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let entry = wait_for_registration(self.repo.path(), agent, &mut child).await;
        (child, entry)
    }
}

async fn wait_for_registration(root: &Path, agent: &str, spawn: &mut Child) -> RegisteredAgent {
    let workspace = Workspace::discover(root).await.unwrap();
    wait_for_async(&format!("{agent} to be registered"), async || {
        if spawn.try_wait().unwrap().is_some() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(spawn.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("clambake spawn ended before its agent was registered: {stderr}");
        }
        open_host(&workspace)
            .ok()?
            .list()
            .unwrap()
            .into_iter()
            .find(|e| e.agent == agent)
    })
    .await
}

fn finish(child: Child) -> serde_json::Value {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn max_concurrent_is_enforced_and_a_slot_runs_one_attempt(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let setup = Setup::new(backend);
    setup
        .repo
        .clambake(&["config", "set", "agents.max_concurrent", "1"])
        .success();
    let (first, entry) = setup.spawn_in_background("agent001").await;
    assert_eq!(entry.issue, 1);

    let refused = setup.repo.clambake(&[
        "spawn",
        "--agent",
        "agent002",
        "--issue",
        "1",
        "--runtime",
        "command",
    ]);
    assert_eq!(refused.code, 4);
    assert!(
        refused
            .stderr
            .contains("all 1 agent slots are busy (agent001)"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("agents.max_concurrent 2"));

    let twice = setup.repo.clambake(&[
        "spawn",
        "--agent",
        "agent001",
        "--issue",
        "1",
        "--runtime",
        "command",
    ]);
    assert_eq!(twice.code, 4);
    assert!(
        twice
            .stderr
            .contains("agent001 is already working on issue #1"),
        "{}",
        twice.stderr
    );

    std::fs::write(setup.go(), "").unwrap();
    assert_eq!(finish(first)["outcome"], "success");
    // The slot is free again; its finished work keeps issue #1 claimed for `land`.
    setup
        .repo
        .clambake(&["issue", "create", "--title", "Another"])
        .success();
    let report = setup
        .repo
        .clambake(&[
            "spawn",
            "--agent",
            "agent002",
            "--issue",
            "2",
            "--runtime",
            "command",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["outcome"], "success");
    assert_eq!(setup.repo.labels_of(1), ["agent001"]);
    assert_eq!(setup.repo.labels_of(2), ["agent002"]);
    setup.repo.assert_no_violations();
}

/// Waits until the agent's log holds `events` events, by asking `monitor --json`.
async fn wait_for_events(repo: &TestRepo, agent: &str, events: u64) -> serde_json::Value {
    wait_for_async(&format!("{agent} to log {events} events"), async || {
        let status = repo
            .clambake(&["monitor", "--agent", agent, "--json"])
            .success()
            .json();
        if status["events"].as_u64() >= Some(events) {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_shows_a_running_agent_and_follows_it_to_its_end() {
    let setup = Setup::new(Backend::Local);
    let (spawned, entry) = setup.spawn_in_background("agent001").await;
    let status = wait_for_events(&setup.repo, "agent001", 2).await;
    assert_eq!(status["state"], "running");
    assert_eq!(status["pid"], setup.agent_pid().await);
    assert_eq!(status["issue"], 1);
    assert_eq!(status["runtime"], "command");
    assert_eq!(status["session_id"], "s-cli");
    assert_eq!(status["model"], "scripted");
    assert_eq!(status["turns"], 1);
    assert_eq!(status["usage"]["input_tokens"], 7);
    assert!(status["last_activity"].is_string());
    // Its uptime is the time since it was registered, in whole seconds, as of the asking.
    let asked = jiff::Timestamp::now();
    let status = setup
        .repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    let answered = jiff::Timestamp::now();
    let since = |t: jiff::Timestamp| t.duration_since(entry.started_at).as_secs();
    let uptime = status["uptime_seconds"].as_i64().unwrap();
    assert!(
        (since(asked)..=since(answered)).contains(&uptime),
        "uptime {uptime}s, registered at {}, asked at {asked}",
        entry.started_at
    );
    let events = status["latest_events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["event"]["kind"], "assistant");

    let text = setup
        .repo
        .clambake(&["monitor", "--agent", "agent001"])
        .success()
        .stdout;
    assert!(
        text.contains("agent001 on issue #1 (attempt 1, command): running"),
        "{text}"
    );
    // Its stream gives tokens as it goes, the cost only in its final result.
    assert!(
        text.contains("1 turn(s), cost known when it ends, 2 event(s), 7 tokens in / 3 out"),
        "{text}"
    );
    assert!(text.contains("assistant: Working on it."), "{text}");

    let mut follower = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(setup.repo.path())
        .args(["monitor", "--agent", "agent001", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_sender, followed) = std::sync::mpsc::channel();
    let stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(stdout) {
            let _ = line_sender.send(serde_json::from_str::<serde_json::Value>(&line.unwrap()));
        }
    });
    let mut lines: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            followed
                .recv_timeout(PATIENCE)
                .expect("the follower to show the two events logged so far")
                .unwrap()
        })
        .collect();
    std::fs::write(setup.go(), "").unwrap();
    assert_eq!(finish(spawned)["outcome"], "success");
    assert!(follower.wait().unwrap().success());
    lines.extend(followed.into_iter().map(Result::unwrap));
    let numbers: Vec<u64> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [0, 1, 2], "every event once, in order");
    assert_eq!(lines[2]["event"]["kind"], "result");
    let last = lines.last().unwrap();
    assert_eq!(last["state"], "exited");
    assert_eq!(last["cost_usd"], 0.25);

    // The attempt is over: monitor shows it as recorded, instead of failing.
    let ended = setup
        .repo
        .clambake(&["monitor", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(ended["state"], "ended", "{ended}");
    assert_eq!(ended["outcome"], "success");
    assert_eq!(ended["turns"], 2);
    assert_eq!(ended["cost_usd"], 0.25);
    assert_eq!(ended["session_id"], "s-cli");
    assert_eq!(ended["attempt"], 1);
    let told = setup
        .repo
        .clambake(&["monitor", "--agent", "agent001"])
        .success()
        .stdout;
    assert!(
        told.contains("agent001 on issue #1 (attempt 1, command): ended success"),
        "{told}"
    );
    assert!(
        told.contains("2 turn(s), cost $0.2500, session s-cli"),
        "{told}"
    );

    let never = setup.repo.clambake(&["monitor", "--agent", "agent003"]);
    assert_eq!(never.code, 8);
    assert!(
        never.stderr.contains("agent003 is not running"),
        "{}",
        never.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_stops_a_running_agent_and_its_supervisor_classifies_it() {
    let setup = Setup::new(Backend::Local);
    let (spawned, entry) = setup.spawn_in_background("agent001").await;
    wait_for_events(&setup.repo, "agent001", 2).await;
    let pid = setup.agent_pid().await;
    let report = setup
        .repo
        .clambake(&[
            "terminate",
            "--agent",
            "agent001",
            "--grace",
            "2s",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["pid"], pid);
    assert_eq!(report["stopped"], "gracefully");
    assert!(!is_alive(&entry.handle));
    let spawned = finish(spawned);
    assert_eq!(spawned["outcome"], "killed", "{spawned}");

    let again = setup.repo.clambake(&["terminate", "--agent", "agent001"]);
    assert_eq!(again.code, 8);
    assert!(
        again.stderr.contains("agent001 is not running"),
        "{}",
        again.stderr
    );
    let bad = setup
        .repo
        .clambake(&["terminate", "--agent", "agent001", "--grace", "soon"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--grace"), "{}", bad.stderr);
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn land_sends_committed_work_to_review_and_frees_the_slot(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let setup = Setup::new(backend);
    let repo = &setup.repo;
    repo.clambake(&["issue", "label", "1", "--add", "agent001"])
        .success();
    let nothing = repo.clambake(&["land", "--agent", "agent001"]);
    assert_eq!(nothing.code, 8);
    assert!(
        nothing.stderr.contains("has no commits ahead of main"),
        "{}",
        nothing.stderr
    );

    let (spawned, _) = setup.spawn_in_background("agent001").await;
    let busy = repo.clambake(&["land", "--agent", "agent001"]);
    assert_eq!(busy.code, 4);
    assert!(
        busy.stderr.contains("agent001 is already working"),
        "{}",
        busy.stderr
    );
    std::fs::write(setup.go(), "").unwrap();
    assert_eq!(finish(spawned)["outcome"], "success");

    let landed = repo
        .clambake(&["land", "--agent", "agent001", "--json"])
        .success()
        .json();
    assert_eq!(landed["issue"], 1);
    assert_eq!(landed["branch"], "agent001/1-add-greeting");
    assert_eq!(landed["commits_ahead"], 1);
    // The first landing finds the train's slot due: alone, it leaves as its own pull request.
    assert_eq!(landed["train"]["individual"][0]["issues"][0], 1, "{landed}");
    let issue = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json();
    let shown = issue.to_string();
    assert!(shown.contains(r#""route:review""#), "{shown}");
    assert!(!shown.contains(r#""agent001""#), "{shown}");
    let pull = landed["train"]["individual"][0]["number"].to_string();
    let pr = repo
        .clambake(&["pr", "show", &pull, "--json"])
        .success()
        .json();
    let tip = repo.git(&["rev-parse", "agent001/1-add-greeting"]);
    assert_eq!(
        pr["pull_request"]["head"], "agent001/1-add-greeting",
        "{pr}"
    );
    assert_eq!(pr["pull_request"]["head_sha"], tip.as_str(), "{pr}");
    if backend == Backend::Github {
        assert_eq!(repo.origin_tip("agent001/1-add-greeting"), Some(tip));
    }
    repo.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_list_shows_registered_processes() {
    let setup = Setup::new(Backend::Local);
    let workspace = Workspace::discover(setup.repo.path()).await.unwrap();
    let now = jiff::Timestamp::now();
    assert!(list_agents(&workspace, now).await.unwrap().is_empty());
    let (spawned, _) = setup.spawn_in_background("agent002").await;
    let pid = setup.agent_pid().await;
    let listed = list_agents(&workspace, jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].agent, "agent002");
    assert_eq!(listed[0].pid, pid);
    assert_eq!(listed[0].state, AgentState::Running);
    assert!(listed[0].latest_events.is_empty());
    std::fs::write(setup.go(), "").unwrap();
    finish(spawned);
    assert!(list_agents(&workspace, now).await.unwrap().is_empty());
}
