//! Whole attempts in real repositories: worktree and branch, the agent run, leftovers
//! committed, commits counted, outcome classified.

use std::time::Duration;

use clambake::adapters::agents::simulated::simulated_file;
use clambake::adapters::agents::{CommandRuntime, SimulatedRuntime};
use clambake::app::Workspace;
use clambake::app::agents::attempt::{AttemptRequest, AttemptResult, never_stop, run_attempt};
use clambake::core::agents::outcome::Outcome;
use clambake::ports::AgentRuntime;
use clambake::ports::agent_host::Limits;

use crate::support::{TestRepo, write_script};

const LIMITS: Limits = Limits {
    stall: Duration::from_secs(30),
    timeout: Duration::from_secs(60),
    grace: Duration::from_secs(5),
    budget: None,
};

fn request(title: &str) -> AttemptRequest {
    AttemptRequest {
        agent: "agent001".to_owned(),
        issue: 7,
        title: title.to_owned(),
        body: "Please fix it.".to_owned(),
        comments: Vec::new(),
        comments_left_out: None,
        attempt: 1,
        base: "main".to_owned(),
        pull_request_heads: Vec::new(),
        resume_session: None,
        checks_failure: None,
        review_feedback: Vec::new(),
    }
}

async fn attempt(
    repo: &TestRepo,
    runtime: &dyn AgentRuntime,
    request: &AttemptRequest,
) -> AttemptResult {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    run_attempt(&workspace, runtime, request, LIMITS, never_stop())
        .await
        .unwrap()
}

/// A `command` runtime running `body` as a script kept outside the repository.
fn script_runtime(scripts: &tempfile::TempDir, body: &str) -> CommandRuntime {
    let script = write_script(scripts.path(), "agent.sh", body);
    CommandRuntime::new(format!("{} {{issue}}", script.display()), String::new())
}

#[tokio::test]
async fn the_simulated_agent_commits_on_its_own_branch_in_its_own_worktree() {
    let repo = TestRepo::new();
    let result = attempt(&repo, &SimulatedRuntime, &request("Fix the parser")).await;
    assert_eq!(
        result.classification.outcome,
        Outcome::Success,
        "{:?}",
        result.classification
    );
    assert_eq!(result.branch, "agent001/7-fix-the-parser");
    assert!(result.worktree.ends_with(".clambake/worktrees/agent001-7"));
    assert_eq!(result.commits_ahead, 1);
    assert!(!result.committed_leftovers);
    let file = simulated_file(7, "Fix the parser");
    let shown = repo.git(&["show", &format!("{}:{file}", result.branch)]);
    assert!(shown.contains("Simulated work by agent001 on issue #7"));
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an", &result.branch]),
        "agent001"
    );
    assert_eq!(repo.git(&["branch", "--show-current"]), "main");
    assert!(
        !repo.path().join(&file).exists(),
        "the main checkout was touched"
    );
    let log = std::fs::read_to_string(&result.logs.stdout).unwrap();
    assert!(log.lines().last().unwrap().contains(r#""type":"result""#));
}

#[tokio::test]
async fn a_simulated_retry_finding_its_work_already_committed_succeeds() {
    for (body, shared) in [
        ("Please fix it.", "shared\n"),
        (
            "simulate: edit shared.txt",
            "shared\nIssue #7: Fix the parser",
        ),
    ] {
        let repo = TestRepo::new();
        repo.write("shared.txt", "shared\n");
        repo.commit_all("a file to edit");
        let mut first = request("Fix the parser");
        first.body = body.to_owned();
        let done = attempt(&repo, &SimulatedRuntime, &first).await;
        assert_eq!(done.classification.outcome, Outcome::Success);
        // The run that saw it was killed before recording the verdict: it is tried again.
        let retry = AttemptRequest {
            attempt: 2,
            ..first.clone()
        };
        let again = attempt(&repo, &SimulatedRuntime, &retry).await;
        assert_eq!(
            again.classification.outcome,
            Outcome::Success,
            "{body}: {:?}",
            again.classification
        );
        assert_eq!(again.commits_ahead, 1, "{body}: no second commit");
        assert_eq!(
            repo.git(&["show", &format!("{}:shared.txt", again.branch)]),
            shared.trim_end(),
            "{body}: the edit is made once"
        );
    }
}

#[tokio::test]
async fn an_agent_that_commits_its_own_work_succeeds() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(
        &scripts,
        "echo done > fix.txt && git add fix.txt && git commit -q -m \"Fix issue #$1\"\n",
    );
    let result = attempt(&repo, &runtime, &request("Fix")).await;
    assert_eq!(result.classification.outcome, Outcome::Success);
    assert_eq!(result.commits_ahead, 1);
    assert!(!result.committed_leftovers);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an %s", &result.branch]),
        "agent001 Fix issue #7"
    );
}

