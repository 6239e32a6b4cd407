//! The soak's world: a real repository with the local forge, the run loop in-process on its own
//! runtime (killed by dropping that runtime, as a killed process loses everything), simulated
//! agents, a flaky forge between them, a reviewer who merges what the trains send, and a clock
//! that the harness moves on.
//!
//! Simulated time moves by a step every real tick: a long one while the agents keep up with the
//! arrivals, a short one while ready issues pile up, so the soak covers its hours whatever the
//! machine's speed, and never outruns the work by so much that its timings stop meaning
//! anything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clambake::adapters::agents::simulated::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::run::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::core::queue::labels;
use clambake::core::queue::standing::{Stage, stage};
use clambake::ports::agent_host::Limits;
use clambake::ports::forge::{
    ForgeError, Issue, IssueFilter, NewIssue, PullRequestFilter, PullRequestState,
};
use clambake::ports::{Clock, Forge};
use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::hooked_forge::Hooked;
use crate::memory::{Reading, Samples};
use crate::workload::{Arrival, ForgeFaults, Scale, arrivals};

/// How often the harness moves time on and looks around.
const TICK: Duration = Duration::from_millis(10);
/// Simulated time per tick while the agents keep up, and while they fall behind.
const STEP: SignedDuration = SignedDuration::from_secs(20);
const BEHIND_STEP: SignedDuration = SignedDuration::from_secs(1);
/// How often, in simulated hours, memory is read and the claims checked, and the reviewer
/// merges; the reviewer also comes every `REVIEW_AT_LEAST` of real time.
const SAMPLE_HOURS: f64 = 0.25;
const REVIEW_HOURS: f64 = 0.5;
const REVIEW_AT_LEAST: Duration = Duration::from_secs(1);
/// The most real time the soak may take after its last arrival to settle everything.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// Simulated time: moves only when the harness moves it.
pub struct SoakClock(Mutex<Timestamp>);

