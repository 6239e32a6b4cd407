//! The built-in simulated agent: deterministic, in-process, and real where it matters. It
//! writes a file derived from the issue (and the files the issue's `simulate:` directives name),
//! commits on the attempt's branch, and reports in Claude Code's stream-json shape, so that
//! everything downstream runs as with a real agent. Directives can also make it crash, hang,
//! fail, do nothing or think for a while, for demos and tests.

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapters::git::Git;
use crate::core::agents::outcome::ExitStatus;
use crate::core::agents::simulated_work;
use crate::core::agents::simulation::{self, Behaviour};
use crate::core::branches::name::slug;
use crate::ports::agent::{
    AgentControl, AgentRuntime, AgentSpec, AgentStartError, LogFiles, RunningAgent,
};
use crate::ports::agent_host::Stray;
use crate::ports::git::Author;
use crate::ports::journal::SIMULATED_RUNTIME;

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
        SIMULATED_RUNTIME
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
            run: None,
            output,
            exit,
            control: Box::new(Stopper(stopper)),
            containment: None,
        })
    }
}

async fn simulate(
    spec: &AgentSpec,
    lines: &mpsc::Sender<String>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<ExitStatus> {
    let directives = simulation::parse(&spec.prompt);
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
    let cost = directives.cost.get();
    if cost > 0.0 {
        emit(json!({"type": "cost", "total_cost_usd": cost})).await?;
    }
    if let Some(pause) = directives.pause {
        // A slow agent: thinking, as silent as a model between two events.
        let _ = tokio::time::timeout(pause, stopped.wait_for(|stop| *stop)).await;
    }
    if directives.behaviour == Behaviour::Hang {
        // Silent until stopped, as a stalled model leaves a real agent.
        let _ = stopped.wait_for(|stop| *stop).await;
    }
    if *stopped.borrow() {
        return Ok(ExitStatus::Signal(SIGTERM));
    }
    let result = |subtype: &str, is_error: bool| {
        json!({"type": "result", "subtype": subtype, "is_error": is_error, "num_turns": 2,
               "total_cost_usd": cost, "session_id": session,
               "usage": {"input_tokens": 0, "output_tokens": 0}})
    };
    match directives.behaviour {
        Behaviour::NoCommits => {
            emit(result("success", false)).await?;
            return Ok(ExitStatus::Code(0));
        }
        Behaviour::Error => {
            emit(result("error_during_execution", true)).await?;
            return Ok(ExitStatus::Code(1));
        }
        Behaviour::Succeed | Behaviour::Crash | Behaviour::Hang => {}
    }
    emit(
        json!({"type": "assistant", "session_id": session, "message": {"role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "Write",
                             "input": {"file_path": file}}]}}),
    )
    .await?;
    write_work(spec, &file, &directives.edits).await?;
    if directives.behaviour == Behaviour::Crash {
        // Dies mid-work: the files are written, nothing is committed, no result is reported.
        return Ok(ExitStatus::Code(101));
    }
    let git = Git::new(&spec.worktree);
    let identity = super::git_identity(&spec.agent);
    let message = simulated_work::commit_message(spec.issue, &spec.agent);
    let author = Author {
        name: &identity[0].1,
        email: &identity[1].1,
    };
    // Nothing to commit means an earlier attempt (killed before its verdict was recorded)
    // already committed this very work: it is done.
    let (subtype, is_error) = match git.commit_all(&message, author).await {
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
    emit(result(subtype, is_error)).await?;
    Ok(ExitStatus::Code(i32::from(is_error)))
}

/// The agent's own file, plus one line appended to each file the issue asks it to edit (once:
/// a retry finds the line an earlier attempt appended and leaves it).
async fn write_work(spec: &AgentSpec, file: &str, edits: &[String]) -> std::io::Result<()> {
    let own = format!(
        "# {}\n\nSimulated work by {} on issue #{}.\n",
        spec.title.trim(),
        spec.agent,
        spec.issue
    );
    write_under(&spec.worktree.join(file), own, false).await?;
    for edit in edits {
        let line = format!("Issue #{}: {}\n", spec.issue, spec.title.trim());
        write_under(&spec.worktree.join(edit), line, true).await?;
    }
    Ok(())
}

async fn write_under(path: &std::path::Path, text: String, append: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    if append {
        let mut existing = tokio::fs::read_to_string(path).await.unwrap_or_default();
        if existing.lines().any(|line| format!("{line}\n") == text) {
            return Ok(());
        }
        existing.push_str(&text);
        tokio::fs::write(path, existing).await
    } else {
        tokio::fs::write(path, text).await
    }
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

    async fn clean_up(&self) -> Vec<Stray> {
        Vec::new()
    }
}