#[tokio::test]
async fn exit_zero_without_commits_is_not_a_success() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(&scripts, "echo 'nothing to do'\nexit 0\n");
    let result = attempt(&repo, &runtime, &request("Nothing")).await;
    assert_eq!(result.classification.outcome, Outcome::AgentError);
    assert_eq!(result.commits_ahead, 0);
}

#[tokio::test]
async fn a_dirty_worktree_is_committed_by_clambake_naming_the_issue() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(
        &scripts,
        "echo changed >> README.md\nmkdir -p new && echo n > new/file.txt\n",
    );
    let result = attempt(&repo, &runtime, &request("Dirty")).await;
    assert!(result.committed_leftovers);
    assert_eq!(result.commits_ahead, 1);
    assert_eq!(result.classification.outcome, Outcome::Success);
    let subject = repo.git(&["log", "-1", "--format=%an|%s", &result.branch]);
    assert_eq!(
        subject,
        "Clambake|Work left uncommitted by agent001 on issue #7"
    );
    let files = repo.git(&["show", "--name-only", "--format=", &result.branch]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        ["README.md", "new/file.txt"]
    );
}

#[tokio::test]
async fn a_crash_keeps_its_partial_work_but_is_a_crash() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(&scripts, "echo half > half.txt\nexit 3\n");
    let result = attempt(&repo, &runtime, &request("Crash")).await;
    assert_eq!(result.classification.outcome, Outcome::Crashed);
    assert!(result.committed_leftovers);
    assert_eq!(result.commits_ahead, 1);
}

#[tokio::test]
async fn a_hung_agent_is_classified_as_stalled() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(&scripts, "sleep 30\n");
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let limits = Limits {
        stall: Duration::from_millis(300),
        ..LIMITS
    };
    let result = run_attempt(&workspace, &runtime, &request("Hang"), limits, never_stop())
        .await
        .unwrap();
    assert_eq!(result.classification.outcome, Outcome::Stalled);
}

#[tokio::test]
async fn a_second_attempt_continues_on_the_same_branch_and_worktree() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let runtime = script_runtime(&scripts, "date +%N >> progress.txt\n");
    let first = attempt(&repo, &runtime, &request("Twice")).await;
    let second = attempt(
        &repo,
        &runtime,
        &AttemptRequest {
            attempt: 2,
            ..request("Twice")
        },
    )
    .await;
    assert_eq!(first.worktree, second.worktree);
    assert_eq!(second.commits_ahead, 2);
    assert!(second.logs.stdout.ends_with("agent001-7-2.jsonl"));
}

