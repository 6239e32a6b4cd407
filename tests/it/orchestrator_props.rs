//! Property: the run loop keeps the seed's invariants whatever the agents do and whatever goes
//! wrong around it.
//!
//! A case is one real temporary git repository with the local forge, `clambake init`ed for 1 to
//! 8 simulated agents (at most 2 attempts per issue), and 1 to 30 `route:ready` issues, each
//! steering its agent (`simulate:` directives) to succeed, crash, hang, commit nothing, or
//! succeed with an edit to one of two shared files (so that branches conflict in the trains).
//! The orchestrator runs in-process, in "incarnations": each is a fresh `Orchestrator` on its
//! own tokio runtime, run until idle. Faults are injected: some forge calls fail (before the call,
//! or after it with the reply lost) with `ForgeError::Backend`, chosen by call number, and the
//! first incarnations can be killed at a random moment (the runtime is dropped with everything
//! in it, as a killed process would be). Between incarnations a reviewer merges every open pull
//! request, resolving conflicts as a person would (keeping the pull request's side). Simulated
//! time (an injected clock) runs ten minutes per real second while an orchestrator runs, so
//! retries, trains and drift checks happen in seconds; a restart takes no simulated time.
//!
//! At the end: every issue is merged (closed, its work on `main`) or `route:failed` with its
//! work kept on a branch or an archive reference; only issues whose agents succeed are merged,
//! and without faults all of them are; no slot held a claim longer than
//! `recovery.max_stuck_time_minutes` of simulated time, and none holds one now; and
//! `agent validate --all`'s check (`diagnose`) finds the state consistent with the forge and git.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clambake::adapters::agents::simulated::{SimulatedRuntime, simulated_file};
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::recovery::observe::registered_processes;
use clambake::app::recovery::repair::{Opened, diagnose};
use clambake::app::run::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::core::lifecycle::machine::StateKind;
use clambake::core::queue::labels::{self, agent_label};
use clambake::core::recovery::drift::ARCHIVE_PREFIX;
use clambake::ports::agent_host::Limits;
use clambake::ports::forge::{
    ForgeError, IssueFilter, IssueState, NewIssue, Number, PullRequestFilter, PullRequestState,
};
use clambake::ports::journal::Journal;
use clambake::ports::{Clock, Forge};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::hostile;
use crate::support::TestRepo;

/// How often simulated time moves on while an orchestrator runs, and by how much.
const TICK: Duration = Duration::from_millis(10);
const TICK_SIMULATED: SignedDuration = SignedDuration::from_secs(6);
/// The most real time one incarnation may take to go idle before the case fails.
const INCARNATION_LIMIT: Duration = Duration::from_secs(30);
/// Incarnations after the faulty ones, to let the loop and the reviewer settle everything.
const SETTLING_ROUNDS: usize = 4;

/// What the agent does on one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Succeed,
    Crash,
    Hang,
    NoCommits,
    /// Succeeds, also appending a line to `shared/<n>.txt`: issues sharing `n` conflict.
    EditShared(u8),
}

impl Plan {
    fn body(self) -> String {
        match self {
            Self::Succeed => "Do the work.".to_owned(),
            Self::Crash => "simulate: outcome crash".to_owned(),
            Self::Hang => "simulate: outcome hang".to_owned(),
            Self::NoCommits => "simulate: outcome no-commits".to_owned(),
            Self::EditShared(n) => format!("simulate: edit shared/{n}.txt"),
        }
    }

    fn can_succeed(self) -> bool {
        matches!(self, Self::Succeed | Self::EditShared(_))
    }

    /// Whether the agent writes anything that must be kept.
    fn writes_work(self) -> bool {
        !matches!(self, Self::Hang | Self::NoCommits)
    }
}

/// How an injected forge fault shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call fails without reaching the forge.
    Refused,
    /// The forge did it, but the reply was lost.
    ReplyLost,
}

#[derive(Debug, Clone)]
struct Scenario {
    agents: u32,
    issues: Vec<Plan>,
    /// Forge call number (counted across incarnations) to the fault injected there.
    forge_faults: BTreeMap<u32, Fault>,
    /// Real time after which each of the first incarnations is killed.
    kills: Vec<Duration>,
    /// Per issue, the entry of the hostile corpus its title carries.
    hostile: Vec<prop::sample::Index>,
}

impl Scenario {
    fn faulty(&self) -> bool {
        !self.forge_faults.is_empty() || !self.kills.is_empty()
    }
}