impl SoakClock {
    fn advance(&self, by: SignedDuration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for SoakClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// What the soak did, for its report.
#[derive(Debug, Default)]
pub struct Tally {
    pub kills: u32,
    /// Incarnations that stopped with an error (faults piled up) and were started again.
    pub restarts_after_error: Vec<String>,
    pub reviews: u32,
    pub merged_pull_requests: u32,
    pub conflicts_resolved: u32,
    /// Simulated hours when everything had settled.
    pub settled_hour: f64,
    pub wall: Duration,
    pub samples: Samples,
    /// The issue number of each arrival (pull requests share the numbers).
    pub numbers: Vec<u64>,
}

/// One life of the orchestrator: its runtime, its task, and how to signal it.
struct Incarnation {
    runtime: Runtime,
    run: JoinHandle<Result<(), String>>,
    signals: watch::Sender<u32>,
}

pub struct Soak {
    pub scale: Scale,
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub clock: Arc<SoakClock>,
    start: Timestamp,
    pub faults: Arc<ForgeFaults>,
    pub arrivals: Vec<Arrival>,
    /// The harness's own runtime, for the people's side: issues filed, reviews, checks.
    pub driver: Runtime,
    /// The forge as people use it: no faults.
    pub forge: Arc<dyn Forge>,
}

impl Soak {
    pub fn new(scale: Scale) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("clambake-soak-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        git(&root, &["init", "-q", "-b", "main"]);
        std::fs::write(root.join("README.md"), "# soak\n").unwrap();
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-qm", "initial commit"]);
        clambake(&root, &["init", "--agents", &scale.agents.to_string()]);
        for (key, value) in [
            ("agents.real_processes", "false"),
            ("agents.max_attempts", "2"),
            // The agents' real seconds are many simulated minutes: a claim is not stuck for
            // the machine's slowness, and hung agents are stopped by the stall limit.
            ("recovery.max_stuck_time_minutes", "600"),
        ] {
            clambake(&root, &["config", "set", key, value]);
        }
        let mut rng = StdRng::seed_from_u64(scale.seed);
        let arrivals = arrivals(&scale, &mut rng);
        let start = Timestamp::now();
        let clock = Arc::new(SoakClock(Mutex::new(start)));
        let driver = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let forge: Arc<dyn Forge> = driver.block_on(async {
            let workspace = Workspace::discover(&root).await.unwrap();
            Arc::new(workspace.open_local_forge(clock.clone()).await.unwrap())
        });
        Self {
            scale,
            _dir: dir,
            root,
            clock,
            start,
            faults: Arc::new(ForgeFaults::new(scale.seed)),
            arrivals,
            driver,
            forge,
        }
    }

    /// Simulated hours since the start.
    pub fn hour(&self) -> f64 {
        self.clock.now().duration_since(self.start).as_secs_f64() / 3600.0
    }

    /// Plays the whole soak: arrivals over the scale's hours with the orchestrator killed at
    /// its moments, then the drain until every issue is merged or failed; stops the last
    /// orchestrator as a signal would.
    pub fn play(&self) -> Tally {
        let began = Instant::now();
        let mut tally = Tally::default();
        let mut incarnation = self.start_orchestrator();
        let mut kills = self.scale.kills.iter().peekable();
        let mut created = 0;
        let mut queued = 0;
        let (mut next_sample, mut next_review) = (0.0, REVIEW_HOURS);
        let mut reviewed_at = Instant::now();
        let mut drain_began = None;
        for tick in 0u64.. {
            std::thread::sleep(TICK);
            if incarnation.run.is_finished() {
                let ended = self.driver.block_on(&mut incarnation.run).unwrap();
                let error = ended.err().unwrap_or_else(|| "returned".to_owned());
                tally.restarts_after_error.push(error);
                incarnation.runtime.shutdown_timeout(Duration::from_secs(5));
                incarnation = self.start_orchestrator();
            }
            if tick.is_multiple_of(5) {
                queued = self.queued();
            }
            let behind = queued > 2 * self.scale.agents as usize;
            self.clock.advance(if behind { BEHIND_STEP } else { STEP });
            let hour = self.hour();
            while created < self.arrivals.len() && self.arrivals[created].hour <= hour {
                tally.numbers.push(self.file_issue(created));
                created += 1;
            }
            if hour >= next_review || reviewed_at.elapsed() >= REVIEW_AT_LEAST {
                self.review(&mut tally);
                next_review = hour + REVIEW_HOURS;
                reviewed_at = Instant::now();
            }
            if hour >= next_sample {
                tally.samples.0.push(Reading::now(hour));
                self.assert_single_claims(hour);
                next_sample += SAMPLE_HOURS;
            }
            if kills.next_if(|at| hour >= **at).is_some() {
                incarnation.runtime.shutdown_timeout(Duration::from_secs(5));
                tally.kills += 1;
                incarnation = self.start_orchestrator();
            }
            if created < self.arrivals.len() || hour < f64::from(self.scale.hours) {
                continue;
            }
            let draining = *drain_began.get_or_insert_with(Instant::now);
            if tick.is_multiple_of(20) && self.settled() {
                break;
            }
            assert!(
                draining.elapsed() < DRAIN_LIMIT,
                "not settled {DRAIN_LIMIT:?} after the last arrival: {}",
                self.unsettled()
            );
        }
        tally.settled_hour = self.hour();
        tally.samples.0.push(Reading::now(tally.settled_hour));
        // The last orchestrator stops as on SIGINT: nothing is in flight, it just signs off.
        incarnation.signals.send_replace(1);
        let stopped = incarnation.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), &mut incarnation.run).await
        });
        let ended = stopped.expect("the last orchestrator stopped on its signal");
        assert_eq!(ended.unwrap(), Ok(()), "the last orchestrator's run");
        incarnation.runtime.shutdown_timeout(Duration::from_secs(5));
        tally.wall = began.elapsed();
        tally
    }

    fn start_orchestrator(&self) -> Incarnation {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (signals, shutdown) = watch::channel(0);
        let (root, clock, faults) = (self.root.clone(), self.clock.clone(), self.faults.clone());
        let run = runtime.spawn(async move {
            orchestrate(&root, clock, faults, shutdown)
                .await
                .map_err(|error| format!("{error:?}"))
        });
        Incarnation {
            runtime,
            run,
            signals,
        }
    }

    fn file_issue(&self, index: usize) -> u64 {
        let plan = self.arrivals[index].plan;
        let created = self.driver.block_on(self.forge.create_issue(&NewIssue {
            title: format!("Soak task {}", index + 1),
            body: plan.body(),
            labels: vec![labels::READY.to_owned()],
            assignees: Vec::new(),
        }));
        created.unwrap().number
    }

    fn open_issues(&self) -> Vec<Issue> {
        self.driver
            .block_on(self.forge.issues(&IssueFilter::open()))
            .unwrap()
    }

    /// Open issues waiting for an agent or with one.
    fn queued(&self) -> usize {
        self.open_issues()
            .iter()
            .filter(|i| {
                matches!(
                    stage(i.labels.iter().map(String::as_str)),
                    Stage::Ready | Stage::Claimed
                )
            })
            .count()
    }

    fn open_pull_requests(&self) -> Vec<clambake::ports::forge::PullRequest> {
        self.driver
            .block_on(self.forge.pull_requests(&PullRequestFilter {
                state: Some(PullRequestState::Open),
                head: None,
            }))
            .unwrap()
    }

    /// Whether every issue is closed or failed, and no pull request is open.
    fn settled(&self) -> bool {
        self.open_pull_requests().is_empty()
            && self
                .open_issues()
                .iter()
                .all(|i| i.labels == [labels::FAILED])
    }

    fn unsettled(&self) -> String {
        let issues: Vec<String> = self
            .open_issues()
            .iter()
            .filter(|i| i.labels != [labels::FAILED])
            .map(|i| format!("#{} {:?}", i.number, i.labels))
            .collect();
        let prs: Vec<String> = self
            .open_pull_requests()
            .iter()
            .map(|pr| format!("#{} {}", pr.number, pr.head))
            .collect();
        format!("open issues {issues:?}, open pull requests {prs:?}")
    }

    /// The reviewer merges every open pull request, lowest number first; one that conflicts
    /// with `main` is brought up to date first, keeping the pull request's side, unless its
    /// branch is checked out (being rebuilt): then it waits for the next review.
    fn review(&self, tally: &mut Tally) {
        tally.reviews += 1;
        for pr in self.open_pull_requests() {
            let merged = self
                .driver
                .block_on(self.forge.merge_pull_request(pr.number, None));
            match merged {
                Ok(_) => tally.merged_pull_requests += 1,
                Err(ForgeError::MergeConflict { base, .. }) => {
                    if self.resolve(&pr.head, &base) {
                        tally.conflicts_resolved += 1;
                    }
                }
                // Closed or changed by the train meanwhile: seen again next review.
                Err(_) => {}
            }
        }
    }

    /// Merges `base` into `head` without a checkout, conflicts resolved for `head`; the
    /// reference moves only if nobody moved it meanwhile.
    fn resolve(&self, head: &str, base: &str) -> bool {
        let worktrees = git(&self.root, &["worktree", "list", "--porcelain"]);
        if worktrees.contains(&format!("branch refs/heads/{head}\n")) {
            return false;
        }
        let tip = git(&self.root, &["rev-parse", &format!("refs/heads/{head}")]);
        let tree = git(
            &self.root,
            &["merge-tree", "--write-tree", "-X", "ours", &tip, base],
        );
        let base_tip = git(&self.root, &["rev-parse", base]);
        let message = format!("Merge {base} into {head}, keeping {head} in conflicts");
        let merge = git(
            &self.root,
            &[
                "commit-tree",
                &tree,
                "-p",
                &tip,
                "-p",
                &base_tip,
                "-m",
                &message,
            ],
        );
        try_git(
            &self.root,
            &["update-ref", &format!("refs/heads/{head}"), &merge, &tip],
        )
        .is_some()
    }

    /// No issue carries two agent labels, and no agent label sits on two open issues.
    fn assert_single_claims(&self, hour: f64) {
        let mut holders = std::collections::BTreeMap::<String, u64>::new();
        for issue in self.open_issues() {
            let agents: Vec<&String> = issue
                .labels
                .iter()
                .filter(|l| labels::agent_slot(l).is_some())
                .collect();
            assert!(
                agents.len() <= 1,
                "hour {hour:.2}: #{} held by {agents:?}",
                issue.number
            );
            for agent in agents {
                let other = holders.insert(agent.clone(), issue.number);
                assert!(
                    other.is_none(),
                    "hour {hour:.2}: {agent} holds #{other:?} and #{}",
                    issue.number
                );
            }
        }
    }
}

