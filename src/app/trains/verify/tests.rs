//! The verifier on a real repository: eight member branches that each add a file, checks
//! judged in memory from the trial commit's files (a member is broken when it adds `broken`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use super::*;
use crate::app::compose;
use crate::core::trains::bisect::Purpose;
use crate::core::trains::pull_request::RecordedBranch;
use crate::ports::checks::ChecksError;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@clambake.localhost")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@clambake.localhost")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Checks decided from the commit's files, as a checks command would: they fail when a
/// `broken-*` file is there (or `base-broken`), with `flaky` failing every commit's first
/// run whatever it holds. Requests are counted; with `hold`, requested checks stay pending
/// until `finish`.
struct FileChecks {
    dir: std::path::PathBuf,
    flaky_once: bool,
    hold: bool,
    requested: Mutex<Vec<(String, String)>>,
    pending: Mutex<BTreeSet<String>>,
    results: Mutex<BTreeMap<String, CommitCheckState>>,
}

impl FileChecks {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            flaky_once: false,
            hold: false,
            requested: Mutex::default(),
            pending: Mutex::default(),
            results: Mutex::default(),
        }
    }

    fn judge(&self, commit: &str) -> CommitCheckState {
        let files = git(&self.dir, &["ls-tree", "-r", "--name-only", commit]);
        let message = git(&self.dir, &["log", "-1", "--format=%s", commit]);
        let broken = files
            .lines()
            .any(|f| f.starts_with("broken") || f == "base-broken");
        if broken || (self.flaky_once && message.ends_with("run 1")) {
            CommitCheckState::Failed(CheckFailure {
                summary: "checks exited with 1".to_owned(),
                details: Some(format!("log of {commit}")),
                tail: format!("assertion failed in {}", files.replace('\n', " ")),
            })
        } else {
            CommitCheckState::Passed
        }
    }

    fn finish(&self) {
        for commit in std::mem::take(&mut *self.pending.lock().unwrap()) {
            let state = self.judge(&commit);
            self.results.lock().unwrap().insert(commit, state);
        }
    }

    fn requests(&self) -> usize {
        self.requested.lock().unwrap().len()
    }
}

#[async_trait]
impl CommitChecks for FileChecks {
    async fn request(&self, commit: &str, name: &str) -> Result<(), ChecksError> {
        if self.results.lock().unwrap().contains_key(commit)
            || self.pending.lock().unwrap().contains(commit)
        {
            return Ok(());
        }
        self.requested
            .lock()
            .unwrap()
            .push((commit.to_owned(), name.to_owned()));
        if self.hold {
            self.pending.lock().unwrap().insert(commit.to_owned());
        } else {
            let state = self.judge(commit);
            self.results
                .lock()
                .unwrap()
                .insert(commit.to_owned(), state);
        }
        Ok(())
    }

    async fn state(&self, commit: &str) -> Result<CommitCheckState, ChecksError> {
        if self.pending.lock().unwrap().contains(commit) {
            return Ok(CommitCheckState::Pending);
        }
        Ok(self
            .results
            .lock()
            .unwrap()
            .get(commit)
            .cloned()
            .unwrap_or(CommitCheckState::NotStarted))
    }
}

/// A repository with eight member branches off `main`, each adding its own file; those in
/// `broken` add a `broken-N` file too. `base_broken` puts `base-broken` on main.
fn bundle(dir: &Path, broken: &[u64], base_broken: bool) -> BundleRecord {
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "start\n").unwrap();
    if base_broken {
        std::fs::write(dir.join("base-broken"), "").unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "start"]);
    let base_tip = git(dir, &["rev-parse", "HEAD"]);
    let members = (1..=8)
        .map(|issue| {
            let branch = format!("clambake/issue-{issue}");
            git(dir, &["checkout", "-q", "-b", &branch, "main"]);
            std::fs::write(dir.join(format!("m{issue}.txt")), "work\n").unwrap();
            if broken.contains(&issue) {
                std::fs::write(dir.join(format!("broken-{issue}")), "").unwrap();
            }
            git(dir, &["add", "-A"]);
            git(dir, &["commit", "-qm", &format!("work on #{issue}")]);
            RecordedBranch {
                issue,
                branch,
                head: git(dir, &["rev-parse", "HEAD"]),
            }
        })
        .collect();
    git(dir, &["checkout", "-q", "main"]);
    BundleRecord {
        departure: "2026-12-01T21:00:00Z".parse::<Timestamp>().unwrap(),
        branch: "clambake/bundle-20261201-2100".to_owned(),
        base: "main".to_owned(),
        base_tip: base_tip.clone(),
        tip: base_tip,
        members,
        set_aside: Vec::new(),
        checking: true,
        taken_out: Vec::new(),
    }
}