fn any_plan() -> impl Strategy<Value = Plan> {
    prop_oneof![
        4 => Just(Plan::Succeed),
        1 => Just(Plan::Crash),
        1 => Just(Plan::Hang),
        1 => Just(Plan::NoCommits),
        2 => (0..2u8).prop_map(Plan::EditShared),
    ]
}

fn any_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Refused), Just(Fault::ReplyLost)]
}

fn any_scenario() -> impl Strategy<Value = Scenario> {
    (
        1..=8u32,
        prop::collection::vec(any_plan(), 1..=30),
        prop::collection::btree_map(0..400u32, any_fault(), 0..4),
        prop::collection::vec((100..1500u64).prop_map(Duration::from_millis), 0..3),
        prop::collection::vec(any::<prop::sample::Index>(), 30),
    )
        .prop_map(|(agents, issues, forge_faults, kills, hostile)| Scenario {
            agents,
            issues,
            forge_faults,
            kills,
            hostile,
        })
}

/// Simulated time: moves only when the test moves it.
pub(crate) struct FakeClock(pub(crate) Mutex<Timestamp>);

impl FakeClock {
    pub(crate) fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Fails the calls whose numbers (counted across incarnations) the scenario names.
struct Faults {
    calls: Arc<AtomicU32>,
    faults: Arc<BTreeMap<u32, Fault>>,
}

impl Hook for Faults {
    fn before(&self, name: &'static str, _number: Option<Number>) -> Verdict {
        let number = self.calls.fetch_add(1, Ordering::SeqCst);
        let fail = || ForgeError::Backend(format!("injected fault in {name} (call {number})"));
        match self.faults.get(&number) {
            None => Verdict::Pass,
            Some(Fault::Refused) => Verdict::Refuse(fail()),
            Some(Fault::ReplyLost) => Verdict::LoseReply(fail()),
        }
    }
}

/// How an incarnation ended.
#[derive(Debug)]
enum Ending {
    Idle,
    Killed,
    /// Stopped with an error (an injected forge fault, or what followed one).
    Failed(String),
}

impl Ending {
    fn describe(&self) -> String {
        match self {
            Self::Idle => "idle".to_owned(),
            Self::Killed => "killed".to_owned(),
            Self::Failed(error) => format!("failed: {error}"),
        }
    }
}

/// The repository under test and what every incarnation shares.
struct Harness {
    repo: TestRepo,
    clock: Arc<FakeClock>,
    calls: Arc<AtomicU32>,
    faults: Arc<BTreeMap<u32, Fault>>,
    titles: Vec<String>,
}

impl Harness {
    fn new(scenario: &Scenario) -> Self {
        let repo = TestRepo::new();
        repo.clambake(&["init", "--agents", &scenario.agents.to_string()])
            .success();
        repo.configure(&[
            ("agents.real_processes", "false"),
            ("agents.max_attempts", "2"),
        ]);
        let harness = Self {
            repo,
            clock: Arc::new(FakeClock(Mutex::new(Timestamp::now()))),
            calls: Arc::default(),
            faults: Arc::new(scenario.forge_faults.clone()),
            // Aimed at #1, which a title may not close unless its own work merged.
            titles: (1..=scenario.issues.len())
                .zip(&scenario.hostile)
                .map(|(n, pick)| format!("Task {n} {}", pick.get(&hostile_titles())))
                .collect(),
        };
        runtime().block_on(async {
            let forge = harness.forge().await;
            for (plan, title) in scenario.issues.iter().zip(&harness.titles) {
                forge
                    .create_issue(&NewIssue {
                        title: title.clone(),
                        body: plan.body(),
                        labels: vec![labels::READY.to_owned()],
                        assignees: Vec::new(),
                    })
                    .await
                    .unwrap();
            }
        });
        harness
    }

    async fn workspace(&self) -> Workspace {
        Workspace::discover(self.repo.path()).await.unwrap()
    }

    /// The local forge as the reviewer and the checks see it: no faults.
    async fn forge(&self) -> Arc<dyn Forge> {
        Arc::new(
            self.workspace()
                .await
                .open_local_forge(self.clock.clone())
                .await
                .unwrap(),
        )
    }

