//! The registry of started agents, in its own SQLite file, `.clambake/agents.db`: processes of
//! this machine by pid and start time, runs on GitHub Actions by run id, with what was last
//! seen of each run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

use crate::adapters::sqlite_file::{self, OpenError};
use crate::ports::actions::{Conclusion, RunStatus};
use crate::ports::agent::{Containment, LogFiles};
use crate::ports::agent_host::{AgentHandle, RunProgress};
use crate::ports::agent_registry::{RegisteredAgent, RegistryError};
use crate::ports::database::DatabaseKind;

/// The file under the state directory.
pub const REGISTRY_FILE: &str = "agents.db";

/// Append new migrations; never edit a released one. Each is idempotent: several processes
/// (`spawn`, `monitor`, `terminate`) may create the registry at the same moment.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE IF NOT EXISTS agents (
             agent          TEXT PRIMARY KEY,
             issue          INTEGER NOT NULL,
             attempt        INTEGER NOT NULL,
             pid            INTEGER NOT NULL,
             start_time     INTEGER NOT NULL,
             runtime        TEXT NOT NULL,
             reports_result INTEGER NOT NULL,
             branch         TEXT NOT NULL,
             base           TEXT NOT NULL,
             worktree       TEXT NOT NULL,
             stdout_log     TEXT NOT NULL,
             stderr_log     TEXT NOT NULL,
             started_at     TEXT NOT NULL
         );",
        ),
        // Where the attempt's processes are found: its cgroup (if any) and its marker.
        M::up(
            "ALTER TABLE agents ADD COLUMN cgroup TEXT;
             ALTER TABLE agents ADD COLUMN marker TEXT;",
        ),
        // Attempts on GitHub Actions runners: the run (its pid and start time are 0), and
        // what its watcher last saw of it.
        M::up(
            "ALTER TABLE agents ADD COLUMN run_id INTEGER;
             CREATE TABLE IF NOT EXISTS actions_runs (
                 run_id        INTEGER PRIMARY KEY,
                 url           TEXT NOT NULL,
                 status        TEXT NOT NULL,
                 conclusion    TEXT,
                 step          TEXT,
                 steps_done    INTEGER NOT NULL,
                 steps_total   INTEGER NOT NULL,
                 last_activity TEXT,
                 seen_at       TEXT NOT NULL,
                 requests      INTEGER NOT NULL
             );",
        ),
    ])
}

pub struct SqliteAgentRegistry {
    path: PathBuf,
    db: Mutex<Connection>,
}

