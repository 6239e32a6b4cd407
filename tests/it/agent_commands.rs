//! The commands around running agents, through the real binary with real agent processes:
//! the slot limit, and (below) monitor, terminate, land.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clambake::app::Workspace;
use clambake::app::attempt::open_registry;
use clambake::ports::agent_registry::RegisteredAgent;

use crate::support::{TestRepo, write_script};

/// An initialized repository with issue #1, whose `command` agent reports in, waits for the
/// file `go` beside its script, then commits and reports success.
struct Setup {
    repo: TestRepo,
    scripts: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let repo = TestRepo::new();
        repo.clambake(&["init"]).success();
        repo.clambake(&["issue", "create", "--title", "Add greeting", "--json"])
            .success();
        let scripts = tempfile::tempdir().unwrap();
        let script = write_script(
            scripts.path(),
            "agent.sh",
            r#"echo '{"type":"system","subtype":"init","session_id":"s-cli","model":"scripted"}'
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

    /// `clambake spawn` of `agent` on issue 1 in the background, once its agent is registered.
    async fn spawn_in_background(&self, agent: &str) -> (Child, RegisteredAgent) {
        let child = Command::new(env!("CARGO_BIN_EXE_clambake"))
            .current_dir(self.repo.path())
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
        let entry = wait_for_registration(self.repo.path(), agent).await;
        (child, entry)
    }
}

async fn wait_for_registration(root: &Path, agent: &str) -> RegisteredAgent {
    let workspace = Workspace::discover(root).await.unwrap();
    for _ in 0..1000 {
        if let Ok(registry) = open_registry(&workspace)
            && let Some(entry) = registry
                .list()
                .unwrap()
                .into_iter()
                .find(|e| e.agent == agent)
        {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{agent} was never registered");
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

#[tokio::test(flavor = "multi_thread")]
async fn max_concurrent_is_enforced_and_a_slot_runs_one_attempt() {
    let setup = Setup::new();
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
    assert_eq!(refused.code, 2);
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
    assert_eq!(twice.code, 2);
    assert!(
        twice
            .stderr
            .contains("agent001 is already working on issue #1"),
        "{}",
        twice.stderr
    );

    std::fs::write(setup.go(), "").unwrap();
    assert_eq!(finish(first)["outcome"], "success");
    // The slot is free again.
    let report = setup
        .repo
        .clambake(&[
            "spawn",
            "--agent",
            "agent002",
            "--issue",
            "1",
            "--runtime",
            "command",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["outcome"], "success");
}