#[tokio::test]
async fn a_retry_on_another_slot_or_under_a_new_title_continues_the_earlier_work() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let crash = script_runtime(
        &scripts,
        "date +%N >> progress.txt\necho half > half.txt\nexit 3\n",
    );
    let first = attempt(&repo, &crash, &request("Retried")).await;
    assert_eq!(first.classification.outcome, Outcome::Crashed);
    let first_tip = repo.git(&["rev-parse", &first.branch]);
    // Something left in the earlier worktree after the verdict is work too.
    std::fs::write(first.worktree.join("late.txt"), "late\n").unwrap();

    let other_slot = AttemptRequest {
        agent: "agent002".to_owned(),
        attempt: 2,
        ..request("Retried")
    };
    let succeed = script_runtime(
        &scripts,
        "date +%N >> progress.txt\ngit add -A && git commit -qm done\n",
    );
    let second = attempt(&repo, &succeed, &other_slot).await;
    assert_eq!(second.classification.outcome, Outcome::Success);
    assert_eq!(second.branch, "agent002/7-retried");
    assert_eq!(
        second.commits_ahead, 3,
        "the crash, its late leftovers, the retry"
    );
    for file in ["half.txt", "late.txt"] {
        repo.git(&["cat-file", "-e", &format!("{}:{file}", second.branch)]);
    }
    assert_eq!(
        repo.git(&["branch", "--list", "agent001/*"]),
        "",
        "the earlier branch was handed over"
    );
    assert!(!first.worktree.exists(), "the earlier worktree is gone");
    let archived = repo.git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/clambake/archive/agent001/",
    ]);
    assert!(archived.contains("agent001/7-retried/"), "{archived}");
    let late_tip = archived.rsplit('/').next().unwrap();
    repo.git(&["merge-base", "--is-ancestor", &first_tip, late_tip]);

    // The same slot, after the issue was renamed: one branch still carries all the work.
    let renamed = AttemptRequest {
        agent: "agent002".to_owned(),
        attempt: 3,
        ..request("Retried under a new name")
    };
    let third = attempt(&repo, &succeed, &renamed).await;
    assert_eq!(third.branch, "agent002/7-retried-under-a-new-name");
    assert_eq!(third.commits_ahead, 4);
    assert_eq!(third.worktree, second.worktree);
    assert_eq!(
        repo.git(&["branch", "--list", "agent*"]),
        "+ agent002/7-retried-under-a-new-name"
    );
}

#[tokio::test]
async fn a_takeover_leaves_alone_a_branch_checked_out_by_a_person_or_carried_by_a_pull_request() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let crash = script_runtime(&scripts, "echo half > half.txt\nexit 3\n");
    let first = attempt(&repo, &crash, &request("Looked at")).await;
    let first_tip = repo.git(&["rev-parse", &first.branch]);
    // A person checks the earlier attempt out in the main checkout to look at it, and has an
    // edit of their own there.
    repo.git(&["worktree", "remove", first.worktree.to_str().unwrap()]);
    repo.git(&["checkout", "--quiet", &first.branch]);
    std::fs::write(repo.path().join("notes.txt"), "mine\n").unwrap();

    let other_slot = AttemptRequest {
        agent: "agent002".to_owned(),
        attempt: 2,
        ..request("Looked at")
    };
    let second = attempt(&repo, &SimulatedRuntime, &other_slot).await;
    assert_eq!(second.classification.outcome, Outcome::Success);
    repo.git(&["merge-base", "--is-ancestor", &first_tip, &second.branch]);
    assert_eq!(
        repo.git(&["rev-parse", &first.branch]),
        first_tip,
        "left alone"
    );
    assert_eq!(repo.git(&["branch", "--show-current"]), first.branch);
    assert_eq!(repo.read("notes.txt"), "mine\n");
    assert!(
        repo.git(&["status", "--porcelain"]).contains("notes.txt"),
        "the person's edit was committed by Clambake"
    );
    repo.git(&["checkout", "--quiet", "main"]);

    // The second attempt's branch is the head of an open pull request: a third slot continues
    // its work and leaves it in place.
    let third_slot = AttemptRequest {
        agent: "agent003".to_owned(),
        attempt: 3,
        pull_request_heads: vec![second.branch.clone()],
        ..request("Looked at")
    };
    let second_tip = repo.git(&["rev-parse", &second.branch]);
    let third = attempt(&repo, &SimulatedRuntime, &third_slot).await;
    assert_eq!(repo.git(&["rev-parse", &second.branch]), second_tip);
    repo.git(&["merge-base", "--is-ancestor", &second_tip, &third.branch]);
}

