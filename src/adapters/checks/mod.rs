//! The checks command as a child process of this machine, contained as an agent is: its own
//! process group and (where Linux allows) cgroup, its output written straight to its log, and
//! everything it started killed when it ends, times out, or is given up on.

pub mod commits;

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::adapters::hosts::local::process::{self, ProcessTracking};
use crate::core::agents::outcome::ExitStatus;
use crate::core::checks::output_tail;
use crate::ports::agent::{AgentControl, AgentStartError, LogFiles};
use crate::ports::checks::{CheckRequest, CheckRun, CheckRunner, CheckVerdict};

/// How long the processes the checks leave behind have to go once their leader has ended.
const CLEAN_UP_PATIENCE: Duration = Duration::from_secs(10);

/// Runs the checks here.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalCheckRunner {
    tracking: ProcessTracking,
}

impl LocalCheckRunner {
    pub fn new(tracking: ProcessTracking) -> Self {
        Self { tracking }
    }
}

#[async_trait]
impl CheckRunner for LocalCheckRunner {
    async fn run(&self, request: &CheckRequest<'_>) -> CheckRun {
        let started = Instant::now();
        if let Some(parent) = request.log.parent()
            && let Err(error) = std::fs::create_dir_all(parent)
        {
            return unstartable(
                format!("cannot make {}: {error}", parent.display()),
                started,
            );
        }
        // Both streams go to the one log, appended to as they are written.
        let logs = LogFiles {
            stdout: request.log.to_path_buf(),
            stderr: request.log.to_path_buf(),
        };
        let running = match process::spawn(
            request.argv,
            request.env,
            request.dir,
            &logs,
            self.tracking,
            None,
        ) {
            Ok(running) => running,
            Err(error) => return unstartable(start_failure(&error), started),
        };
        let mut output = running.output;
        // The lines are read from the log afterwards; the channel only has to be drained.
        tokio::spawn(async move { while output.recv().await.is_some() {} });
        let guard = KillOnDrop(Some(running.control));
        let verdict = match tokio::time::timeout(request.timeout, running.exit).await {
            Ok(Ok(Ok(ExitStatus::Code(0)))) => CheckVerdict::Passed,
            Ok(Ok(Ok(exit))) => CheckVerdict::Failed { exit },
            Ok(Ok(Err(_)) | Err(_)) => CheckVerdict::Failed {
                exit: ExitStatus::Unknown,
            },
            Err(_) => {
                guard.kill();
                CheckVerdict::TimedOut
            }
        };
        guard.finish().await;
        let output = tokio::fs::read(request.log).await.unwrap_or_default();
        CheckRun {
            verdict,
            tail: output_tail(&String::from_utf8_lossy(&output)),
            took: started.elapsed(),
        }
    }
}

/// Kills the checks' every process if the run is given up on before they end (the caller's
/// task cancelled, the orchestrator stopping), so no check outlives whoever asked for it.
struct KillOnDrop(Option<Box<dyn AgentControl>>);

impl KillOnDrop {
    fn kill(&self) {
        if let Some(control) = &self.0 {
            control.kill();
        }
    }

    /// Kills and reaps what the checks left running once their leader has ended.
    async fn finish(mut self) {
        if let Some(control) = self.0.take() {
            let strays = tokio::time::timeout(CLEAN_UP_PATIENCE, control.clean_up()).await;
            if let Ok(strays) = strays
                && !strays.is_empty()
            {
                tracing::info!(count = strays.len(), "stopped what the checks left running");
            }
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(control) = self.0.take() {
            control.kill();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    control.clean_up().await;
                });
            }
        }
    }
}

fn start_failure(error: &AgentStartError) -> String {
    format!("the checks could not start: {error}")
}

fn unstartable(message: String, started: Instant) -> CheckRun {
    CheckRun {
        tail: message.clone(),
        verdict: CheckVerdict::Unstartable { message },
        took: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(argv: &[&str]) -> Vec<String> {
        argv.iter().map(|w| (*w).to_owned()).collect()
    }

    async fn run(dir: &std::path::Path, script: &str, timeout: Duration) -> CheckRun {
        let argv = words(&["sh", "-c", script]);
        let env = vec![
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
            ("ONLY_THIS".to_owned(), "yes".to_owned()),
        ];
        let log = dir.join("logs/checks.log");
        LocalCheckRunner::new(ProcessTracking::MarkerOnly)
            .run(&CheckRequest {
                dir,
                argv: &argv,
                env: &env,
                timeout,
                log: &log,
            })
            .await
    }

    #[tokio::test]
    async fn a_passing_check_passes_with_its_output_in_the_tail_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let run = run(
            dir.path(),
            "echo out; echo err >&2; echo \"$ONLY_THIS ${HOME:-no-home}\"; pwd",
            Duration::from_secs(60),
        )
        .await;
        assert!(run.passed(), "{run:?}");
        assert!(
            run.tail.contains("out") && run.tail.contains("err"),
            "{}",
            run.tail
        );
        assert!(
            run.tail.contains("yes no-home"),
            "exactly the given env: {}",
            run.tail
        );
        assert!(run.tail.contains(&dir.path().display().to_string()));
        let log = std::fs::read_to_string(dir.path().join("logs/checks.log")).unwrap();
        assert!(log.contains("out\n") && log.contains("err\n"));
    }

    #[tokio::test]
    async fn a_failing_check_fails_with_its_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let run = run(
            dir.path(),
            "echo 'test foo ... FAILED'; exit 3",
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(
            run.verdict,
            CheckVerdict::Failed {
                exit: ExitStatus::Code(3)
            }
        );
        assert!(run.tail.contains("test foo ... FAILED"), "{}", run.tail);
    }

    #[tokio::test]
    async fn a_check_past_its_timeout_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("daemon.pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 300' & echo started; sleep 300",
            pid_file.display()
        );
        let run = run(dir.path(), &script, Duration::from_secs(3)).await;
        assert_eq!(run.verdict, CheckVerdict::TimedOut);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |stat| stat.contains(") Z "))
        };
        for _ in 0..200 {
            if gone() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone(), "the daemon the checks started is killed");
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_is_its_own_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let argv = words(&["no-such-checks-program-here"]);
        let log = dir.path().join("checks.log");
        let run = LocalCheckRunner::default()
            .run(&CheckRequest {
                dir: dir.path(),
                argv: &argv,
                env: &[],
                timeout: Duration::from_secs(60),
                log: &log,
            })
            .await;
        assert!(
            matches!(&run.verdict, CheckVerdict::Unstartable { message } if message.contains("no-such-checks-program-here")),
            "{run:?}"
        );
    }
}
