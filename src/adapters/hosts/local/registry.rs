//! The local host's registry of started agents, in its own SQLite file, `.clambake/agents.db`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, params};
use rusqlite_migration::{M, Migrations};

use crate::adapters::sqlite_file::{self, OpenError};
use crate::ports::agent::{Containment, LogFiles};
use crate::ports::agent_host::AgentHandle;
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
        let AgentHandle::Local { pid, start_time } = agent.handle;
        self.with_db("write to", |db| {
            db.execute(
                "INSERT OR REPLACE INTO agents (agent, issue, attempt, pid, start_time, runtime,
                     reports_result, branch, base, worktree, stdout_log, stderr_log, started_at,
                     cgroup, marker)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
                ],
            )
            .map(drop)
        })
    }

    /// Forgets the agent in `slot`.
    pub fn remove(&self, slot: &str) -> Result<(), RegistryError> {
        self.with_db("write to", |db| {
            db.execute("DELETE FROM agents WHERE agent = ?1", [slot])
                .map(drop)
        })
    }

    /// Every registered agent, by slot.
    pub fn list(&self) -> Result<Vec<RegisteredAgent>, RegistryError> {
        self.with_db("read", |db| {
            let mut query = db.prepare(
                "SELECT agent, issue, attempt, pid, start_time, runtime, reports_result, branch,
                        base, worktree, stdout_log, stderr_log, started_at, cgroup, marker
                 FROM agents ORDER BY agent",
            )?;
            let rows = query.query_map([], |row| {
                let started_at: String = row.get(12)?;
                let cgroup: Option<String> = row.get(13)?;
                let marker: Option<String> = row.get(14)?;
                Ok(RegisteredAgent {
                    agent: row.get(0)?,
                    issue: row.get(1)?,
                    attempt: row.get(2)?,
                    handle: AgentHandle::Local {
                        pid: row.get(3)?,
                        start_time: row.get(4)?,
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
                    started_at: started_at.parse().map_err(|e: jiff::Error| {
                        rusqlite::Error::FromSqlConversionFailure(
                            12,
                            rusqlite::types::Type::Text,
                            e.into(),
                        )
                    })?,
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
}
