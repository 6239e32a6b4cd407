//! What the GitHub backend asks of GitHub, counted on the GitHub fake with the real `clambake`
//! binary: the requests per issue over a full lifecycle (init, 20 ready issues, `run
//! --until-idle` with the simulated agent and bundles of 5, `pr merge` of each bundle), split
//! into charged requests (reads and mutations) and free 304s, by endpoint; and the requests of
//! one idle polling pass over 1,000 open issues. It counts, it does not time: run it with
//! `cargo bench --bench github_requests`, or in a debug build with
//! `cargo test --bench github_requests`.
//!
//! Measured (debug build): the lifecycle after init spends 7.85 charged requests per issue
//! (6.85 without the issue's own creation) and 4.10 free 304s; an idle pass over 1,000 open
//! issues, 0 charged and 14 free 304s (one page of the open listing each, plus the pull
//! requests and the train's listings). Per issue: its creation, one PUT per label edit (claim,
//! land, board) after a read of its labels that is charged only for the claim, and the
//! landing's comment; the rest is per bundle or per process. Before label edits were one PUT,
//! comment listings followed the issue's comment count, a pass shared one listing and the
//! bundled comment was left to GitHub's cross-reference: 12.05 charged and 2.60 free per
//! issue, and 25 free 304s an idle pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clambake_github_fake::{FakeGithub, Options, RecordedRequest};

const ISSUES: u64 = 20;
const BUNDLE_SIZE: u64 = 5;
const AGENTS: u64 = 5;
const IDLE_OPEN_ISSUES: u64 = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        lifecycle().await;
        idle_pass().await;
    });
}

/// The fake, and a clone whose `origin` is the fake's bare repository.
struct Setup {
    fake: FakeGithub,
    work: tempfile::TempDir,
    _origin: tempfile::TempDir,
}

async fn setup() -> Setup {
    let origin = tempfile::tempdir().expect("a temp dir");
    let mut options = Options::new(origin.path().join("origin.git"));
    options.rate_limit = 1_000_000;
    let fake = FakeGithub::start(options).await.expect("the fake starts");
    let work = tempfile::tempdir().expect("a temp dir");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["commit", "-q", "--allow-empty", "-m", "initial commit"],
        &["remote", "add", "origin", &fake.origin_url()],
        &["push", "-q", "origin", "main"],
    ] {
        git(work.path(), args);
    }
    Setup {
        fake,
        work,
        _origin: origin,
    }
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

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
        command
            .current_dir(self.work.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("GH_TOKEN", self.fake.token())
            .env_remove("GITHUB_TOKEN");
        command
    }

    /// Runs clambake off the runtime the fake answers on; returns its stdout.
    async fn clambake(&self, args: &[&str]) -> String {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output().expect("clambake runs"))
            .await
            .expect("clambake's thread");
        assert!(
            output.status.success(),
            "clambake {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    async fn init(&self, settings: &[(&str, &str)]) {
        let api = self.fake.api_url();
        let agents = AGENTS.to_string();
        self.clambake(&[
            "init",
            "--backend",
            "github",
            "--agents",
            &agents,
            "--owner",
            "clambake",
            "--repo",
            "demo",
            "--api-url",
            &api,
        ])
        .await;
        for (key, value) in settings {
            self.clambake(&["config", "set", key, value]).await;
        }
    }
}

/// The figures of some requests: charged reads, mutations, free 304s, and by endpoint.
struct Tally {
    total: usize,
    reads: usize,
    mutations: usize,
    not_modified: usize,
    by_endpoint: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    fn of(requests: &[RecordedRequest]) -> Tally {
        let mut tally = Tally {
            total: requests.len(),
            reads: 0,
            mutations: 0,
            not_modified: 0,
            by_endpoint: BTreeMap::new(),
        };
        for request in requests {
            let entry = tally.by_endpoint.entry(endpoint(request)).or_default();
            if request.charged {
                entry.0 += 1;
                if request.method == "GET" {
                    tally.reads += 1;
                } else {
                    tally.mutations += 1;
                }
            } else {
                entry.1 += 1;
                tally.not_modified += 1;
            }
        }
        tally
    }

    fn charged(&self) -> usize {
        self.reads + self.mutations
    }

    fn print_line(&self, what: &str, per: Option<u64>) {
        print!(
            "{what:<34} {:>6} requests: {:>5} charged ({} reads, {} mutations), {:>5} free 304s",
            self.total,
            self.charged(),
            self.reads,
            self.mutations,
            self.not_modified
        );
        match per {
            Some(issues) => println!(
                "; per issue {:.2} charged, {:.2} free",
                self.charged() as f64 / issues as f64,
                self.not_modified as f64 / issues as f64
            ),
            None => println!(),
        }
    }

    fn print_endpoints(&self) {
        println!("    {:<58} {:>8} {:>8}", "endpoint", "charged", "304");
        let mut rows: Vec<_> = self.by_endpoint.iter().collect();
        rows.sort_by_key(|(name, (charged, free))| (std::cmp::Reverse(charged + free), *name));
        for (name, (charged, free)) in rows {
            println!("    {name:<58} {charged:>8} {free:>8}");
        }
    }
}

