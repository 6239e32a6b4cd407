//! The SQLite journal, on a real file: transitions recorded, read back, resumed after a restart.

use clambake::adapters::journal::SqliteJournal;
use clambake::app::AppError;
use clambake::app::lifecycle::transitions::{history, transition};
use clambake::core::config::TransitionLogging;
use clambake::core::lifecycle::machine::{Event, Refusal, State, StateKind};
use clambake::ports::journal::{Journal, JournalError};
use jiff::Timestamp;
use tempfile::TempDir;

fn at(minute: u32) -> Timestamp {
    format!("2026-11-21T06:{minute:02}:00Z").parse().unwrap()
}

fn assign(agent: &str, issue: u64) -> Event {
    Event::Assign {
        agent_id: agent.into(),
        issue,
        branch: format!("{agent}/{issue}-work"),
    }
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn open(&self) -> SqliteJournal {
        SqliteJournal::open(&self.dir.path().join("journal.db")).unwrap()
    }
}

#[test]
fn transitions_are_recorded_and_listed_oldest_first_per_agent() {
    let fixture = Fixture::new();
    let journal = fixture.open();
    transition(
        &journal,
        "agent001",
        &assign("agent001", 12),
        "claimed",
        at(1),
    )
    .unwrap();
    transition(
        &journal,
        "agent002",
        &assign("agent002", 13),
        "claimed",
        at(2),
    )
    .unwrap();
    let started = Event::StartWork { commits_ahead: 2 };
    transition(&journal, "agent001", &started, "process up", at(3)).unwrap();

    let entries = history(&journal, "agent001").unwrap();
    let summary: Vec<_> = entries
        .iter()
        .map(|e| (e.from.kind(), e.to.kind(), e.cause.as_str(), e.at))
        .collect();
    assert_eq!(
        summary,
        [
            (StateKind::Idle, StateKind::Assigned, "claimed", at(1)),
            (StateKind::Assigned, StateKind::Working, "process up", at(3)),
        ]
    );
    assert_eq!(entries[1].event, started);
    assert!(entries[0].id < entries[1].id);
    assert_eq!(history(&journal, "agent002").unwrap().len(), 1);
    assert!(history(&journal, "agent003").unwrap().is_empty());
}

#[test]
fn a_new_process_resumes_every_agent_where_the_last_one_left_it() {
    let fixture = Fixture::new();
    {
        let journal = fixture.open();
        transition(&journal, "agent001", &assign("agent001", 12), "c", at(1)).unwrap();
        let started = Event::StartWork { commits_ahead: 1 };
        transition(&journal, "agent001", &started, "c", at(2)).unwrap();
        transition(&journal, "agent002", &assign("agent002", 13), "c", at(3)).unwrap();
        transition(&journal, "agent002", &Event::Abandon, "c", at(4)).unwrap();
    }
    let journal = fixture.open();
    let states = journal.current_states().unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(states["agent001"].kind(), StateKind::Working);
    assert_eq!(states["agent002"], State::Idle {});
    assert_eq!(journal.current_state("agent003").unwrap(), State::Idle {});

    let landed = transition(&journal, "agent001", &Event::CompleteWork, "c", at(5)).unwrap();
    assert_eq!(landed.to, State::Landed { issue: 12 });
    assert_eq!(journal.current_state("agent001").unwrap(), landed.to);
}

