//! Whole-pipeline benchmarks: issues per hour through claim → attempt → land → train with
//! instant simulated agents (the orchestrator's own overhead), one reconcile pass over 1,000
//! open issues and 50 agents, what an idle pass's forge listings cost over 1,000 open issues
//! (read in full, and as conditional reads that come back "not modified"), and a real
//! `clambake run` process's CPU and memory while it watches 50 idle agents. Run with
//! `cargo bench --bench pipeline`; prints figures, asserts nothing about speed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clambake::adapters::forge::conditional::ConditionalForge;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::{open_journal, transition};
use clambake::app::recovery::observe::registered_processes;
use clambake::app::recovery::repair::{Opened, diagnose};
use clambake::app::run::assemble::{RunRequest, run};
use clambake::app::run::orchestrator::{RunEvent, StopWhen};
use clambake::app::trains::disposal::Disposition;
use clambake::core::branches::name::branch_name;
use clambake::core::config::ForgeBackend;
use clambake::core::lifecycle::machine::Event;
use clambake::core::queue::labels;
use clambake::ports::Forge;
use clambake::ports::forge::{
    IssueFilter, IssueState, NewIssue, PullRequestFilter, PullRequestState,
};

const PIPELINE_ISSUES: u64 = 100;
const PIPELINE_AGENTS: u32 = 8;
const OPEN_ISSUES: u64 = 1_000;
const AGENTS: u64 = 50;
const RECONCILE_PASSES: usize = 5;
const POLLING_PASSES: usize = 50;
const MONITORED_FOR: Duration = Duration::from_secs(10);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        throughput().await;
        reconcile_pass().await;
        idle_polling().await;
    });
    idle_monitoring();
}

/// A repository with one commit, `clambake init --agents N`, and these settings.
fn repository(agents: u64, settings: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["commit", "-q", "--allow-empty", "-m", "initial commit"],
    ] {
        let status = Command::new("git")
            .current_dir(dir.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.com")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }
    clambake(dir.path(), &["init", "--agents", &agents.to_string()]);
    for (key, value) in settings {
        clambake(dir.path(), &["config", "set", key, value]);
    }
    dir
}

fn clambake(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("clambake runs");
    assert!(status.success(), "clambake {args:?}");
}

async fn create_issues(workspace: &Workspace, count: u64, labels: impl Fn(u64) -> Vec<String>) {
    let forge = workspace
        .open_forge(ForgeBackend::Local)
        .await
        .expect("the local forge");
    for n in 1..=count {
        forge
            .create_issue(&NewIssue {
                title: format!("Task {n}"),
                body: String::new(),
                labels: labels(n),
                assignees: Vec::new(),
            })
            .await
            .expect("create an issue");
    }
}

/// 100 ready issues worked by 8 instant simulated agents until idle, a train after each
/// landing (`on_land`) and a last one at the end.
async fn throughput() {
    let dir = repository(
        u64::from(PIPELINE_AGENTS),
        &[
            ("agents.real_processes", "false"),
            ("agents.retry_backoff_seconds", "0"),
            ("bundling.trigger", "on_land"),
        ],
    );
    let workspace = Workspace::discover(dir.path())
        .await
        .expect("the workspace");
    create_issues(&workspace, PIPELINE_ISSUES, |_| {
        vec!["route:ready".to_owned()]
    })
    .await;
    // The sender stays alive: a dropped one reads as a shutdown.
    let (_signals, shutdown) = tokio::sync::watch::channel(0);
    let started = Instant::now();
    let summary = run(
        &workspace,
        RunRequest {
            agents: Some(PIPELINE_AGENTS),
            stop_when: StopWhen::Idle,
            detach_agents: false,
            serve: false,
            budget_usd: None,
        },
        shutdown,
    )
    .await
    .expect("the run");
    let wall = started.elapsed();
    let landed = summary
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                RunEvent::Disposed {
                    disposition: Disposition::Landed { .. },
                    ..
                }
            )
        })
        .count();
    let trains = summary
        .events
        .iter()
        .filter(|e| matches!(e, RunEvent::TrainDeparted { .. }))
        .count();
    println!(
        "pipeline: {landed} of {PIPELINE_ISSUES} issues landed by {PIPELINE_AGENTS} simulated \
         agents in {wall:.2?} ({trains} trains): {:.0} issues/hour, {:.0?} per issue",
        landed as f64 / wall.as_secs_f64() * 3600.0,
        wall / u32::try_from(landed.max(1)).expect("few issues"),
    );
}