const DEFAULTS: Settings = Settings {
    retry_flaky: 1,
    parallel: 2,
};

async fn verdict(
    record: &BundleRecord,
    dir: &Path,
    checks: &FileChecks,
) -> (bisect::Verdict, Progress) {
    let repository = compose::repository(dir);
    let verifier = Verifier {
        merges: repository.merges.as_ref(),
        checks,
        settings: DEFAULTS,
    };
    for _ in 0..64 {
        let progress = verifier.advance(record).await.unwrap();
        if let Next::Done { verdict } = &progress.bisection.next {
            return (verdict.clone(), progress);
        }
        checks.finish();
    }
    panic!("the bisection did not end");
}

#[tokio::test]
async fn a_bundle_of_eight_with_one_broken_member_blames_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let record = bundle(dir.path(), &[5], false);
    let checks = FileChecks::new(dir.path());
    let (verdict, progress) = verdict(&record, dir.path(), &checks).await;
    assert_eq!(verdict.culprits, vec![5]);
    assert_eq!(verdict.kept, vec![1, 2, 3, 4, 6, 7, 8]);
    // The whole bundle, its rerun, two rounds of two parts and the rest after #5: 7 checks
    // where checking each member alone would take 8.
    assert_eq!(checks.requests(), 7);
    let failure = progress.failure_of(5).unwrap();
    assert!(failure.tail.contains("broken-5"), "{failure:?}");
    let names: Vec<String> = checks
        .requested
        .lock()
        .unwrap()
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    assert_eq!(names[0], "clambake/bundle-20261201-2100-1");
}

#[tokio::test]
async fn two_broken_members_are_both_found() {
    let dir = tempfile::tempdir().unwrap();
    let record = bundle(dir.path(), &[2, 7], false);
    let checks = FileChecks::new(dir.path());
    let (verdict, _) = verdict(&record, dir.path(), &checks).await;
    assert_eq!(verdict.culprits, vec![2, 7]);
    assert_eq!(verdict.kept, vec![1, 3, 4, 5, 6, 8]);
}

#[tokio::test]
async fn a_failure_that_passes_on_rerun_blames_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let record = bundle(dir.path(), &[], false);
    let checks = FileChecks {
        flaky_once: true,
        ..FileChecks::new(dir.path())
    };
    let (verdict, progress) = verdict(&record, dir.path(), &checks).await;
    assert!(verdict.flaky_rerun_passed && verdict.culprits.is_empty());
    assert_eq!(checks.requests(), 2);
    assert_eq!(progress.bisection.steps[1].purpose, Purpose::Rerun);
}

#[tokio::test]
async fn a_broken_base_blames_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let record = bundle(dir.path(), &[], true);
    let checks = FileChecks::new(dir.path());
    let (verdict, _) = verdict(&record, dir.path(), &checks).await;
    assert!(verdict.base_broken && verdict.culprits.is_empty());
}

/// Each look asks only for what is not asked for yet; a fresh verifier over the same results
/// (a restart) writes the same commits and asks for nothing again.
#[tokio::test]
async fn a_restart_mid_bisection_repeats_no_finished_check() {
    let dir = tempfile::tempdir().unwrap();
    let record = bundle(dir.path(), &[3], false);
    let checks = FileChecks {
        hold: true,
        ..FileChecks::new(dir.path())
    };
    let repository = compose::repository(dir.path());
    let verifier = Verifier {
        merges: repository.merges.as_ref(),
        checks: &checks,
        settings: DEFAULTS,
    };
    let first = verifier.advance(&record).await.unwrap();
    assert!(matches!(first.bisection.next, Next::Check { .. }));
    assert_eq!(checks.requests(), 1);
    // Still pending: looking again asks for nothing.
    verifier.advance(&record).await.unwrap();
    assert_eq!(checks.requests(), 1);
    checks.finish();
    verifier.advance(&record).await.unwrap();
    checks.finish();
    let mid = verifier.advance(&record).await.unwrap();
    let asked = checks.requests();
    assert!(mid.bisection.steps.len() >= 2 && matches!(mid.bisection.next, Next::Check { .. }));
    // A fresh verifier over a fresh repository handle: what a restarted process would have.
    let (verdict, _) = self::verdict(&record, dir.path(), &checks).await;
    assert_eq!(verdict.culprits, vec![3]);
    let requested = checks.requested.lock().unwrap();
    let commits: BTreeSet<&String> = requested.iter().map(|(c, _)| c).collect();
    assert_eq!(
        commits.len(),
        requested.len(),
        "a check was asked for twice"
    );
    assert!(requested.len() > asked);
}