/// `METHOD /path -> status` with numbers, label and reference names folded, so that the
/// requests about different issues add up under one endpoint; query values are left out.
fn endpoint(request: &RecordedRequest) -> String {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let path = match path.strip_prefix("/repos/clambake/demo") {
        Some(rest) => format!("/repos/{{o}}/{{r}}{rest}"),
        None => path.to_owned(),
    };
    let mut folded: Vec<String> = Vec::new();
    for segment in path.split('/') {
        let named = matches!(
            folded.last().map(String::as_str),
            Some("labels" | "ref" | "refs" | "branches" | "compare" | "{name}")
        );
        if named && !segment.is_empty() && !(segment == "heads" && folded.len() > 4) {
            if folded.last().map(String::as_str) != Some("{name}") {
                folded.push("{name}".to_owned());
            }
        } else if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            folded.push("{n}".to_owned());
        } else {
            folded.push(segment.to_owned());
        }
    }
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(key, _)| key))
        .filter(|key| *key != "page" && *key != "per_page")
        .collect();
    keys.sort_unstable();
    let query = if keys.is_empty() {
        String::new()
    } else {
        format!("?{}", keys.join("&"))
    };
    format!(
        "{} {}{query} -> {}",
        request.method,
        folded.join("/"),
        request.status
    )
}

/// init, 20 ready issues, `run --until-idle` with bundles of 5, and `pr merge` of each bundle.
async fn lifecycle() {
    let setup = setup().await;
    setup.init(&[]).await;
    let after_init = setup.fake.requests().len();
    let bundle_size = BUNDLE_SIZE.to_string();
    for (key, value) in [
        ("agents.runtime", "simulated"),
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("bundling.trigger", "manual"),
        ("bundling.max_bundle_size", bundle_size.as_str()),
    ] {
        setup.clambake(&["config", "set", key, value]).await;
    }
    for n in 1..=ISSUES {
        let title = format!("Task {n}");
        setup
            .clambake(&[
                "issue",
                "create",
                "--title",
                &title,
                "--label",
                "route:ready",
            ])
            .await;
    }
    let after_create = setup.fake.requests().len();
    setup.clambake(&["run", "--until-idle"]).await;
    let after_run = setup.fake.requests().len();
    let pulls: Vec<u64> = setup
        .fake
        .pulls()
        .into_iter()
        .filter(|pull| pull.state == clambake_github_fake::IssueState::Open)
        .map(|pull| pull.number)
        .collect();
    for pull in &pulls {
        setup.clambake(&["pr", "merge", &pull.to_string()]).await;
    }
    let requests = setup.fake.requests();
    let open = setup
        .fake
        .issues()
        .into_iter()
        .filter(|issue| issue.state == clambake_github_fake::IssueState::Open)
        .count();
    let violations = setup.fake.violations();

    println!(
        "GitHub backend, full lifecycle: {ISSUES} issues, {AGENTS} agents, bundles of {BUNDLE_SIZE}, \
         {} bundle pull requests merged, {open} issues or pull requests left open, {} violations",
        pulls.len(),
        violations.len()
    );
    let lifecycle = Tally::of(&requests[after_init..]);
    lifecycle.print_line("lifecycle after init", Some(ISSUES));
    Tally::of(&requests[..after_init]).print_line("init (one-time label setup)", None);
    Tally::of(&requests).print_line("everything", Some(ISSUES));
    Tally::of(&requests[after_init..after_create]).print_line("  issue create", Some(ISSUES));
    Tally::of(&requests[after_create..after_run]).print_line("  run --until-idle", Some(ISSUES));
    Tally::of(&requests[after_run..]).print_line("  pr merge", Some(ISSUES));
    println!("lifecycle after init, by endpoint:");
    lifecycle.print_endpoints();
    println!("init, by endpoint:");
    Tally::of(&requests[..after_init]).print_endpoints();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(
        pulls.len() as u64,
        ISSUES / BUNDLE_SIZE,
        "one pull request per bundle"
    );
}

/// One `clambake run` over 1,000 open issues with nothing to do: the first pass reads the
/// listing in full (its validators live in the process's memory), the next one is measured.
async fn idle_pass() {
    let setup = setup().await;
    setup
        .init(&[
            ("agents.runtime", "simulated"),
            ("agents.real_processes", "false"),
            ("forge.poll_interval_seconds", "1"),
        ])
        .await;
    setup.fake.seed_issues(IDLE_OPEN_ISSUES, &[]);
    let start = setup.fake.requests().len();
    let mut run = setup
        .command(&["run", "--no-view"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("clambake run starts");
    let usage = setup.work.path().join(".clambake/forge-usage.json");
    let mut ends = Vec::new();
    let mut last_written = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while ends.len() < 3 {
        let written = std::fs::read_to_string(&usage)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .map(|record| record["written_at"].clone());
        if written.is_some() && written != last_written {
            ends.push(setup.fake.requests().len());
            last_written = written;
        }
        wait_or_fail(&mut run, deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(run);
    let requests = setup.fake.requests();
    println!(
        "\nGitHub backend, idle polling over {IDLE_OPEN_ISSUES} open issues (one `clambake run`, poll every second):"
    );
    let warm_up = Tally::of(&requests[start..ends[0]]);
    warm_up.print_line("start and first pass (warm-up)", None);
    warm_up.print_endpoints();
    for (n, window) in ends.windows(2).enumerate() {
        let pass = Tally::of(&requests[window[0]..window[1]]);
        pass.print_line(&format!("idle pass {}", n + 2), None);
        pass.print_endpoints();
    }
}

/// Panics if `child` has ended or `deadline` has passed.
fn wait_or_fail(child: &mut Child, deadline: Instant) {
    if let Some(status) = child.try_wait().expect("clambake run's status") {
        panic!("clambake run ended early: {status}");
    }
    assert!(Instant::now() < deadline, "no three passes in ten minutes");
}

fn stop(mut child: Child) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let _ = child.wait();
}
