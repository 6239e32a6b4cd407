//! How long a lifecycle transition takes: decided in memory, and decided then journaled to a
//! real SQLite file (WAL) the way every command does it.

use clambake::adapters::journal::SqliteJournal;
use clambake::app::lifecycle::transition;
use clambake::core::lifecycle::{Event, Lifecycle, State};
use divan::Bencher;
use jiff::Timestamp;

fn main() {
    divan::main();
}

fn working() -> State {
    State::Working {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
        commits_ahead: 1,
    }
}

/// Assigned → Working: the state machine alone.
#[divan::bench]
fn transition_in_memory(bencher: Bencher) {
    let assigned = State::Assigned {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
    };
    let event = Event::StartWork { commits_ahead: 3 };
    bencher
        .with_inputs(|| Lifecycle::resume("agent001", assigned.clone()))
        .bench_local_refs(|slot| slot.apply(&event).unwrap());
}

/// A refused event, which builds its typed error.
#[divan::bench]
fn refusal_in_memory(bencher: Bencher) {
    let event = Event::CompleteWork;
    bencher
        .with_inputs(|| Lifecycle::new("agent001"))
        .bench_local_refs(|slot| slot.apply(&event).unwrap_err());
}

/// Working → Working (a progress update): resume from the journal, decide, and record.
#[divan::bench]
fn transition_with_journal_write(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
    let at: Timestamp = "2026-11-21T06:00:00Z".parse().unwrap();
    let assign = Event::Assign {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
    };
    transition(&journal, "agent001", &assign, "bench", at).unwrap();
    let progress = Event::StartWork { commits_ahead: 1 };
    transition(&journal, "agent001", &progress, "bench", at).unwrap();
    assert_eq!(
        clambake::ports::journal::Journal::current_state(&journal, "agent001").unwrap(),
        working()
    );
    bencher.bench_local(|| transition(&journal, "agent001", &progress, "bench", at).unwrap());
}
