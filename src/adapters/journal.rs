//! The journal in SQLite: `.clambake/journal.db`, one row per lifecycle transition, states and
//! events stored as JSON so that a row reads back exactly as it was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use crate::adapters::sqlite_file::{self, OpenError};
use crate::core::config::TransitionLogging;
use crate::core::lifecycle::machine::{EventKind, State, Transition};
use crate::core::trains::pull_request::BundleRecord;
use crate::ports::database::DatabaseKind;
use crate::ports::journal::{
    AttemptLog, AttemptRecord, BundleCheckEntry, DepartureRecord, Journal, JournalEntry,
    JournalError, JournalResult, TrainLog, TransitionFailure,
};

/// The journal's file name inside `.clambake/`.
pub const JOURNAL_FILE: &str = "journal.db";

/// Append new migrations; never edit a released one.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE transitions (
             id         INTEGER PRIMARY KEY AUTOINCREMENT,
             agent      TEXT NOT NULL,
             from_state TEXT NOT NULL,
             to_state   TEXT NOT NULL,
             event      TEXT NOT NULL,
             cause      TEXT NOT NULL,
             at         TEXT NOT NULL
         );
         CREATE INDEX transitions_by_agent ON transitions (agent, id);",
        ),
        M::up(
            "CREATE TABLE attempts (
                 issue         INTEGER NOT NULL,
                 attempt       INTEGER NOT NULL,
                 agent         TEXT NOT NULL,
                 branch        TEXT NOT NULL,
                 outcome       TEXT NOT NULL,
                 reason        TEXT NOT NULL,
                 commits_ahead INTEGER NOT NULL,
                 cost_usd      REAL,
                 turns         INTEGER NOT NULL,
                 log           TEXT NOT NULL,
                 finished_at   TEXT NOT NULL,
                 PRIMARY KEY (issue, attempt)
             );",
        ),
        M::up(
            "CREATE TABLE departures (
                 at            INTEGER PRIMARY KEY,
                 pull_requests TEXT NOT NULL
             );",
        ),
        M::up(
            "CREATE TABLE bundles (
                 branch TEXT PRIMARY KEY,
                 record TEXT NOT NULL
             );",
        ),
        // The runtime that made the attempt: simulated work is told apart from real work by
        // what was recorded with it. NULL for attempts recorded before.
        M::up("ALTER TABLE attempts ADD COLUMN runtime TEXT;"),
        M::up("ALTER TABLE attempts ADD COLUMN session_id TEXT;"),
        // Where a departure was made (`DepartedFrom`, as JSON): the bundling workflow's run, or
        // this machine instead of it, and why. NULL: here, as every departure before was.
        M::up("ALTER TABLE departures ADD COLUMN made_by TEXT;"),
        // What happened to each bundle's checks (`CheckEvent` as JSON), for `bundle --status`.
        M::up(
            "CREATE TABLE bundle_checks (
                 id           INTEGER PRIMARY KEY AUTOINCREMENT,
                 pull_request INTEGER NOT NULL,
                 members      TEXT NOT NULL,
                 key          TEXT NOT NULL,
                 event        TEXT NOT NULL,
                 at           TEXT NOT NULL,
                 UNIQUE (pull_request, members, key)
             );",
        ),
        // Transitions that failed (refused by the machine, or stale), counted by the metrics.
        M::up(
            "CREATE TABLE transition_failures (
                 id     INTEGER PRIMARY KEY AUTOINCREMENT,
                 agent  TEXT NOT NULL,
                 event  TEXT NOT NULL,
                 reason TEXT NOT NULL,
                 at     TEXT NOT NULL
             );",
        ),
    ])
}

