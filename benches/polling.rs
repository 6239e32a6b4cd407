//! What an idle pass of the run loop costs the forge: the listings one pass reads (open issues
//! twice, the pull requests three times and the issues in review once, as `run` with trains
//! does), over 1,000 open issues, read in full as before and as conditional reads that come
//! back "not modified". Run with `cargo bench --bench polling`; prints figures, asserts nothing
//! about speed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clambake::adapters::forge::conditional::ConditionalForge;
use clambake::app::Workspace;
use clambake::core::config::ForgeBackend;
use clambake::core::labels;
use clambake::ports::Forge;
use clambake::ports::forge::{
    IssueFilter, IssueState, NewIssue, PullRequestFilter, PullRequestState,
};

const OPEN_ISSUES: u64 = 1_000;
const PASSES: usize = 50;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(idle_pass());
}

async fn idle_pass() {
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
    clambake(dir.path(), &["init", "--agents", "8"]);
    let workspace = Workspace::discover(dir.path())
        .await
        .expect("the workspace");
    let forge = workspace
        .open_forge(ForgeBackend::Local)
        .await
        .expect("the local forge");
    for n in 1..=OPEN_ISSUES {
        forge
            .create_issue(&NewIssue {
                title: format!("Task {n}"),
                body: "Something to do.".to_owned(),
                labels: vec![labels::READY.to_owned(), "bug".to_owned()],
                assignees: Vec::new(),
            })
            .await
            .expect("create an issue");
    }
    let before = median_pass(forge.as_ref()).await;
    let conditional = ConditionalForge::new(forge);
    let after = median_pass(&conditional).await;
    println!(
        "polling: one idle pass's listings over {OPEN_ISSUES} open issues: read in full \
         {before:.1?}, conditional and not modified {after:.1?} (median of {PASSES} passes)"
    );
}

/// The median time of one pass's listings, after one pass to warm up.
async fn median_pass(forge: &dyn Forge) -> Duration {
    pass(forge).await;
    let mut passes = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let started = Instant::now();
        pass(forge).await;
        passes.push(started.elapsed());
    }
    passes.sort();
    passes[passes.len() / 2]
}

async fn pass(forge: &dyn Forge) {
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

fn clambake(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("clambake runs");
    assert!(status.success(), "clambake {args:?}");
}
