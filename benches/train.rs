//! Planning a train three ways, side by side in one process, on a generated repository with a
//! long history: Clambake's trial merges in process (gitoxide, the default engine), the same
//! planner on `git merge-tree` processes (the Git adapter's path), and the prototype's method
//! (check out the base in a worktree and cherry-pick each branch's commits, aborting on a
//! conflict).
//!
//! `cargo bench --bench train`; sizes from BENCH_COMMITS (20000), BENCH_FILES (5000),
//! BENCH_BRANCHES (50), BENCH_RUNS (3). The repository comes from scripts/bench-train-repo.sh.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clambake::adapters::git::{Git, GixMerges};
use clambake::app::trains::trial::{PendingTip, plan_on_git, write_chain};
use clambake::core::trains::plan::{BundlePlan, Candidate};
use clambake::ports::git::{GitResult, MergeEngine, MergeSpec, TrialMerge};
use jiff::Timestamp;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .expect("git runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

/// The prototype: a worktree on the base, then `cherry-pick base..branch` for each candidate,
/// keeping the picks that apply and aborting the ones that conflict. Returns the kept issues.
fn checkout_and_cherry_pick(repo: &Path, base: &str, candidates: &[Candidate]) -> Vec<u64> {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let tree = scratch.path().join("bundle");
    let tree_arg = tree.to_str().expect("a UTF-8 path");
    assert!(
        git(
            repo,
            &["worktree", "add", "--quiet", "--detach", tree_arg, base]
        )
        .0
    );
    let mut kept = Vec::new();
    for candidate in candidates {
        let range = format!("{base}..{}", candidate.head);
        if git(&tree, &["cherry-pick", "--allow-empty", &range]).0 {
            kept.push(candidate.issue);
        } else {
            assert!(git(&tree, &["cherry-pick", "--abort"]).0);
        }
    }
    assert!(git(repo, &["worktree", "remove", "--force", tree_arg]).0);
    kept
}

/// An engine that counts the trial merges a plan asks of the one it wraps, and how many of them
/// conflicted (with gix, each conflict is asked of `git merge-tree` again).
struct Counting<'a> {
    inner: &'a dyn MergeEngine,
    merges: AtomicUsize,
    conflicts: AtomicUsize,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a dyn MergeEngine) -> Self {
        Self {
            inner,
            merges: AtomicUsize::new(0),
            conflicts: AtomicUsize::new(0),
        }
    }

    fn count(&self, merge: &TrialMerge) {
        self.merges.fetch_add(1, Ordering::Relaxed);
        if matches!(merge, TrialMerge::Conflict(_)) {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The merges and conflicts counted since the last call.
    fn take(&self) -> (usize, usize) {
        (
            self.merges.swap(0, Ordering::Relaxed),
            self.conflicts.swap(0, Ordering::Relaxed),
        )
    }
}

#[async_trait]
impl MergeEngine for Counting<'_> {
    async fn trial_merge(&self, ours: &str, theirs: &str) -> GitResult<TrialMerge> {
        let merge = self.inner.trial_merge(ours, theirs).await?;
        self.count(&merge);
        Ok(merge)
    }

    async fn trial_merge_onto(
        &self,
        base: &str,
        ours: &str,
        theirs: &str,
    ) -> GitResult<TrialMerge> {
        let merge = self.inner.trial_merge_onto(base, ours, theirs).await?;
        self.count(&merge);
        Ok(merge)
    }

    async fn trial_merges(&self, merges: &[MergeSpec<'_>]) -> GitResult<Vec<TrialMerge>> {
        let answers = self.inner.trial_merges(merges).await?;
        answers.iter().for_each(|merge| self.count(merge));
        Ok(answers)
    }

    async fn merge_base(&self, a: &str, b: &str) -> GitResult<Option<String>> {
        self.inner.merge_base(a, b).await
    }

    async fn merge_bases(&self, base: &str, heads: &[&str]) -> GitResult<Vec<Option<String>>> {
        self.inner.merge_bases(base, heads).await
    }

    async fn write_commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        at: Timestamp,
    ) -> GitResult<String> {
        self.inner.write_commit(tree, parents, message, at).await
    }

    async fn empty_tree(&self) -> GitResult<String> {
        self.inner.empty_tree().await
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// One engine's plans: their times, the merges each asked for, and the last plan.
struct Planned {
    times: Vec<Duration>,
    merges: (usize, usize),
    plan: Option<BundlePlan>,
}

impl Planned {
    fn new() -> Self {
        Self {
            times: Vec::new(),
            merges: (0, 0),
            plan: None,
        }
    }

    fn plan(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        engine: &Counting<'_>,
        base: &str,
        candidates: &[Candidate],
    ) {
        let started = Instant::now();
        let plan = runtime
            .block_on(plan_on_git(
                engine,
                base,
                &PendingTip::default(),
                candidates.to_vec(),
                candidates.len(),
            ))
            .expect("planning works");
        self.times.push(started.elapsed());
        self.merges = engine.take();
        self.plan = Some(plan);
    }

    /// The issues the last plan bundled, in issue order.
    fn members(&self) -> Vec<u64> {
        let plan = self.plan.as_ref().expect("a plan");
        let mut members: Vec<u64> = plan.members.iter().map(|m| m.candidate.issue).collect();
        members.sort_unstable();
        members
    }
}

fn main() {
    let commits = setting("BENCH_COMMITS", 20_000);
    let files = setting("BENCH_FILES", 5_000);
    let branches = setting("BENCH_BRANCHES", 50);
    let runs = setting("BENCH_RUNS", 3).max(1);

    let scratch = tempfile::tempdir().expect("a temporary directory");
    let repo = scratch.path().join("repo");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-train-repo.sh");
    let started = Instant::now();
    let status = Command::new(&script)
        .arg(&repo)
        .args([commits, files, branches].map(|n| n.to_string()))
        .status()
        .expect("the generator runs");
    assert!(status.success(), "{} failed", script.display());
    println!(
        "repository: {commits} commits, {files} files, {branches} branches (generated in {:.1?})",
        started.elapsed()
    );

    let (_, base) = git(&repo, &["rev-parse", "main"]);
    let candidates: Vec<Candidate> = (1..=branches as u64)
        .map(|issue| {
            let branch = format!("agent001/{issue}-work");
            let (_, head) = git(&repo, &["rev-parse", &branch]);
            Candidate {
                issue,
                title: format!("work {issue}"),
                branch,
                head,
                priority: 2,
                landed_at: Timestamp::UNIX_EPOCH,
            }
        })
        .collect();

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let git_engine = Git::new(&repo);
    // Opened once, as the run loop opens it once per repository: its object cache is shared
    // by every merge of a plan and by the plans after it.
    let gix_engine = GixMerges::open(Git::new(&repo)).expect("gix opens the repository");
    let (in_process, processes) = (Counting::new(&gix_engine), Counting::new(&git_engine));
    let at: Timestamp = "2026-11-21T06:10:00Z".parse().expect("a timestamp");
    // The three methods take turns, so that load from elsewhere on the machine falls on all.
    let (mut gix, mut merge_tree) = (Planned::new(), Planned::new());
    let mut write_times = Vec::new();
    let mut pick_times = Vec::new();
    let mut picked = Vec::new();
    for _ in 0..runs {
        gix.plan(&runtime, &in_process, &base, &candidates);
        merge_tree.plan(&runtime, &processes, &base, &candidates);

        let started = Instant::now();
        runtime
            .block_on(write_chain(
                &gix_engine,
                gix.plan.as_ref().expect("a plan"),
                at,
            ))
            .expect("writing the chain works");
        write_times.push(started.elapsed());

        let started = Instant::now();
        picked = checkout_and_cherry_pick(&repo, &base, &candidates);
        pick_times.push(started.elapsed());
    }

    assert_eq!(
        gix.members(),
        picked,
        "gix and the prototype chose differently"
    );
    assert_eq!(
        merge_tree.members(),
        picked,
        "merge-tree and the prototype chose differently"
    );
    let [in_process_time, merge_tree_time, write, pick] =
        [gix.times, merge_tree.times, write_times, pick_times].map(median);
    let ratio = |faster: Duration| pick.as_secs_f64() / faster.as_secs_f64();
    println!(
        "bundled {} of {branches} branches ({:.0} %)",
        picked.len(),
        100.0 * picked.len() as f64 / branches as f64
    );
    println!(
        "planning, trial merges in process (gix):   {in_process_time:>10.2?}  {:>6.1}x  ({} merges, {} conflicts settled by git)",
        ratio(in_process_time),
        gix.merges.0,
        gix.merges.1
    );
    println!(
        "planning, trial merges by git merge-tree:  {merge_tree_time:>10.2?}  {:>6.1}x  ({} merges, {} conflicts)",
        ratio(merge_tree_time),
        merge_tree.merges.0,
        merge_tree.merges.1
    );
    println!(
        "checkout + cherry-pick (prototype):        {pick:>10.2?}  {:>6.1}x",
        1.0
    );
    println!(
        "then writing the bundle's merge commits:   {write:>10.2?}  (gix planning and writing: {:.1}x)",
        ratio(in_process_time + write)
    );
    println!(
        "in process against merge-tree: {:.1}x faster (medians of {runs}; ratios against the prototype)",
        merge_tree_time.as_secs_f64() / in_process_time.as_secs_f64()
    );
}