pub struct SqliteJournal {
    db: Mutex<Connection>,
    path: PathBuf,
    logging: TransitionLogging,
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> JournalResult<Self> {
        let error = |e: &dyn std::fmt::Display| JournalError::Database {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // A damaged file is refused; a missing one is made whole before anyone opens it.
        sqlite_file::ensure(path, DatabaseKind::Journal, true, |conn| {
            migrations().to_latest(conn).map_err(|e| e.to_string())
        })
        .map_err(|failure| match failure {
            OpenError::Damaged(damaged) => JournalError::Damaged(damaged),
            OpenError::Other(message) => error(&message),
        })?;
        let mut conn = Connection::open(path).map_err(|e| error(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| error(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| error(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| error(&e))?;
        migrations().to_latest(&mut conn).map_err(|e| error(&e))?;
        Ok(Self {
            db: Mutex::new(conn),
            path: path.to_path_buf(),
            logging: TransitionLogging::default(),
        })
    }

    /// Records transitions as `state_machine.transition_logging` asks: `Minimal` keeps no
    /// cause, only the states and the event that resuming a slot needs.
    pub fn with_logging(self, logging: TransitionLogging) -> Self {
        Self { logging, ..self }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn db_error(&self, error: impl std::fmt::Display) -> JournalError {
        JournalError::Database {
            path: self.path.clone(),
            message: error.to_string(),
        }
    }

    fn corrupt(&self, id: i64, agent: &str, problem: impl std::fmt::Display) -> JournalError {
        JournalError::Corrupt {
            path: self.path.clone(),
            id,
            agent: agent.to_owned(),
            problem: problem.to_string(),
        }
    }

    /// A stored state, refused unless the lifecycle's guards could have produced it.
    fn parse_state(&self, id: i64, agent: &str, json: &str) -> JournalResult<State> {
        let state: State = serde_json::from_str(json).map_err(|e| self.corrupt(id, agent, e))?;
        if !state.is_valid() {
            return Err(self.corrupt(
                id,
                agent,
                format!("{json} is not a state the lifecycle can reach"),
            ));
        }
        Ok(state)
    }

    fn entry_from_row(&self, row: &StoredRow) -> JournalResult<JournalEntry> {
        let corrupt = |e: &dyn std::fmt::Display| self.corrupt(row.id, &row.agent, e);
        Ok(JournalEntry {
            id: row.id,
            agent: row.agent.clone(),
            from: self.parse_state(row.id, &row.agent, &row.from_state)?,
            to: self.parse_state(row.id, &row.agent, &row.to_state)?,
            event: serde_json::from_str(&row.event).map_err(|e| corrupt(&e))?,
            cause: row.cause.clone(),
            at: row.at.parse().map_err(|e| corrupt(&e))?,
        })
    }
}

/// A row as stored, before its JSON is read.
struct StoredRow {
    id: i64,
    agent: String,
    from_state: String,
    to_state: String,
    event: String,
    cause: String,
    at: String,
}

impl StoredRow {
    const COLUMNS: &str = "id, agent, from_state, to_state, event, cause, at";

    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            agent: row.get(1)?,
            from_state: row.get(2)?,
            to_state: row.get(3)?,
            event: row.get(4)?,
            cause: row.get(5)?,
            at: row.get(6)?,
        })
    }
}

fn last_state(conn: &Connection, agent: &str) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT id, to_state FROM transitions WHERE agent = ?1 ORDER BY id DESC LIMIT 1",
        [agent],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

impl Journal for SqliteJournal {
    fn record(
        &self,
        agent: &str,
        transition: &Transition,
        cause: &str,
        at: Timestamp,
    ) -> JournalResult<JournalEntry> {
        let from_state = serde_json::to_string(&transition.from).map_err(|e| self.db_error(e))?;
        let to_state = serde_json::to_string(&transition.to).map_err(|e| self.db_error(e))?;
        let event = serde_json::to_string(&transition.event).map_err(|e| self.db_error(e))?;
        let cause = match self.logging {
            TransitionLogging::Detailed => cause,
            TransitionLogging::Minimal => "",
        };
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        let current = match last_state(&tx, agent).map_err(|e| self.db_error(e))? {
            Some((id, json)) => self.parse_state(id, agent, &json)?,
            None => State::Idle {},
        };
        if current != transition.from {
            return Err(JournalError::Stale {
                agent: agent.to_owned(),
                expected: transition.from.kind(),
                found: current.kind(),
            });
        }
        tx.execute(
            "INSERT INTO transitions (agent, from_state, to_state, event, cause, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![agent, from_state, to_state, event, cause, at.to_string()],
        )
        .map_err(|e| self.db_error(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.db_error(e))?;
        Ok(JournalEntry {
            id,
            agent: agent.to_owned(),
            from: transition.from.clone(),
            to: transition.to.clone(),
            event: transition.event.clone(),
            cause: cause.to_owned(),
            at,
        })
    }

    fn history(&self, agent: &str) -> JournalResult<Vec<JournalEntry>> {
        let rows = {
            let conn = self.connection();
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM transitions WHERE agent = ?1 ORDER BY id",
                    StoredRow::COLUMNS
                ))
                .map_err(|e| self.db_error(e))?;
            statement
                .query_map([agent], StoredRow::read)
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(|e| self.db_error(e))?
        };
        rows.iter().map(|row| self.entry_from_row(row)).collect()
    }

    fn current_state(&self, agent: &str) -> JournalResult<State> {
        let last = last_state(&self.connection(), agent).map_err(|e| self.db_error(e))?;
        match last {
            Some((id, json)) => self.parse_state(id, agent, &json),
            None => Ok(State::Idle {}),
        }
    }

    fn record_failure(&self, failure: &TransitionFailure) -> JournalResult<()> {
        let event = serde_json::to_string(&failure.event).map_err(|e| self.db_error(e))?;
        self.connection()
            .execute(
                "INSERT INTO transition_failures (agent, event, reason, at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![failure.agent, event, failure.reason, failure.at.to_string()],
            )
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    fn failures(&self) -> JournalResult<BTreeMap<(EventKind, String), u64>> {
        let rows: Vec<(String, String, u64)> = {
            let conn = self.connection();
            let mut statement = conn
                .prepare_cached(
                    "SELECT event, reason, count(*) FROM transition_failures
                     GROUP BY event, reason",
                )
                .map_err(|e| self.db_error(e))?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(|e| self.db_error(e))?
        };
        rows.into_iter()
            .map(|(event, reason, count)| {
                let event = serde_json::from_str(&event).map_err(|e| self.db_error(e))?;
                Ok(((event, reason), count))
            })
            .collect()
    }

    fn current_states(&self) -> JournalResult<BTreeMap<String, State>> {
        let rows: Vec<(i64, String, String)> = {
            let conn = self.connection();
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, agent, to_state FROM transitions
                     WHERE id IN (SELECT max(id) FROM transitions GROUP BY agent)",
                )
                .map_err(|e| self.db_error(e))?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(|e| self.db_error(e))?
        };
        rows.into_iter()
            .map(|(id, agent, json)| {
                let state = self.parse_state(id, &agent, &json)?;
                Ok((agent, state))
            })
            .collect()
    }
}

/// The columns an [`AttemptRecord`] is read from, in [`attempt_from_row`]'s order.
const ATTEMPT_COLUMNS: &str = "issue, attempt, agent, branch, outcome, reason, commits_ahead, \
     cost_usd, turns, log, finished_at, runtime, session_id";

/// An attempt row, its `finished_at` still text.
fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<(AttemptRecord, String)> {
    Ok((
        AttemptRecord {
            issue: r.get(0)?,
            attempt: r.get(1)?,
            agent: r.get(2)?,
            branch: r.get(3)?,
            outcome: r.get(4)?,
            reason: r.get(5)?,
            commits_ahead: r.get(6)?,
            cost_usd: r.get(7)?,
            turns: r.get(8)?,
            log: r.get(9)?,
            finished_at: Timestamp::default(),
            runtime: r.get(11)?,
            session_id: r.get(12)?,
        },
        r.get::<_, String>(10)?,
    ))
}

impl SqliteJournal {
    /// The attempts `query` selects (with `param`), their times parsed.
    fn select_attempts(
        &self,
        query: &str,
        param: impl rusqlite::ToSql,
    ) -> JournalResult<Vec<AttemptRecord>> {
        let conn = self.connection();
        let mut statement = conn
            .prepare_cached(&format!("SELECT {ATTEMPT_COLUMNS} FROM attempts {query}"))
            .map_err(|e| self.db_error(e))?;
        let rows = statement
            .query_map([param], attempt_from_row)
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| self.db_error(e))?;
        rows.into_iter()
            .map(|(mut record, finished_at)| {
                record.finished_at = finished_at.parse().map_err(|e| self.db_error(e))?;
                Ok(record)
            })
            .collect()
    }
}

