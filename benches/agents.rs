//! Agent benchmarks: spawn overhead (worktree + process), time from an agent's exit to its
//! classified outcome, and the orchestrator's CPU and memory while it supervises many agents.
//! Run with `cargo bench --bench agents`; prints figures, asserts nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clambake::adapters::agents::CommandRuntime;
use clambake::adapters::hosts::local::supervisor::supervise;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{AttemptRequest, never_stop, run_attempt};
use clambake::ports::AgentRuntime;
use clambake::ports::agent::AgentSpec;
use clambake::ports::agent::LogFiles;
use clambake::ports::agent_host::Limits;

const ATTEMPTS: u64 = 100;
const CONCURRENT: usize = 50;
const MONITORED_FOR: Duration = Duration::from_secs(10);

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(60),
    timeout: Duration::from_secs(120),
    grace: Duration::from_secs(5),
    budget: None,
};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        attempts().await;
        concurrent().await;
    });
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn script(dir: &Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("agent.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// Whole attempts of an agent that commits one file and exits at once.
async fn attempts() {
    let repo = tempfile::tempdir().expect("a temp dir");
    git(repo.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(repo.path().join("README.md"), "bench\n").expect("write");
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "initial"]);
    let scripts = tempfile::tempdir().expect("a temp dir");
    let runtime = CommandRuntime::new(
        script(
            scripts.path(),
            "echo x > f.txt && git add f.txt && git commit -q -m \"issue $1\"\n",
        ),
        String::new(),
    );
    let workspace = Workspace::discover(repo.path()).await.expect("a workspace");
    let mut total = Vec::new();
    let mut exit_to_outcome = Vec::new();
    for issue in 1..=ATTEMPTS {
        let request = AttemptRequest {
            agent: "agent001".to_owned(),
            issue,
            title: format!("Bench issue {issue}"),
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
        let started = Instant::now();
        let result = run_attempt(&workspace, &runtime, &request, LIMITS, never_stop())
            .await
            .expect("the attempt runs");
        total.push(started.elapsed());
        exit_to_outcome.push(result.exit_to_outcome);
    }
    println!("{ATTEMPTS} attempts (worktree add, prompt, process, one agent commit, classify):");
    report("  whole attempt", &mut total);
    report("  agent exit -> classified outcome", &mut exit_to_outcome);

    let mut spawn = Vec::new();
    let dir = tempfile::tempdir().expect("a temp dir");
    let exits_at_once = CommandRuntime::new(script(dir.path(), "exit 0\n"), String::new());
    for attempt in 1..=200 {
        let started = Instant::now();
        let agent = exits_at_once
            .start(&spec(dir.path(), 1, attempt))
            .await
            .expect("the agent starts");
        spawn.push(started.elapsed());
        supervise(agent, LIMITS, never_stop())
            .await
            .expect("supervised");
    }
    report("process start (fork + exec into its own group)", &mut spawn);
}

fn spec(dir: &Path, issue: u64, attempt: u32) -> AgentSpec {
    AgentSpec {
        agent: format!("agent{issue:03}"),
        issue,
        attempt,
        title: "bench".to_owned(),
        branch: format!("agent{issue:03}/{issue}-bench"),
        worktree: dir.to_path_buf(),
        prompt: String::new(),
        prompt_file: dir.join("prompt.md"),
        resume_session: None,
        logs: LogFiles::in_dir(
            &dir.join("logs"),
            &format!("agent{issue:03}"),
            issue,
            attempt,
        ),
        claim: None,
        max_budget_usd: None,
    }
}

/// Many agents printing a stream-json-sized line every 100 ms, supervised at once.
async fn concurrent() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let line = format!(
        r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{}"}}]}}}}"#,
        "x".repeat(400)
    );
    let seconds = MONITORED_FOR.as_secs();
    let runtime = CommandRuntime::new(
        script(
            dir.path(),
            &format!(
                "end=$(( $(date +%s) + {seconds} ))\n\
                 while [ $(date +%s) -lt $end ]; do echo '{line}'; sleep 0.1; done\n"
            ),
        ),
        String::new(),
    );
    let before = cpu_time();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for issue in 1..=CONCURRENT as u64 {
        let agent = runtime
            .start(&spec(dir.path(), issue, 1))
            .await
            .expect("the agent starts");
        tasks.push(tokio::spawn(async move {
            supervise(agent, LIMITS, never_stop())
                .await
                .expect("supervised")
                .totals
                .events
        }));
    }
    let mut events = 0;
    for task in tasks {
        events += task.await.expect("the task ends");
    }
    let wall = started.elapsed();
    let cpu = cpu_time() - before;
    println!(
        "{CONCURRENT} concurrent agents for {wall:.1?}: {events} events; orchestrator CPU {cpu:.2?} \
         ({:.1}% of one core), peak RSS {} KiB",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        peak_rss_kib()
    );
}

/// This process's user + system CPU time, from /proc/self/stat (children excluded).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every supported architecture.
    Duration::from_millis(ticks * 10)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    let max = samples[samples.len() - 1];
    println!("{what}: median {median:.2?}, p95 {p95:.2?}, max {max:.2?}");
}