    /// Starts a new orchestrator and runs it until idle, an error, or `kill_after`.
    fn incarnation(&self, kill_after: Option<Duration>) -> Ending {
        let runtime = runtime();
        let ending = runtime.block_on(async {
            let clock = self.clock.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TICK).await;
                    clock.advance(TICK_SIMULATED);
                }
            });
            let run = self.run_orchestrator();
            match kill_after {
                Some(cut) => match tokio::time::timeout(cut, run).await {
                    Ok(ending) => ending,
                    Err(_) => Ending::Killed,
                },
                None => tokio::time::timeout(INCARNATION_LIMIT, run)
                    .await
                    .unwrap_or_else(|_| {
                        panic!("the loop did not go idle in {INCARNATION_LIMIT:?}")
                    }),
            }
        });
        // Everything this "process" ran (attempts, simulated agents) dies with it.
        runtime.shutdown_timeout(Duration::from_secs(5));
        ending
    }

    async fn run_orchestrator(&self) -> Ending {
        let workspace = self.workspace().await;
        let config = workspace.load_config().unwrap().config;
        let forge: Arc<dyn Forge> = Arc::new(Hooked {
            inner: Arc::new(
                workspace
                    .open_local_forge(self.clock.clone())
                    .await
                    .unwrap(),
            ),
            hook: Faults {
                calls: self.calls.clone(),
                faults: self.faults.clone(),
            },
        });
        let journal = Arc::new(open_journal(&workspace).unwrap());
        let mut settings = RunSettings::from_config(&config);
        settings.limits = Limits {
            stall: Duration::from_millis(300),
            timeout: Duration::from_secs(10),
            grace: Duration::from_millis(50),
            budget: None,
        };
        settings.poll_interval = Duration::from_millis(20);
        let orchestrator = Orchestrator::new(
            workspace,
            config,
            forge,
            journal,
            Arc::new(SimulatedRuntime),
            self.clock.clone(),
            settings,
        )
        .await;
        let mut orchestrator = match orchestrator {
            Ok(orchestrator) => orchestrator,
            Err(error) => return Ending::Failed(format!("{error:?}")),
        };
        let (_signals, shutdown) = tokio::sync::watch::channel(0);
        match orchestrator.run(StopWhen::Idle, shutdown, false).await {
            Ok(()) => Ending::Idle,
            Err(error) => Ending::Failed(format!("{error:?}")),
        }
    }

    /// Merges every open pull request, lowest number first; a conflicting one is resolved on its
    /// branch first, keeping the pull request's side. Returns how many were merged.
    fn review(&self) -> usize {
        runtime().block_on(async {
            let forge = self.forge().await;
            let open = forge
                .pull_requests(&PullRequestFilter {
                    state: Some(PullRequestState::Open),
                    head: None,
                })
                .await
                .unwrap();
            for pr in &open {
                match forge.merge_pull_request(pr.number, None).await {
                    Ok(_) => {}
                    Err(ForgeError::MergeConflict { base, .. }) => {
                        self.resolve(&pr.head, &base);
                        forge.merge_pull_request(pr.number, None).await.unwrap();
                    }
                    Err(error) => panic!("merging #{}: {error:?}", pr.number),
                }
            }
            open.len()
        })
    }

    /// Merges `base` into `head`, conflicts resolved for `head`: in the worktree that has `head`
    /// checked out (a run killed before removing it), else without a checkout.
    fn resolve(&self, head: &str, base: &str) {
        let git = |args: &[&str]| self.repo.git(args);
        let worktrees = git(&["worktree", "list", "--porcelain"]);
        let checked_out = worktrees.split("\n\n").find_map(|block| {
            let path = block.lines().next()?.strip_prefix("worktree ")?;
            block
                .lines()
                .any(|l| l == format!("branch refs/heads/{head}"))
                .then_some(path)
        });
        if let Some(path) = checked_out {
            git(&["-C", path, "merge", "-q", "-X", "ours", "--no-edit", base]);
            return;
        }
        let tip = git(&["rev-parse", &format!("refs/heads/{head}")]);
        let tree = git(&["merge-tree", "--write-tree", "-X", "ours", &tip, base]);
        let base_tip = git(&["rev-parse", base]);
        let merge = git(&[
            "commit-tree",
            &tree,
            "-p",
            &tip,
            "-p",
            &base_tip,
            "-m",
            &format!("Merge {base} into {head}, keeping {head} in conflicts"),
        ]);
        git(&["update-ref", &format!("refs/heads/{head}"), &merge, &tip]);
    }

    /// Whether every issue is closed or failed, and no pull request is open.
    fn settled(&self) -> bool {
        runtime().block_on(async {
            let forge = self.forge().await;
            let open_prs = forge
                .pull_requests(&PullRequestFilter {
                    state: Some(PullRequestState::Open),
                    head: None,
                })
                .await
                .unwrap();
            let open = forge.issues(&IssueFilter::open()).await.unwrap();
            open_prs.is_empty() && open.iter().all(|i| i.has_label(labels::FAILED))
        })
    }

    /// Whether `path` is in the tree of `reference`.
    fn has_file(&self, reference: &str, path: &str) -> bool {
        std::process::Command::new("git")
            .current_dir(self.repo.path())
            .args(["cat-file", "-e", &format!("{reference}:{path}")])
            .status()
            .unwrap()
            .success()
    }

    /// The agent branches and archive references that may hold the work on `issue`.
    fn refs_of(&self, issue: u64) -> Vec<String> {
        let refs = self.repo.git(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/",
            ARCHIVE_PREFIX,
        ]);
        refs.lines()
            .filter(|name| {
                let branch = name
                    .strip_prefix(ARCHIVE_PREFIX)
                    .or_else(|| name.strip_prefix("refs/heads/"))
                    .unwrap_or(name);
                branch
                    .split_once('/')
                    .is_some_and(|(_, rest)| rest.starts_with(&format!("{issue}-")))
            })
            .map(str::to_owned)
            .collect()
    }

    fn check_invariants(&self, scenario: &Scenario) {
        runtime().block_on(async {
            let workspace = self.workspace().await;
            let forge = self.forge().await;
            let config = workspace.load_config().unwrap().config;
            for (index, plan) in scenario.issues.iter().enumerate() {
                let number = index as u64 + 1;
                let issue = forge.issue(number).await.unwrap();
                let title = &self.titles[index];
                let work = simulated_file(number, title);
                if issue.state == IssueState::Closed {
                    // Whatever went wrong, only work an agent called done is merged.
                    assert!(plan.can_succeed(), "#{number} ({plan:?}) was merged");
                    assert!(
                        self.has_file("main", &work),
                        "#{number}: {work} is not on main"
                    );
                    continue;
                }
                assert_eq!(
                    issue.labels,
                    [labels::FAILED],
                    "#{number} ({plan:?}) is open but not failed"
                );
                assert!(
                    !plan.can_succeed() || scenario.faulty(),
                    "#{number} ({plan:?}) failed though nothing went wrong"
                );
                // With faults, attempts can break before the agent wrote anything.
                if plan.writes_work() && !scenario.faulty() {
                    let kept = self.refs_of(number);
                    assert!(
                        kept.iter().any(|r| self.has_file(r, &work)),
                        "#{number} ({plan:?}) failed and its work is on none of {kept:?}"
                    );
                }
            }

            let journal = open_journal(&workspace).unwrap();
            let max_stuck = config.recovery.max_stuck_time_minutes.duration();
            for slot in 1..=scenario.agents {
                let agent = agent_label(slot);
                let history = journal.history(&agent).unwrap();
                for pair in history.windows(2) {
                    let held = pair[1].at.duration_since(pair[0].at);
                    assert!(
                        !matches!(pair[0].to.kind(), StateKind::Assigned | StateKind::Working)
                            || held <= max_stuck,
                        "{agent} held #{:?} for {held:?} of simulated time",
                        pair[0].to.claimed_issue()
                    );
                }
                let now = journal.current_state(&agent).unwrap();
                assert_eq!(now.claimed_issue(), None, "{agent} still holds a claim");
            }

            let opened = Opened::open(&workspace, registered_processes(&workspace).unwrap())
                .await
                .unwrap();
            let diagnosis = diagnose(&opened.world(&workspace), None, self.clock.now())
                .await
                .unwrap();
            assert!(
                diagnosis.plans.is_empty(),
                "inconsistent at the end: {:#?}",
                diagnosis.plans
            );
        });
    }
}

fn hostile_titles() -> Vec<String> {
    let lookalike = hostile::record_lookalike("main", 1, "main", &"0".repeat(40));
    hostile::titles(1, &[lookalike])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the scenario to its end: the faulty incarnations, then clean ones with a review after
/// each, until everything is merged or failed and a last incarnation has tidied up after the
/// last merge.
fn play(scenario: &Scenario) -> Harness {
    let harness = Harness::new(scenario);
    let mut endings = Vec::new();
    for kill in &scenario.kills {
        endings.push(harness.incarnation(Some(*kill)).describe());
        harness.review();
    }
    for _ in 0..SETTLING_ROUNDS + scenario.forge_faults.len() {
        let ending = harness.incarnation(None);
        let idle = matches!(ending, Ending::Idle);
        endings.push(ending.describe());
        if harness.review() == 0 && idle && harness.settled() {
            return harness;
        }
    }
    panic!("the scenario never settled; incarnations ended: {endings:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn every_issue_ends_merged_or_failed_with_its_work_and_the_state_is_consistent(
        scenario in any_scenario(),
    ) {
        let harness = play(&scenario);
        harness.check_invariants(&scenario);
    }
}