impl AttemptLog for SqliteJournal {
    fn record_attempt(&self, record: &AttemptRecord) -> JournalResult<()> {
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO attempts (issue, attempt, agent, branch, outcome, reason,
                     commits_ahead, cost_usd, turns, log, finished_at, runtime, session_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    record.issue,
                    record.attempt,
                    record.agent,
                    record.branch,
                    record.outcome,
                    record.reason,
                    record.commits_ahead,
                    record.cost_usd,
                    record.turns,
                    record.log,
                    record.finished_at.to_string(),
                    record.runtime,
                    record.session_id,
                ],
            )
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    fn attempts(&self, issue: u64) -> JournalResult<Vec<AttemptRecord>> {
        self.select_attempts("WHERE issue = ?1 ORDER BY attempt", issue)
    }

    fn last_attempt_by(&self, agent: &str) -> JournalResult<Option<AttemptRecord>> {
        // A replaced row gets a new rowid: the highest is the one recorded last.
        let found = self.select_attempts("WHERE agent = ?1 ORDER BY rowid DESC LIMIT 1", agent)?;
        Ok(found.into_iter().next())
    }

    fn finished_since(&self, since: Timestamp) -> JournalResult<Vec<AttemptRecord>> {
        // Times are stored as text, whose order breaks within a second (`00.5Z` sorts before
        // `00Z`): the query reads from a second earlier, the exact bound is kept here.
        let from = (since - jiff::SignedDuration::from_secs(1)).to_string();
        let found = self.select_attempts("WHERE finished_at >= ?1 ORDER BY rowid", from)?;
        Ok(found
            .into_iter()
            .filter(|a| a.finished_at >= since)
            .collect())
    }
}