#[test]
fn a_refused_event_is_an_error_and_writes_nothing() {
    let fixture = Fixture::new();
    let journal = fixture.open();
    transition(&journal, "agent001", &assign("agent001", 12), "c", at(1)).unwrap();
    let error = transition(&journal, "agent001", &assign("agent001", 14), "c", at(2)).unwrap_err();
    match error {
        AppError::Transition(error) => {
            assert_eq!(error.state, StateKind::Assigned);
            assert_eq!(error.refusal, Refusal::AlreadyAssigned { issue: 12 });
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(history(&journal, "agent001").unwrap().len(), 1);
}

#[test]
fn agent_ids_are_checked() {
    let fixture = Fixture::new();
    let journal = fixture.open();
    let error = history(&journal, "bob").unwrap_err();
    assert!(matches!(error, AppError::NotAnAgent { ref agent } if agent == "bob"));
}

#[test]
fn a_second_process_that_moved_first_makes_the_slower_one_stale() {
    let fixture = Fixture::new();
    let first = fixture.open();
    let second = fixture.open();
    let mut slot = clambake::core::lifecycle::machine::Lifecycle::new("agent001");
    let claim = slot.apply(&assign("agent001", 12)).unwrap();
    first.record("agent001", &claim, "first", at(1)).unwrap();
    let error = second
        .record("agent001", &claim, "second", at(2))
        .unwrap_err();
    assert!(
        matches!(
            error,
            JournalError::Stale {
                expected: StateKind::Idle,
                found: StateKind::Assigned,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(second.history("agent001").unwrap().len(), 1);
}

#[test]
fn the_journal_uses_write_ahead_logging() {
    let fixture = Fixture::new();
    let _journal = fixture.open();
    let conn = rusqlite::Connection::open(fixture.dir.path().join("journal.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_entry_changed_behind_its_back_is_reported_with_its_id() {
    let fixture = Fixture::new();
    let journal = fixture.open();
    let entry = transition(&journal, "agent001", &assign("agent001", 12), "c", at(1)).unwrap();
    let conn = rusqlite::Connection::open(fixture.dir.path().join("journal.db")).unwrap();
    conn.execute(
        "UPDATE transitions SET to_state = ?1 WHERE id = ?2",
        rusqlite::params![r#"{"Landed":{"issue":0}}"#, entry.id],
    )
    .unwrap();
    let error = journal.current_state("agent001").unwrap_err();
    match error {
        JournalError::Corrupt { id, agent, .. } => {
            assert_eq!((id, agent.as_str()), (entry.id, "agent001"));
        }
        other => panic!("expected a corrupt entry, got {other:?}"),
    }
    assert!(matches!(
        journal.history("agent001").unwrap_err(),
        JournalError::Corrupt { .. }
    ));
}

#[test]
fn attempts_are_kept_across_restarts_and_replaced_by_number() {
    use clambake::ports::journal::{AttemptLog, AttemptRecord};
    let fixture = Fixture::new();
    let record = |attempt: u32, outcome: &str| AttemptRecord {
        issue: 12,
        attempt,
        agent: "agent001".to_owned(),
        branch: "agent001/12-work".to_owned(),
        outcome: outcome.to_owned(),
        reason: format!("attempt {attempt}"),
        commits_ahead: attempt - 1,
        cost_usd: Some(0.25),
        turns: 3,
        log: format!(".clambake/logs/agent001-12-{attempt}.jsonl"),
        finished_at: at(attempt),
        runtime: Some("simulated".to_owned()),
        session_id: None,
    };
    {
        let journal = fixture.open();
        journal.record_attempt(&record(1, "crashed")).unwrap();
        journal.record_attempt(&record(2, "stalled")).unwrap();
        journal.record_attempt(&record(2, "success")).unwrap();
    }
    let journal = fixture.open();
    assert_eq!(
        journal.attempts(12).unwrap(),
        [record(1, "crashed"), record(2, "success")]
    );
    assert!(journal.attempts(13).unwrap().is_empty());
    assert!(journal.attempts(12).unwrap()[0].simulated());
    // The one recorded last, replaced or not.
    journal.record_attempt(&record(1, "crashed")).unwrap();
    assert_eq!(
        journal.last_attempt_by("agent001").unwrap(),
        Some(record(1, "crashed"))
    );
    assert_eq!(journal.last_attempt_by("agent002").unwrap(), None);
}

#[test]
fn departures_are_kept_across_restarts_and_the_latest_is_read_back() {
    use clambake::core::trains::dispatched::DepartedFrom;
    use clambake::ports::journal::{DepartureRecord, TrainLog};
    let fixture = Fixture::new();
    assert_eq!(fixture.open().last_departure().unwrap(), None);
    let departure = |minute: u32, pull_requests: Vec<u64>| DepartureRecord {
        at: at(minute),
        pull_requests,
        made_by: DepartedFrom::Here,
    };
    {
        let journal = fixture.open();
        journal
            .record_departure(&departure(20, vec![7, 9]))
            .unwrap();
        journal.record_departure(&departure(10, vec![])).unwrap();
        // The same departure again (a train repeated after a crash) replaces the first record.
        journal
            .record_departure(&departure(20, vec![7, 9, 11]))
            .unwrap();
    }
    assert_eq!(
        fixture.open().last_departure().unwrap(),
        Some(departure(20, vec![7, 9, 11]))
    );
    // A departure the bundling workflow made, or that fell back from it, says so.
    let fell_back = DepartureRecord {
        made_by: DepartedFrom::Fallback {
            why: "the bundling workflow's run ended `failure`".to_owned(),
            run: Some(42),
        },
        ..departure(30, vec![12])
    };
    fixture.open().record_departure(&fell_back).unwrap();
    assert_eq!(fixture.open().last_departure().unwrap(), Some(fell_back));
}

#[test]
fn minimal_logging_keeps_the_states_and_the_event_but_no_cause() {
    let fixture = Fixture::new();
    let detailed = fixture.open();
    transition(
        &detailed,
        "agent001",
        &assign("agent001", 12),
        "claimed",
        at(1),
    )
    .unwrap();
    let minimal = fixture.open().with_logging(TransitionLogging::Minimal);
    let started = Event::StartWork { commits_ahead: 2 };
    let entry = transition(&minimal, "agent001", &started, "process up", at(2)).unwrap();
    assert_eq!(entry.cause, "");

    let entries = history(&fixture.open(), "agent001").unwrap();
    let causes: Vec<&str> = entries.iter().map(|e| e.cause.as_str()).collect();
    assert_eq!(causes, ["claimed", ""]);
    assert_eq!(entries[1].event, started);
    assert_eq!(entries[1].from.kind(), StateKind::Assigned);
    assert_eq!(entries[1].to.kind(), StateKind::Working);
    // Resuming needs nothing the minimal entry left out.
    assert_eq!(
        fixture.open().current_state("agent001").unwrap(),
        entries[1].to
    );
}

#[test]
fn a_bundles_check_steps_are_kept_in_order_and_a_finished_step_replaces_its_start() {
    use clambake::core::trains::bisect::Purpose;
    use clambake::core::trains::check_log::CheckEvent;
    use clambake::ports::journal::{BundleCheckEntry, TrainLog};
    let fixture = Fixture::new();
    let step = |step, passed| CheckEvent::Checked {
        step,
        members: vec![1, 2],
        run: 0,
        purpose: Purpose::Part,
        commit: Some("abc".to_owned()),
        passed,
    };
    let entry = |members: Vec<u64>, event, minute| BundleCheckEntry {
        pull_request: 7,
        members,
        event,
        at: at(minute),
    };
    {
        let journal = fixture.open();
        assert!(
            journal
                .record_bundle_check(&entry(vec![1, 2], step(1, None), 1))
                .unwrap()
        );
        assert!(
            journal
                .record_bundle_check(&entry(vec![1, 2], step(2, None), 2))
                .unwrap()
        );
        // Seen again by the next look: nothing changes.
        assert!(
            !journal
                .record_bundle_check(&entry(vec![1, 2], step(1, None), 3))
                .unwrap()
        );
        assert!(
            journal
                .record_bundle_check(&entry(vec![1, 2], step(1, Some(false)), 4))
                .unwrap()
        );
        // The rebuilt bundle's checks start again under its new members.
        assert!(
            journal
                .record_bundle_check(&entry(vec![1], step(1, Some(true)), 5))
                .unwrap()
        );
    }
    assert_eq!(
        fixture.open().bundle_checks(7).unwrap(),
        vec![
            entry(vec![1, 2], step(1, Some(false)), 4),
            entry(vec![1, 2], step(2, None), 2),
            entry(vec![1], step(1, Some(true)), 5),
        ]
    );
    assert_eq!(fixture.open().bundle_checks(8).unwrap(), vec![]);
}
