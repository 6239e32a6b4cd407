//! `clambake run`'s live view: drawn on a real terminal (a tmux pane), with the log moved to
//! `.clambake/logs/run.log`; piped, no view at all, only log lines (text or JSON).

use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, wait_for, write_script};

fn create_ready(repo: &TestRepo, title: &str) {
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        title,
        "--label",
        "route:ready",
    ])
    .success();
}

#[rstest]
fn piped_there_is_no_view_only_log_lines(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    repo.clambake(&["config", "set", "agents.real_processes", "false"])
        .success();
    create_ready(&repo, "Task one");
    let out = repo.clambake(&["run", "--until-idle"]).success();
    assert!(out.stderr.contains("agent001 claimed #1"), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'), "no terminal control codes");
    assert!(!out.stderr.contains("queue:"), "no view: {}", out.stderr);
    assert!(!repo.path().join(".clambake/logs/run.log").exists());

    // The first run's train took #2 for its pull request.
    create_ready(&repo, "Task two");
    let out = repo
        .clambake(&["run", "--until-idle", "--log-format", "json"])
        .success();
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "agent001 claimed #3 (attempt 1)"),
        "{lines:#?}"
    );
    repo.assert_no_violations();
}

/// A tmux server of its own, on a socket in a temporary directory; killed when dropped.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts `command` in a 120x30 pane, with `env` in its environment (the server's, so
    /// that no value shows on a command line).
    fn start(command: &str, env: &[(&str, &str)]) -> Self {
        let tmux = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let status = tmux
            .command()
            .envs(env.iter().copied())
            .args(["new-session", "-d", "-x", "120", "-y", "30", command])
            .status()
            .expect("tmux is installed");
        assert!(status.success());
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(self.dir.path().join("socket"));
        command
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits for the pane to show all of `texts`; returns the screen.
    fn wait_for(&self, texts: &[&str]) -> String {
        wait_for(&format!("the pane to show {texts:?}"), || {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                Ok(screen)
            } else {
                Err(format!("\n{screen}"))
            }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// An agent for the `command` runtime that writes its pid to `go.pid`, reports one turn, waits
/// for `go` to exist, then commits and reports success.
fn waiting_agent(dir: &Path) -> (PathBuf, String) {
    let script = write_script(
        dir,
        "agent.sh",
        r#"echo $$ > "$1.tmp" && mv "$1.tmp" "$1.pid"
echo '{"type":"system","subtype":"init","session_id":"s-view","model":"scripted"}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"Working on it."}],"usage":{"input_tokens":7,"output_tokens":3}}}'
while [ ! -e "$1" ]; do sleep 0.05; done
echo hi > greeting.txt && git add greeting.txt && git commit -qm 'Add greeting'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.25}'
"#,
    );
    let go = dir.join("go");
    let template = format!("{} {}", script.display(), go.display());
    (go, template)
}

#[rstest]
fn on_a_terminal_the_live_view_shows_the_agents_queue_and_train_and_logs_go_to_a_file(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let scripts = tempfile::tempdir().unwrap();
    let (go, template) = waiting_agent(scripts.path());
    repo.init(&["--agents", "1"]).success();
    repo.configure(&[
        ("agents.runtime", "command"),
        ("agents.command", template.as_str()),
        ("bundling.trigger", "manual"),
    ]);
    create_ready(&repo, "Add greeting");

    let token = repo.github().map(|github| ("GH_TOKEN", github.token()));
    let tmux = Tmux::start(
        &format!(
            "cd {} && {} run --until-idle; echo exited $?; sleep 600",
            repo.path().display(),
            env!("CARGO_BIN_EXE_clambake"),
        ),
        token.as_slice(),
    );
    let screen = tmux.wait_for(&["agent001", "running", "ago", "queue: 0 ready · 1 claimed"]);
    // The busy slot shows its agent by the agent's own pid.
    let pid = std::fs::read_to_string(go.with_extension("pid")).unwrap();
    let row = screen.lines().find(|l| l.contains("running")).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some(pid.trim()), "{screen}");
    assert!(screen.contains("next train: manual"), "{screen}");
    assert!(
        screen.contains("agent001 claimed #1 (attempt 1)"),
        "the latest events: {screen}"
    );
    assert!(
        !screen.contains("INFO"),
        "no log line on the view: {screen}"
    );

    std::fs::write(&go, "").unwrap();
    let screen = tmux.wait_for(&["exited 0"]);
    assert!(screen.contains("Run finished"), "{screen}");
    assert!(
        screen.contains("0 agents busy"),
        "a last frame shows the end: {screen}"
    );
    assert!(
        screen.contains("queue: 0 ready · 0 claimed · 1 in review"),
        "the last frame reads the forge afresh: {screen}"
    );
    assert!(screen.contains("pull request #2 carries #1"), "{screen}");
    let log = std::fs::read_to_string(repo.path().join(".clambake/logs/run.log")).unwrap();
    assert!(log.contains("agent001 claimed #1 (attempt 1)"), "{log}");
    assert!(log.contains("a train left"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no terminal control codes in the file"
    );
    repo.assert_no_violations();
}