impl SqliteAgentRegistry {
    /// Opens (creating if needed) the registry at `path`.
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        let error = |source: Box<dyn std::error::Error + Send + Sync>| RegistryError {
            action: "open",
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| error(e.into()))?;
        }
        sqlite_file::ensure(path, DatabaseKind::Registry, true, |conn| {
            migrations().to_latest(conn).map_err(|e| e.to_string())
        })
        .map_err(|failure| match failure {
            OpenError::Damaged(damaged) => error(damaged.into()),
            OpenError::Other(message) => error(message.into()),
        })?;
        let mut conn = Connection::open(path).map_err(|e| error(e.into()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| error(e.into()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| error(e.into()))?;
        // Losing that race fails the loser's first try (its snapshot went stale); the second
        // sees the schema in place.
        migrations()
            .to_latest(&mut conn)
            .or_else(|_| migrations().to_latest(&mut conn))
            .map_err(|e| error(e.into()))?;
        Ok(Self {
            path: path.to_path_buf(),
            db: Mutex::new(conn),
        })
    }

    fn with_db<T>(
        &self,
        action: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, RegistryError> {
        let db = self.db.lock().expect("never poisoned: no panics inside");
        work(&db).map_err(|source| RegistryError {
            action,
            path: self.path.clone(),
            source: source.into(),
        })
    }
}

impl SqliteAgentRegistry {
    /// Records a started agent, replacing what its slot had.
    pub fn register(&self, agent: &RegisteredAgent) -> Result<(), RegistryError> {
        let (pid, start_time, run_id) = match agent.handle {
            AgentHandle::Local { pid, start_time } => (pid, start_time, None),
            AgentHandle::Actions { run_id } => (0, 0, Some(run_id)),
        };
        self.with_db("write to", |db| {
            db.execute(
                "INSERT OR REPLACE INTO agents (agent, issue, attempt, pid, start_time, runtime,
                     reports_result, branch, base, worktree, stdout_log, stderr_log, started_at,
                     cgroup, marker, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    agent.agent,
                    agent.issue,
                    agent.attempt,
                    pid,
                    start_time,
                    agent.runtime,
                    agent.reports_result,
                    agent.branch,
                    agent.base,
                    agent.worktree.to_string_lossy(),
                    agent.logs.stdout.to_string_lossy(),
                    agent.logs.stderr.to_string_lossy(),
                    agent.started_at.to_string(),
                    agent
                        .containment
                        .as_ref()
                        .and_then(|c| c.cgroup.as_ref())
                        .map(|dir| dir.to_string_lossy().into_owned()),
                    agent.containment.as_ref().map(|c| c.marker.clone()),
                    run_id,
                ],
            )
            .map(drop)
        })
    }

    /// Forgets the agent in `slot`, and what was seen of its run.
    pub fn remove(&self, slot: &str) -> Result<(), RegistryError> {
        self.with_db("write to", |db| {
            db.execute("DELETE FROM agents WHERE agent = ?1", [slot])?;
            db.execute(
                "DELETE FROM actions_runs
                 WHERE run_id NOT IN (SELECT run_id FROM agents WHERE run_id IS NOT NULL)",
                [],
            )
            .map(drop)
        })
    }

    /// Every registered agent, by slot.
    pub fn list(&self) -> Result<Vec<RegisteredAgent>, RegistryError> {
        self.with_db("read", |db| {
            let mut query = db.prepare(
                "SELECT agent, issue, attempt, pid, start_time, runtime, reports_result, branch,
                        base, worktree, stdout_log, stderr_log, started_at, cgroup, marker,
                        run_id
                 FROM agents ORDER BY agent",
            )?;
            let rows = query.query_map([], |row| {
                let started_at: String = row.get(12)?;
                let cgroup: Option<String> = row.get(13)?;
                let marker: Option<String> = row.get(14)?;
                let run_id: Option<u64> = row.get(15)?;
                Ok(RegisteredAgent {
                    agent: row.get(0)?,
                    issue: row.get(1)?,
                    attempt: row.get(2)?,
                    handle: match run_id {
                        Some(run_id) => AgentHandle::Actions { run_id },
                        None => AgentHandle::Local {
                            pid: row.get(3)?,
                            start_time: row.get(4)?,
                        },
                    },
                    runtime: row.get(5)?,
                    reports_result: row.get(6)?,
                    branch: row.get(7)?,
                    base: row.get(8)?,
                    worktree: PathBuf::from(row.get::<_, String>(9)?),
                    logs: LogFiles {
                        stdout: PathBuf::from(row.get::<_, String>(10)?),
                        stderr: PathBuf::from(row.get::<_, String>(11)?),
                    },
                    started_at: timestamp(12, &started_at)?,
                    containment: marker.map(|marker| Containment {
                        cgroup: cgroup.map(PathBuf::from),
                        marker,
                    }),
                })
            })?;
            rows.collect()
        })
    }
}

impl SqliteAgentRegistry {
    /// Records what was just seen of a run, replacing what was seen before.
    pub fn record_run(&self, progress: &RunProgress) -> Result<(), RegistryError> {
        self.with_db("write to", |db| {
            db.execute(
                "INSERT OR REPLACE INTO actions_runs (run_id, url, status, conclusion, step,
                     steps_done, steps_total, last_activity, seen_at, requests)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    progress.run_id,
                    progress.url,
                    word(&progress.status),
                    progress.conclusion.as_ref().map(word),
                    progress.step,
                    progress.steps_done,
                    progress.steps_total,
                    progress.last_activity.map(|at| at.to_string()),
                    progress.seen_at.to_string(),
                    progress.requests,
                ],
            )
            .map(drop)
        })
    }

    /// What was last seen of run `run_id`, if anything.
    pub fn run(&self, run_id: u64) -> Result<Option<RunProgress>, RegistryError> {
        self.with_db("read", |db| {
            db.query_row(
                "SELECT url, status, conclusion, step, steps_done, steps_total, last_activity,
                        seen_at, requests
                 FROM actions_runs WHERE run_id = ?1",
                [run_id],
                |row| {
                    let status: String = row.get(1)?;
                    let conclusion: Option<String> = row.get(2)?;
                    let last_activity: Option<String> = row.get(6)?;
                    let seen_at: String = row.get(7)?;
                    Ok(RunProgress {
                        run_id,
                        url: row.get(0)?,
                        status: parse_word(1, &status, &STATUSES)?,
                        conclusion: conclusion
                            .map(|c| parse_word(2, &c, &CONCLUSIONS))
                            .transpose()?,
                        step: row.get(3)?,
                        steps_done: row.get(4)?,
                        steps_total: row.get(5)?,
                        last_activity: last_activity.map(|at| timestamp(6, &at)).transpose()?,
                        seen_at: timestamp(7, &seen_at)?,
                        requests: row.get(8)?,
                    })
                },
            )
            .optional()
        })
    }
}