/// The attempts journaled for each issue, in memory.
#[derive(Default)]
struct Attempts(BTreeMap<u64, usize>);

impl crate::ports::journal::AttemptLog for Attempts {
    fn record_attempt(
        &self,
        _: &crate::ports::journal::AttemptRecord,
    ) -> crate::ports::journal::JournalResult<()> {
        unreachable!("sending a culprit back records no attempt")
    }

    fn finished_since(
        &self,
        _: Timestamp,
    ) -> crate::ports::journal::JournalResult<Vec<crate::ports::journal::AttemptRecord>> {
        unreachable!("sending a culprit back reads no day's attempts")
    }

    fn attempts(
        &self,
        issue: u64,
    ) -> crate::ports::journal::JournalResult<Vec<crate::ports::journal::AttemptRecord>> {
        let record = crate::ports::journal::AttemptRecord {
            issue,
            attempt: 1,
            agent: "agent001".to_owned(),
            branch: format!("agent001/{issue}-work"),
            outcome: "success".to_owned(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: None,
            turns: 1,
            log: String::new(),
            finished_at: Timestamp::UNIX_EPOCH,
            runtime: None,
            session_id: None,
        };
        Ok(vec![record; self.0.get(&issue).copied().unwrap_or(0)])
    }

    fn last_attempt_by(
        &self,
        _: &str,
    ) -> crate::ports::journal::JournalResult<Option<crate::ports::journal::AttemptRecord>> {
        Ok(None)
    }
}

/// A culprit goes back to `route:ready` with the failing output on its issue, or to
/// `route:failed` once its attempts are used up; it leaves `route:bundled` either way.
#[tokio::test]
async fn a_culprit_goes_back_with_its_failing_output() {
    use crate::core::queue::labels;
    use crate::ports::Forge;
    use crate::ports::forge::NewIssue;
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path(), &[], false);
    let clock: std::sync::Arc<dyn crate::ports::Clock> =
        std::sync::Arc::new(crate::ports::clock::SystemClock);
    let forge = compose::local_forge(dir.path(), &dir.path().join("forge.db"), clock)
        .await
        .unwrap();
    let new = |title: &str| NewIssue {
        title: title.to_owned(),
        body: String::new(),
        labels: vec![labels::BUNDLED.to_owned()],
        assignees: Vec::new(),
    };
    let retried = forge.create_issue(&new("retried")).await.unwrap().number;
    let spent = forge.create_issue(&new("spent")).await.unwrap().number;
    let attempts = Attempts(BTreeMap::from([(retried, 1), (spent, 3)]));
    let failure = CheckFailure {
        summary: "checks exited with 1".to_owned(),
        details: None,
        tail: "assertion failed: left == right".to_owned(),
    };
    for issue in [retried, spent] {
        let gave_up = send_back::send_back(&forge, &attempts, 3, 40, issue, &failure)
            .await
            .unwrap();
        assert_eq!(gave_up, issue == spent);
    }
    let labels_of = |issue| {
        let forge = &forge;
        async move { forge.issue(issue).await.unwrap().labels }
    };
    assert_eq!(labels_of(retried).await, vec![labels::READY.to_owned()]);
    assert_eq!(labels_of(spent).await, vec![labels::FAILED.to_owned()]);
    let comments = forge.comments(retried).await.unwrap();
    assert!(comments[0].body.contains("assertion failed: left == right"));
    assert!(comments[0].body.contains("#40"));
}
