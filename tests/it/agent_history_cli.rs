//! `clambake agent ...` through the binary, on a real repository.

use clambake::adapters::journal::SqliteJournal;
use clambake::app::lifecycle::transitions::transition;
use clambake::core::lifecycle::machine::Event;
use jiff::Timestamp;

use crate::support::TestRepo;

fn at(minute: u32) -> Timestamp {
    format!("2026-11-21T06:{minute:02}:00Z").parse().unwrap()
}

/// An initialised repository whose journal holds agent001 working on #12, landed, and
/// agent002 claimed.
fn repo_with_history() -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let journal = SqliteJournal::open(&repo.path().join(".clambake/journal.db")).unwrap();
    let assign = |agent: &str, issue: u64| Event::Assign {
        agent_id: agent.into(),
        issue,
        branch: format!("{agent}/{issue}-fix"),
    };
    let steps = [
        (
            "agent001",
            assign("agent001", 12),
            "claimed by the run loop",
        ),
        (
            "agent002",
            assign("agent002", 13),
            "claimed by the run loop",
        ),
        (
            "agent001",
            Event::StartWork { commits_ahead: 2 },
            "process started",
        ),
        ("agent001", Event::CompleteWork, "landed"),
    ];
    for (minute, (agent, event, cause)) in (1..).zip(steps) {
        transition(&journal, agent, &event, cause, at(minute)).unwrap();
    }
    repo
}

#[test]
fn history_lists_one_agents_transitions_oldest_first() {
    let repo = repo_with_history();
    let json = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let entries = json.as_array().unwrap();
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["assign", "start_work", "complete_work"]);
    assert_eq!(entries[0]["agent"], "agent001");
    assert_eq!(entries[0]["cause"], "claimed by the run loop");
    assert_eq!(entries[0]["at"], "2026-11-21T06:01:00Z");
    assert_eq!(entries[2]["to"]["Landed"]["issue"], 12);

    let table = repo
        .clambake(&["agent", "history", "--agent", "agent001"])
        .success()
        .stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three rows:\n{table}");
    assert!(
        lines[1].contains("Assign #12") && lines[1].contains("Idle"),
        "{table}"
    );
    assert!(
        lines[1].contains("Assigned #12 on agent001/12-fix"),
        "{table}"
    );
    assert!(lines[3].contains("Working #12, 2 ahead") && lines[3].contains("Landed #12"));
}

#[test]
fn history_of_an_agent_without_transitions_says_so() {
    let repo = repo_with_history();
    let out = repo
        .clambake(&["agent", "history", "--agent", "agent003"])
        .success();
    assert_eq!(out.stdout.trim(), "agent003 has no recorded transitions.");
    let json = repo
        .clambake(&["agent", "history", "--agent", "agent003", "--json"])
        .success()
        .json();
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn history_refuses_what_is_not_an_agent_id() {
    let repo = repo_with_history();
    let out = repo.clambake(&["agent", "history", "--agent", "bob"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`bob` is not an agent id"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("agent001, agent002"), "{}", out.stderr);
}

#[test]
fn history_before_init_says_to_run_init() {
    let repo = TestRepo::new();
    let out = repo.clambake(&["agent", "history", "--agent", "agent001"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("clambake init"), "{}", out.stderr);
    assert!(!repo.path().join(".clambake").exists());
}

/// `spawn`'s journal entries as `agent history` shows them, with the slot's transitions logged
/// as `logging` says: each entry's event and cause, and the table's rows.
fn spawned_history(logging: &str) -> (Vec<(String, String)>, Vec<String>) {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.configure(&[("state_machine.transition_logging", logging)]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Add greeting",
        "--label",
        "route:ready",
    ])
    .success();
    repo.clambake(&[
        "spawn",
        "--agent",
        "agent001",
        "--issue",
        "1",
        "--runtime",
        "simulated",
    ])
    .success();
    let json = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let entries = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let event = e["event"]["event"].as_str().unwrap().to_owned();
            (event, e["cause"].as_str().unwrap().to_owned())
        })
        .collect();
    let table = repo
        .clambake(&["agent", "history", "--agent", "agent001"])
        .success()
        .stdout;
    (entries, table.lines().skip(1).map(str::to_owned).collect())
}

#[test]
fn detailed_transition_logging_keeps_each_cause_and_minimal_none() {
    let (detailed, rows) = spawned_history("detailed");
    assert_eq!(
        detailed,
        [
            (
                "assign".to_owned(),
                "claimed by `clambake spawn`".to_owned()
            ),
            (
                "start_work".to_owned(),
                "the agent process started".to_owned()
            ),
        ]
    );
    assert!(rows[0].contains("claimed by `clambake spawn`"), "{rows:?}");

    let (minimal, rows) = spawned_history("minimal");
    assert_eq!(
        minimal,
        [
            ("assign".to_owned(), String::new()),
            ("start_work".to_owned(), String::new()),
        ]
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].contains("Assign #1"), "{rows:?}");
    assert!(rows[1].contains("Working #1"), "{rows:?}");
    assert!(
        !rows.iter().any(|row| row.contains("clambake spawn")),
        "{rows:?}"
    );
}
