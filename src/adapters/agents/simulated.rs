//! The built-in simulated agent: deterministic, in-process, and real where it matters. It
//! writes a file derived from the issue, commits it on the attempt's branch, and reports in
//! Claude Code's stream-json shape, so everything downstream runs as with a real agent.

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapters::git::Git;
use crate::core::branch::slug;
use crate::core::outcome::ExitStatus;
use crate::ports::agent::{
    AgentControl, AgentRuntime, AgentSpec, AgentStartError, LogFiles, RunningAgent,
};

/// What a stopped simulated agent reports, as if SIGTERM had ended it.
const SIGTERM: i32 = 15;

pub struct SimulatedRuntime;

/// The file the simulated agent writes for an issue, relative to the worktree.
pub fn simulated_file(issue: u64, title: &str) -> String {
    format!("simulated/{issue}-{}.md", slug(title))
}

#[async_trait]
impl AgentRuntime for SimulatedRuntime {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn reports_result(&self) -> bool {
        true
    }

    async fn start(&self, spec: &AgentSpec) -> Result<RunningAgent, AgentStartError> {
        let (lines, output) = mpsc::channel(16);
        let (exited, exit) = oneshot::channel();
        let (stopper, stopped) = watch::channel(false);
        let spec = spec.clone();
        tokio::spawn(async move {
            let status = simulate(&spec, &lines, stopped).await;
            let _ = exited.send(status);
        });
        Ok(RunningAgent {
            pid: None,
            output,
            exit,
            control: Box::new(Stopper(stopper)),
        })
    }
}

async fn simulate(
    spec: &AgentSpec,
    lines: &mpsc::Sender<String>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<ExitStatus> {
    let session = format!("simulated-{}-{}", spec.agent, spec.issue);
    let file = simulated_file(spec.issue, &spec.title);
    let log = Log::open(&spec.logs).await?;
    let emit = |event: serde_json::Value| {
        let log = &log;
        async move {
            let line = event.to_string();
            log.append(&log.stdout, &line).await?;
            let _ = lines.send(line).await;
            std::io::Result::Ok(())
        }
    };
    emit(
        json!({"type": "system", "subtype": "init", "session_id": session,
                "model": "simulated", "tools": ["Write", "Bash"]}),
    )
    .await?;
    if *stopped.borrow() {
        return Ok(ExitStatus::Signal(SIGTERM));
    }
    emit(
        json!({"type": "assistant", "session_id": session, "message": {"role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "Write",
                             "input": {"file_path": file}}]}}),
    )
    .await?;
    let path = spec.worktree.join(&file);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let text = format!(
        "# {}\n\nSimulated work by {} on issue #{}.\n",
        spec.title.trim(),
        spec.agent,
        spec.issue
    );
    tokio::fs::write(&path, text).await?;
    let git = Git::new(&spec.worktree);
    let identity = super::git_identity(&spec.agent);
    let message = format!("Simulated work on issue #{}", spec.issue);
    let committed = async {
        git.run(&["add", "--", &file]).await?;
        git.run(&[
            "-c",
            &format!("user.name={}", identity[0].1),
            "-c",
            &format!("user.email={}", identity[1].1),
            "commit",
            "-q",
            "-m",
            &message,
        ])
        .await
    };
    let (subtype, is_error) = match committed.await {
        Ok(_) => ("success", false),
        Err(error) => {
            log.append(&log.stderr, &error.to_string()).await?;
            ("error_during_execution", true)
        }
    };
    emit(
        json!({"type": "user", "session_id": session, "message": {"role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok",
                             "is_error": is_error}]}}),
    )
    .await?;
    emit(
        json!({"type": "result", "subtype": subtype, "is_error": is_error, "num_turns": 2,
                "total_cost_usd": 0.0, "session_id": session,
                "usage": {"input_tokens": 0, "output_tokens": 0}}),
    )
    .await?;
    Ok(ExitStatus::Code(i32::from(is_error)))
}

/// The simulated agent's log files, appended to line by line as a process would.
struct Log {
    stdout: tokio::sync::Mutex<tokio::fs::File>,
    stderr: tokio::sync::Mutex<tokio::fs::File>,
}

impl Log {
    async fn open(logs: &LogFiles) -> std::io::Result<Self> {
        let open = |path: &std::path::Path| {
            let path = path.to_path_buf();
            async move {
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir).await?;
                }
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?;
                std::io::Result::Ok(tokio::sync::Mutex::new(file))
            }
        };
        Ok(Self {
            stdout: open(&logs.stdout).await?,
            stderr: open(&logs.stderr).await?,
        })
    }

    async fn append(
        &self,
        file: &tokio::sync::Mutex<tokio::fs::File>,
        line: &str,
    ) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut file = file.lock().await;
        file.write_all(format!("{line}\n").as_bytes()).await?;
        file.flush().await
    }
}

/// The simulated agent checks this flag between steps.
struct Stopper(watch::Sender<bool>);

#[async_trait]
impl AgentControl for Stopper {
    fn interrupt(&self) {
        self.0.send_replace(true);
    }

    fn kill(&self) {
        self.0.send_replace(true);
    }

    async fn clean_up(&self) {}
}
