//! Times in comments and log lines are written for people: to the second, in UTC, with how
//! far off they are, never as nanosecond timestamps.

use regex::Regex;

use crate::support::TestRepo;

#[test]
fn retry_comments_and_run_logs_give_times_to_the_second() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "1"),
        ("agents.max_attempts", "2"),
        ("bundling.trigger", "manual"),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Crashes",
        "--body",
        "simulate: outcome crash",
        "--label",
        "route:ready",
    ])
    .success();
    let run = repo.clambake(&["run", "--until-idle"]).success();

    let moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC";
    let nanoseconds = Regex::new(r"\d\d:\d\d:\d\d\.\d+Z?").unwrap();
    let retry = &repo.comments_on(1)[0];
    let announced = Regex::new(&format!(
        r"will try again \(attempt 2 of 2\) after {moment} \((in [\dms ]+|now|[\dms ]+ ago)\)\."
    ))
    .unwrap();
    assert!(announced.is_match(retry), "{retry}");
    assert!(!nanoseconds.is_match(retry), "{retry}");

    let logged = Regex::new(&format!(r"retrying after {moment}")).unwrap();
    assert!(logged.is_match(&run.stderr), "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty());
    let starts = Regex::new(&format!("^{moment} ")).unwrap();
    for line in lines {
        assert!(starts.is_match(line), "{line}");
        assert!(!nanoseconds.is_match(line), "{line}");
    }
}