impl TrainLog for SqliteJournal {
    fn record_bundle(&self, record: &BundleRecord) -> JournalResult<()> {
        let json = serde_json::to_string(record).map_err(|e| self.db_error(e))?;
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO bundles (branch, record) VALUES (?1, ?2)",
                params![record.branch, json],
            )
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    fn bundle_record(&self, branch: &str) -> JournalResult<Option<BundleRecord>> {
        let json: Option<String> = self
            .connection()
            .query_row(
                "SELECT record FROM bundles WHERE branch = ?1",
                [branch],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.db_error(e))?;
        json.map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| self.db_error(format!("the bundle record of `{branch}`: {e}")))
        })
        .transpose()
    }

    fn record_bundle_check(&self, entry: &BundleCheckEntry) -> JournalResult<bool> {
        let members = serde_json::to_string(&entry.members).map_err(|e| self.db_error(e))?;
        let event = serde_json::to_string(&entry.event).map_err(|e| self.db_error(e))?;
        let changed = self
            .connection()
            .execute(
                "INSERT INTO bundle_checks (pull_request, members, key, event, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (pull_request, members, key) DO UPDATE \
                 SET event = excluded.event, at = excluded.at WHERE event != excluded.event",
                params![
                    entry.pull_request,
                    members,
                    entry.event.key(),
                    event,
                    entry.at.to_string()
                ],
            )
            .map_err(|e| self.db_error(e))?;
        Ok(changed > 0)
    }

    fn bundle_checks(&self, pull_request: u64) -> JournalResult<Vec<BundleCheckEntry>> {
        let conn = self.connection();
        let mut statement = conn
            .prepare(
                "SELECT members, event, at FROM bundle_checks WHERE pull_request = ?1 ORDER BY id",
            )
            .map_err(|e| self.db_error(e))?;
        let rows = statement
            .query_map([pull_request], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.db_error(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.db_error(e))?;
        let unreadable = |e: &dyn std::fmt::Display| {
            self.db_error(format!("a check of bundle #{pull_request}: {e}"))
        };
        rows.into_iter()
            .map(|(members, event, at)| {
                Ok(BundleCheckEntry {
                    pull_request,
                    members: serde_json::from_str(&members).map_err(|e| unreadable(&e))?,
                    event: serde_json::from_str(&event).map_err(|e| unreadable(&e))?,
                    at: at.parse().map_err(|e| unreadable(&e))?,
                })
            })
            .collect()
    }

    fn record_departure(&self, departure: &DepartureRecord) -> JournalResult<()> {
        let numbers =
            serde_json::to_string(&departure.pull_requests).map_err(|e| self.db_error(e))?;
        let made_by = serde_json::to_string(&departure.made_by).map_err(|e| self.db_error(e))?;
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO departures (at, pull_requests, made_by) \
                 VALUES (?1, ?2, ?3)",
                params![departure.at.as_second(), numbers, made_by],
            )
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    fn last_departure(&self) -> JournalResult<Option<DepartureRecord>> {
        let row: Option<(i64, String, Option<String>)> = self
            .connection()
            .query_row(
                "SELECT at, pull_requests, made_by FROM departures ORDER BY at DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|e| self.db_error(e))?;
        row.map(|(seconds, numbers, made_by)| {
            Ok(DepartureRecord {
                at: Timestamp::from_second(seconds).map_err(|e| self.db_error(e))?,
                pull_requests: serde_json::from_str(&numbers).map_err(|e| self.db_error(e))?,
                made_by: made_by
                    .map(|json| serde_json::from_str(&json))
                    .transpose()
                    .map_err(|e| self.db_error(e))?
                    .unwrap_or_default(),
            })
        })
        .transpose()
    }
}
