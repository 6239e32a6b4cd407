//! The project's checks (`[checks] command`) on an agent's finished work before it lands: a
//! failure is the `checks_failed` verdict, told on the issue (redacted) and in the next
//! attempt's prompt, and counts against `agents.max_attempts`; what the checks change in the
//! worktree is never taken for the agent's work.

use std::path::{Path, PathBuf};

use rstest::rstest;

use crate::backend::Backend;
use crate::support::{TestRepo, write_script};

/// A secret Clambake knows (it is in its environment under a secret's name), which the checks
/// print: it must never reach a comment.
const SECRET: &str = "sk-ant-checks-secret-0123456789";

/// A repository whose `command` agent writes `work.txt` (left uncommitted, so Clambake commits
/// it), "fixed" once its prompt says the checks failed unless `never_fixes`, and keeps every
/// prompt it is given; the checks pass only on "fixed", and leave a file of their own behind.
fn checked_repo(
    backend: Backend,
    scripts: &Path,
    never_fixes: bool,
    max_attempts: &str,
) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let prompts = scripts.join("prompts.txt");
    let fix = if never_fixes { "broken" } else { "fixed" };
    let agent = write_script(
        scripts,
        "agent.sh",
        &format!(
            "cat \"$1\" >> {prompts}\necho '=== end of prompt' >> {prompts}\n\
             if grep -q 'The checks failed' \"$1\"; then echo {fix} > work.txt; else echo broken > work.txt; fi\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n",
            prompts = prompts.display()
        ),
    );
    let checks = write_script(
        scripts,
        "checks.sh",
        &format!(
            "echo built > checks-artifact.txt\n\
             if grep -q fixed work.txt; then echo 'all tests passed'; exit 0; fi\n\
             echo \"test work::is_fixed ... FAILED (mode $CHECKS_MODE, key {SECRET})\"\nexit 3\n"
        ),
    );
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        (
            "agents.command",
            format!("{} {{prompt_file}}", agent.display()),
        ),
        ("agents.retry_backoff_seconds", "0".to_owned()),
        ("agents.max_attempts", max_attempts.to_owned()),
        ("bundling.trigger", "manual".to_owned()),
        ("checks.command", checks.display().to_string()),
        ("checks.env", "CHECKS_MODE=strict".to_owned()),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Fix the work",
        "--label",
        "route:ready",
    ])
    .success();
    repo
}

fn prompts(scripts: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(scripts.join("prompts.txt")).unwrap_or_default();
    text.split("=== end of prompt\n")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn run_until_idle(repo: &TestRepo) {
    repo.clambake_env(&["run", "--until-idle"], &[("ANTHROPIC_API_KEY", SECRET)])
        .success();
}

fn branch_files(repo: &TestRepo) -> String {
    repo.git(&["ls-tree", "-r", "--name-only", "agent001/1-fix-the-work"])
}

#[rstest]
fn failing_checks_are_retried_with_the_failure_in_the_prompt_and_land_once_they_pass(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let scripts = tempfile::tempdir().unwrap();
    let repo = checked_repo(backend, scripts.path(), false, "3");
    run_until_idle(&repo);

    assert_eq!(repo.labels_of(1), ["route:review"]);
    let comments = repo.comments_on(1);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    let failed = &comments[0];
    assert!(failed.contains("ended `checks_failed`"), "{failed}");
    assert!(failed.contains("exited with 3"), "{failed}");
    assert!(
        failed.contains("test work::is_fixed ... FAILED (mode strict"),
        "the checks' output, with checks.env applied: {failed}"
    );
    assert!(!failed.contains(SECRET), "redacted: {failed}");
    let landed = &comments[1];
    assert!(landed.contains("passed on it"), "{landed}");
    assert!(landed.contains("Clambake committed them"), "{landed}");

    let prompts = prompts(scripts.path());
    assert_eq!(prompts.len(), 2, "{prompts:#?}");
    assert!(!prompts[0].contains("The checks failed"));
    assert!(
        prompts[1].contains("## The checks failed"),
        "{}",
        prompts[1]
    );
    assert!(prompts[1].contains("is_fixed ... FAILED"), "{}", prompts[1]);
    assert!(!prompts[1].contains(SECRET), "{}", prompts[1]);

    let files = branch_files(&repo);
    assert!(files.contains("work.txt"), "{files}");
    assert!(
        !files.contains("checks-artifact.txt"),
        "what the checks wrote is not the agent's work: {files}"
    );
    let markers: Vec<_> = std::fs::read_dir(repo.path().join(".clambake/logs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".checks-running"))
        .collect();
    assert!(
        markers.is_empty(),
        "checks that ended leave no marker: {markers:?}"
    );
    repo.assert_no_violations();
}

#[rstest]
fn checks_that_never_pass_use_up_the_attempts_and_fail_the_issue_with_their_output(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let scripts = tempfile::tempdir().unwrap();
    let repo = checked_repo(backend, scripts.path(), true, "2");
    run_until_idle(&repo);

    assert_eq!(repo.labels_of(1), ["route:failed"]);
    let comments = repo.comments_on(1);
    let last = comments.last().unwrap();
    assert!(last.contains("All 2 attempts failed"), "{last}");
    assert!(
        last.contains("The end of the last attempt's checks' output"),
        "{last}"
    );
    assert!(last.contains("is_fixed ... FAILED"), "{last}");
    assert!(!last.contains(SECRET), "{last}");
    let kept: PathBuf = repo.path().join(".clambake/worktrees/agent001-1");
    if kept.is_dir() {
        assert!(
            !kept.join("checks-artifact.txt").exists(),
            "the kept worktree holds the agent's work only"
        );
    }
    repo.assert_no_violations();
}

#[rstest]
fn without_a_checks_command_work_lands_as_before(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let scripts = tempfile::tempdir().unwrap();
    let repo = checked_repo(backend, scripts.path(), false, "3");
    repo.configure(&[("checks.command", String::new())]);
    run_until_idle(&repo);

    assert_eq!(repo.labels_of(1), ["route:review"]);
    let comments = repo.comments_on(1);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(!comments[0].contains("checks"), "{}", comments[0]);
    assert!(branch_files(&repo).contains("work.txt"));
}