/// 1,000 open issues, 50 of them claimed by 50 agents with journaled assignments and
/// branches: one `diagnose` pass as `clambake agent validate --all` makes it.
async fn reconcile_pass() {
    let dir = repository(AGENTS, &[]);
    let workspace = Workspace::discover(dir.path())
        .await
        .expect("the workspace");
    let agent = |n: u64| format!("agent{n:03}");
    create_issues(&workspace, OPEN_ISSUES, |n| {
        if n <= AGENTS {
            vec![agent(n)]
        } else {
            vec!["route:ready".to_owned()]
        }
    })
    .await;
    let journal = open_journal(&workspace).expect("the journal");
    let now = jiff::Timestamp::now();
    for n in 1..=AGENTS {
        let branch = branch_name(&agent(n), n, &format!("Task {n}"));
        workspace
            .refs()
            .create_branch(&branch, "main")
            .await
            .expect("a branch");
        let assign = Event::Assign {
            agent_id: agent(n),
            issue: n,
            branch,
        };
        transition(&journal, &agent(n), &assign, "bench", now).expect("journal the claim");
    }
    let opened = Opened::open(
        &workspace,
        registered_processes(&workspace).expect("the registry"),
    )
    .await
    .expect("open the world");
    let world = opened.world(&workspace);
    let mut passes = Vec::new();
    let mut found = 0;
    for _ in 0..RECONCILE_PASSES {
        let started = Instant::now();
        let diagnosis = diagnose(&world, None, jiff::Timestamp::now())
            .await
            .expect("diagnose");
        passes.push(started.elapsed());
        found = diagnosis.plans.len();
    }
    passes.sort();
    println!(
        "reconcile: one diagnose pass over {OPEN_ISSUES} open issues and {AGENTS} agents: \
         median {:.1?}, min {:.1?}, max {:.1?} ({found} inconsistencies found: the claimed \
         agents have no process)",
        passes[passes.len() / 2],
        passes[0],
        passes[passes.len() - 1],
    );
}

/// A real `clambake run` with 50 `command` agents that only sleep: its CPU time and peak
/// resident memory over ten seconds of watching them.
fn idle_monitoring() {
    let scripts = tempfile::tempdir().expect("a temp dir");
    let script = scripts.path().join("idle-agent.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}'\n\
         sleep 120\n",
    )
    .expect("write the agent");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let command = format!("{} {{issue}}", script.display());
    let dir = repository(
        AGENTS,
        &[("agents.runtime", "command"), ("agents.command", &command)],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let workspace = Workspace::discover(dir.path())
            .await
            .expect("the workspace");
        create_issues(&workspace, AGENTS, |_| vec!["route:ready".to_owned()]).await;
    });
    let mut orchestrator = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(dir.path())
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("clambake run starts");
    let pid = orchestrator.id();
    let script_name = script.display().to_string();
    let started = Instant::now();
    while agents_running(&script_name) < AGENTS as usize {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the agents never all started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ramp_up = started.elapsed();
    let before = cpu_time(pid);
    std::thread::sleep(MONITORED_FOR);
    let cpu = cpu_time(pid) - before;
    let (rss, peak) = memory_kib(pid);
    println!(
        "idle monitoring: `clambake run` watching {AGENTS} sleeping agents (all started after \
         {ramp_up:.1?}): CPU {cpu:.2?} in {MONITORED_FOR:?} ({:.2}% of a core), RSS {rss} KiB, \
         peak RSS {peak} KiB",
        cpu.as_secs_f64() / MONITORED_FOR.as_secs_f64() * 100.0,
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pids fit in i32")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal the run");
    orchestrator.wait().expect("the run ends");
}

/// How many processes run the agent script.
fn agents_running(script: &str) -> usize {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(script))
        })
        .count()
}

/// A process's user + system CPU time, from /proc/<pid>/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read its stat");
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every supported architecture.
    Duration::from_millis(ticks * 10)
}

/// A process's resident and peak resident memory, from /proc/<pid>/status.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read its status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// An idle pass's listings (open issues twice, the pull requests three times and the issues in
/// review once, as `run` with trains reads them) over 1,000 open issues: read in full, then
/// through the conditional forge the run loop uses, where nothing changed comes back "not
/// modified".
async fn idle_polling() {
    let dir = repository(8, &[]);
    let workspace = Workspace::discover(dir.path())
        .await
        .expect("the workspace");
    create_issues(&workspace, OPEN_ISSUES, |_| {
        vec![labels::READY.to_owned(), "bug".to_owned()]
    })
    .await;
    let forge = workspace
        .open_forge(ForgeBackend::Local)
        .await
        .expect("the local forge");
    let full = median_pass(forge.as_ref()).await;
    let conditional = ConditionalForge::new(forge);
    let not_modified = median_pass(&conditional).await;
    println!(
        "polling: one idle pass's listings over {OPEN_ISSUES} open issues: read in full \
         {full:.1?}, conditional and not modified {not_modified:.1?} (median of \
         {POLLING_PASSES} passes)"
    );
}

/// The median time of one pass's listings, after one pass to warm up.
async fn median_pass(forge: &dyn Forge) -> Duration {
    listings(forge).await;
    let mut passes = Vec::with_capacity(POLLING_PASSES);
    for _ in 0..POLLING_PASSES {
        let started = Instant::now();
        listings(forge).await;
        passes.push(started.elapsed());
    }
    passes.sort();
    passes[passes.len() / 2]
}

async fn listings(forge: &dyn Forge) {
    let open = IssueFilter::open();
    let review = IssueFilter {
        state: Some(IssueState::Open),
        labels: vec![labels::REVIEW.to_owned()],
    };
    let open_prs = PullRequestFilter {
        state: Some(PullRequestState::Open),
        head: None,
    };
    let all_prs = PullRequestFilter::default();
    for _ in 0..2 {
        forge.issues(&open).await.expect("open issues");
        forge.pull_requests(&all_prs).await.expect("pull requests");
    }
    forge.issues(&review).await.expect("issues in review");
    forge
        .pull_requests(&open_prs)
        .await
        .expect("open pull requests");
}