const STATUSES: [RunStatus; 6] = [
    RunStatus::Requested,
    RunStatus::Queued,
    RunStatus::Pending,
    RunStatus::Waiting,
    RunStatus::InProgress,
    RunStatus::Completed,
];

const CONCLUSIONS: [Conclusion; 9] = [
    Conclusion::Success,
    Conclusion::Failure,
    Conclusion::Cancelled,
    Conclusion::Skipped,
    Conclusion::TimedOut,
    Conclusion::ActionRequired,
    Conclusion::Neutral,
    Conclusion::Stale,
    Conclusion::StartupFailure,
];

/// GitHub's word for a status or a conclusion, as its serialization spells it.
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => unreachable!("statuses and conclusions serialize as words"),
    }
}

fn parse_word<T: serde::Serialize + Copy>(
    column: usize,
    text: &str,
    all: &[T],
) -> rusqlite::Result<T> {
    all.iter()
        .copied()
        .find(|v| word(v) == text)
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                column,
                rusqlite::types::Type::Text,
                format!("unknown run status `{text}`").into(),
            )
        })
}

fn timestamp(column: usize, text: &str) -> rusqlite::Result<jiff::Timestamp> {
    text.parse().map_err(|e: jiff::Error| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(agent: &str, pid: u32) -> RegisteredAgent {
        RegisteredAgent {
            agent: agent.to_owned(),
            issue: 7,
            attempt: 2,
            handle: AgentHandle::Local {
                pid,
                start_time: 123_456,
            },
            runtime: "claude".to_owned(),
            reports_result: true,
            branch: format!("{agent}/7-fix"),
            base: "main".to_owned(),
            worktree: PathBuf::from("/w/wt"),
            logs: LogFiles::in_dir(Path::new("/w/logs"), agent, 7, 2),
            started_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            containment: pid.is_multiple_of(2).then(|| Containment {
                cgroup: pid
                    .is_multiple_of(4)
                    .then(|| PathBuf::from("/sys/fs/cgroup/clambake-x")),
                marker: format!("{agent}-7-2.1.{pid}"),
            }),
        }
    }

    #[test]
    fn agents_are_registered_replaced_listed_and_removed_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".clambake").join(REGISTRY_FILE);
        let registry = SqliteAgentRegistry::open(&path).unwrap();
        registry.register(&entry("agent002", 20)).unwrap();
        registry.register(&entry("agent001", 10)).unwrap();
        registry.register(&entry("agent001", 11)).unwrap();
        registry.register(&entry("agent003", 14)).unwrap();
        drop(registry);
        let registry = SqliteAgentRegistry::open(&path).unwrap();
        assert_eq!(
            registry.list().unwrap(),
            [
                entry("agent001", 11),
                entry("agent002", 20),
                entry("agent003", 14)
            ]
        );
        registry.remove("agent001").unwrap();
        registry.remove("agent009").unwrap();
        assert_eq!(
            registry.list().unwrap(),
            [entry("agent002", 20), entry("agent003", 14)]
        );
    }

    #[test]
    fn a_run_on_actions_is_registered_by_its_id_with_what_was_last_seen_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        let registry = SqliteAgentRegistry::open(&path).unwrap();
        let remote = RegisteredAgent {
            handle: AgentHandle::Actions {
                run_id: 9_000_000_001,
            },
            containment: None,
            ..entry("agent003", 1)
        };
        registry.register(&remote).unwrap();
        registry.register(&entry("agent001", 10)).unwrap();
        let progress = RunProgress {
            run_id: 9_000_000_001,
            url: "https://github.example/o/r/actions/runs/9000000001".to_owned(),
            status: RunStatus::InProgress,
            conclusion: None,
            step: Some("Clambake".to_owned()),
            steps_done: 2,
            steps_total: 4,
            last_activity: Some("2026-01-02T03:05:00Z".parse().unwrap()),
            seen_at: "2026-01-02T03:05:02Z".parse().unwrap(),
            requests: 5,
        };
        registry.record_run(&progress).unwrap();
        let completed = RunProgress {
            status: RunStatus::Completed,
            conclusion: Some(Conclusion::TimedOut),
            ..progress.clone()
        };
        registry.record_run(&completed).unwrap();
        drop(registry);
        let registry = SqliteAgentRegistry::open(&path).unwrap();
        assert_eq!(registry.list().unwrap(), [entry("agent001", 10), remote]);
        assert_eq!(registry.run(9_000_000_001).unwrap(), Some(completed));
        registry.remove("agent001").unwrap();
        assert!(registry.run(9_000_000_001).unwrap().is_some());
        registry.remove("agent003").unwrap();
        assert_eq!(registry.run(9_000_000_001).unwrap(), None);
    }
}