#[tokio::test]
async fn a_worktree_whose_branch_was_deleted_under_it_is_set_aside_not_committed_on() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let idle = script_runtime(&scripts, "echo half > half.txt\nexit 3\n");
    let first = attempt(&repo, &idle, &request("Unborn")).await;
    repo.git(&["update-ref", "-d", &format!("refs/heads/{}", first.branch)]);
    let second = attempt(
        &repo,
        &SimulatedRuntime,
        &AttemptRequest {
            attempt: 2,
            ..request("Unborn")
        },
    )
    .await;
    assert_eq!(second.classification.outcome, Outcome::Success);
    assert_eq!(second.commits_ahead, 1, "a fresh start from the base");
    repo.git(&["merge-base", "--is-ancestor", "main", &second.branch]);
    let aside = repo.path().join(".clambake/broken-worktrees");
    let kept: Vec<_> = std::fs::read_dir(&aside).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].path().join("half.txt").exists(),
        "its files are kept"
    );
}

#[tokio::test]
async fn a_hostile_title_gives_a_safe_branch_and_runs_nothing() {
    let repo = TestRepo::new();
    let title = "../../$(touch pwned); rm -rf / `touch pwned2` && echo >x | y";
    let result = attempt(&repo, &SimulatedRuntime, &request(title)).await;
    assert_eq!(result.classification.outcome, Outcome::Success);
    assert_eq!(
        result.branch,
        "agent001/7-touch-pwned-rm-rf-touch-pwned2-echo-x-y"
    );
    for leftover in ["pwned", "pwned2", "x"] {
        assert!(!repo.path().join(leftover).exists());
        assert!(!result.worktree.join(leftover).exists());
    }
}

/// A request whose body steers the simulated agent.
fn simulated(title: &str, directives: &str) -> AttemptRequest {
    AttemptRequest {
        body: directives.to_owned(),
        ..request(title)
    }
}

#[tokio::test]
async fn the_simulated_agent_follows_its_directives() {
    let repo = TestRepo::new();
    let edits = simulated("Touch shared", "simulate: edit src/shared.txt");
    let result = attempt(&repo, &SimulatedRuntime, &edits).await;
    assert_eq!(result.classification.outcome, Outcome::Success);
    let shared = repo.git(&["show", &format!("{}:src/shared.txt", result.branch)]);
    assert_eq!(shared, "Issue #7: Touch shared");

    let cases = [
        ("simulate: outcome crash", Outcome::Crashed, 1),
        ("simulate: outcome no-commits", Outcome::AgentError, 0),
        ("simulate: outcome error", Outcome::AgentError, 0),
    ];
    for (issue, (directive, expected, commits)) in (20..).zip(cases) {
        let request = AttemptRequest {
            issue,
            ..simulated("Steered", directive)
        };
        let result = attempt(&repo, &SimulatedRuntime, &request).await;
        assert_eq!(result.classification.outcome, expected, "{directive}");
        assert_eq!(result.commits_ahead, commits, "{directive}");
        assert_eq!(
            result.committed_leftovers,
            commits == 1,
            "{directive}: a crash's work is kept"
        );
    }
}

#[tokio::test]
async fn a_hanging_simulated_agent_stalls() {
    let repo = TestRepo::new();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let limits = Limits {
        stall: Duration::from_millis(300),
        ..LIMITS
    };
    let request = simulated("Hang", "simulate: outcome hang");
    let result = run_attempt(
        &workspace,
        &SimulatedRuntime,
        &request,
        limits,
        never_stop(),
    )
    .await
    .unwrap();
    assert_eq!(result.classification.outcome, Outcome::Stalled);
    assert_eq!(result.commits_ahead, 0);
}