/// One orchestrator on the repository at `root`, run until its signal.
async fn orchestrate(
    root: &Path,
    clock: Arc<SoakClock>,
    faults: Arc<ForgeFaults>,
    shutdown: watch::Receiver<u32>,
) -> clambake::app::AppResult<()> {
    let workspace = Workspace::discover(root).await?;
    let config = workspace.load_config()?.config;
    let forge = Hooked {
        inner: Arc::new(workspace.open_local_forge(clock.clone()).await?),
        hook: faults,
    };
    let journal = Arc::new(open_journal(&workspace)?);
    let mut settings = RunSettings::from_config(&config);
    settings.limits = Limits {
        stall: Duration::from_secs(2),
        timeout: Duration::from_secs(30),
        grace: Duration::from_millis(100),
        budget: None,
    };
    settings.poll_interval = Duration::from_millis(20);
    let mut orchestrator = Orchestrator::new(
        workspace,
        config,
        Arc::new(forge),
        journal,
        Arc::new(SimulatedRuntime),
        clock,
        settings,
    )
    .await?;
    orchestrator.run(StopWhen::Never, shutdown, false).await
}

/// Runs git in `dir`; its trimmed output, or `None` if it failed.
fn try_git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Reviewer")
        .env("GIT_AUTHOR_EMAIL", "reviewer@example.com")
        .env("GIT_COMMITTER_NAME", "Reviewer")
        .env("GIT_COMMITTER_EMAIL", "reviewer@example.com")
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    try_git(dir, args).unwrap_or_else(|| panic!("git {args:?} failed in {}", dir.display()))
}

fn clambake(dir: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLAMBAKE_SOAK")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "clambake {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
