//! Planning a train: Clambake's in-memory trial merges against the prototype's method (check
//! out the base in a worktree and cherry-pick each branch's commits, aborting on a conflict),
//! side by side in one process, on a generated repository with a long history.
//!
//! `cargo bench --bench train`; sizes from BENCH_COMMITS (20000), BENCH_FILES (5000),
//! BENCH_BRANCHES (50), BENCH_RUNS (3). The repository comes from scripts/bench-train-repo.sh.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clambake::adapters::git::Git;
use clambake::app::trains::trial::{PendingTip, plan_on_git, write_chain};
use clambake::core::trains::plan::Candidate;
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

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
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
    let clambake_git = Git::new(&repo);
    let at: Timestamp = "2026-11-21T06:10:00Z".parse().expect("a timestamp");
    // The two methods take turns, so that load from elsewhere on the machine falls on both.
    let mut trial_times = Vec::new();
    let mut write_times = Vec::new();
    let mut pick_times = Vec::new();
    let mut trial_members = Vec::new();
    let mut picked = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let plan = runtime
            .block_on(plan_on_git(
                &clambake_git,
                &base,
                &PendingTip::default(),
                candidates.clone(),
                branches,
            ))
            .expect("planning works");
        trial_times.push(started.elapsed());
        let started = Instant::now();
        runtime
            .block_on(write_chain(&clambake_git, &plan, at))
            .expect("writing the chain works");
        write_times.push(started.elapsed());
        trial_members = plan.members.iter().map(|m| m.candidate.issue).collect();

        let started = Instant::now();
        picked = checkout_and_cherry_pick(&repo, &base, &candidates);
        pick_times.push(started.elapsed());
    }

    let mut sorted_trial = trial_members.clone();
    sorted_trial.sort_unstable();
    assert_eq!(
        sorted_trial, picked,
        "the two methods chose different branches"
    );
    let trial = median(trial_times);
    let write = median(write_times);
    let pick = median(pick_times);
    println!(
        "bundled {} of {branches} branches ({:.0} %)",
        trial_members.len(),
        100.0 * trial_members.len() as f64 / branches as f64
    );
    println!("planning with trial merges (merge-tree, no checkout): {trial:.2?}");
    println!("  then writing the bundle's merge commits:            {write:.2?}");
    println!("checkout + cherry-pick (prototype):                   {pick:.2?}");
    println!(
        "ratio, planning: {:.1}x faster; planning and writing: {:.1}x faster (medians of {runs})",
        pick.as_secs_f64() / trial.as_secs_f64(),
        pick.as_secs_f64() / (trial + write).as_secs_f64()
    );
}
