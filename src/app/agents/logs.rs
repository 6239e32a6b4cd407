//! An issue's attempt logs for `clambake logs`: which attempts there are, where each one's log
//! is, whether it still runs, and its lines as they were written, followed while it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::agents::attempt::{AttemptError, LOGS_DIR, open_host};
use crate::app::lifecycle::transitions::open_journal;
use crate::app::{AppResult, Workspace};
use crate::ports::agent_registry::RegisteredAgent;
use crate::ports::journal::{AttemptLog, AttemptRecord};

/// One attempt at an issue, as far as its log and the journal know it.
#[derive(Debug, Clone)]
pub struct LoggedAttempt {
    pub issue: u64,
    pub attempt: u32,
    pub agent: String,
    /// Its stdout log: one event a line.
    pub log: PathBuf,
    /// Its verdict, once the journal has it.
    pub record: Option<AttemptRecord>,
    /// Its registration while its agent is registered with the host.
    pub registered: Option<RegisteredAgent>,
    /// Every attempt number the issue has, first first.
    pub attempts: Vec<u32>,
}

/// The issue's attempt `attempt`, or its latest: from the journal's records, the registered
/// agents and the log files under `.clambake/logs/`, so that a running attempt is found too.
pub fn find_attempt(
    workspace: &Workspace,
    issue: u64,
    attempt: Option<u32>,
) -> AppResult<LoggedAttempt> {
    let mut found: BTreeMap<u32, LoggedAttempt> = BTreeMap::new();
    let blank = |attempt: u32, agent: &str, log: PathBuf| LoggedAttempt {
        issue,
        attempt,
        agent: agent.to_owned(),
        log,
        record: None,
        registered: None,
        attempts: Vec::new(),
    };
    for (agent, number, log) in logged(&workspace.state_dir().join(LOGS_DIR), issue)? {
        found.insert(number, blank(number, &agent, log));
    }
    for record in open_journal(workspace)?.attempts(issue)? {
        let entry = found
            .entry(record.attempt)
            .or_insert_with(|| blank(record.attempt, &record.agent, record.log.clone().into()));
        entry.log = PathBuf::from(&record.log);
        entry.record = Some(record);
    }
    for registered in open_host(workspace)?.list().map_err(AttemptError::from)? {
        if registered.issue != issue {
            continue;
        }
        let entry = found.entry(registered.attempt).or_insert_with(|| {
            blank(
                registered.attempt,
                &registered.agent,
                registered.logs.stdout.clone(),
            )
        });
        entry.log = registered.logs.stdout.clone();
        entry.registered = Some(registered);
    }
    let attempts: Vec<u32> = found.keys().copied().collect();
    let chosen = match attempt {
        Some(number) => found
            .remove(&number)
            .ok_or_else(|| AttemptError::NoSuchAttempt {
                issue,
                attempt: number,
                known: listed(&attempts),
            })?,
        None => found
            .pop_last()
            .map(|(_, latest)| latest)
            .ok_or(AttemptError::NoAttempts { issue })?,
    };
    Ok(LoggedAttempt { attempts, ..chosen })
}

fn listed(attempts: &[u32]) -> String {
    match attempts {
        [] => "none".to_owned(),
        numbers => numbers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The stdout logs of `issue`'s attempts in `dir`, named `<agent>-<issue>-<attempt>.jsonl`.
fn logged(dir: &Path, issue: u64) -> Result<Vec<(String, u32, PathBuf)>, AttemptError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AttemptError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let suffix = format!("-{issue}");
    Ok(entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let (rest, number) = name.strip_suffix(".jsonl")?.rsplit_once('-')?;
            let agent = rest.strip_suffix(&suffix)?;
            Some((agent.to_owned(), number.parse().ok()?, entry.path()))
        })
        .collect())
}

/// The lines of `attempt`'s log written so far; none if it has not written yet.
pub async fn read_lines(attempt: &LoggedAttempt) -> AppResult<Vec<String>> {
    Ok(LogReader::default().read(&attempt.log, true).await?)
}

/// How often `follow` reads the log again and asks whether the attempt still runs.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Hands each line of `attempt`'s log to `each`, numbered from 0, as it is written, until the
/// attempt has ended; returns the attempt with its verdict if the journal has it by then.
pub async fn follow(
    workspace: &Workspace,
    attempt: &LoggedAttempt,
    mut each: impl FnMut(u64, &str),
) -> AppResult<LoggedAttempt> {
    let host = open_host(workspace)?;
    let mut reader = LogReader::default();
    let mut number = 0;
    loop {
        let running = match &attempt.registered {
            None => false,
            Some(registered) => {
                host.refresh(std::slice::from_ref(registered)).await;
                let still = host
                    .list()
                    .map_err(AttemptError::from)?
                    .contains(registered);
                still && host.is_alive(&registered.handle)
            }
        };
        // Once it has ended, a last line it left unfinished is read too.
        for line in reader.read(&attempt.log, !running).await? {
            each(number, &line);
            number += 1;
        }
        if !running {
            return find_attempt(workspace, attempt.issue, Some(attempt.attempt));
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Reads a log that grows: each call, the whole lines written since the last.
#[derive(Debug, Default)]
struct LogReader {
    offset: u64,
}

impl LogReader {
    /// The new lines of `path`; with `to_end`, a last line without its newline too.
    async fn read(&mut self, path: &Path, to_end: bool) -> Result<Vec<String>, AttemptError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let io = |source| AttemptError::Io {
            action: "read the agent's log",
            path: path.to_path_buf(),
            source,
        };
        let mut file = match tokio::fs::File::open(path).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io(error)),
        };
        file.seek(std::io::SeekFrom::Start(self.offset))
            .await
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).await.map_err(io)?;
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            _ if to_end => bytes.len(),
            Some(last) => last + 1,
            None => 0,
        };
        self.offset += whole as u64;
        let lines: Vec<String> = String::from_utf8_lossy(&bytes[..whole])
            .lines()
            .map(str::to_owned)
            .collect();
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_growing_log_gives_each_whole_line_once_and_its_unfinished_end_only_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent001-1-1.jsonl");
        let mut reader = LogReader::default();
        assert!(
            reader.read(&path, false).await.unwrap().is_empty(),
            "not written yet"
        );
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        assert_eq!(reader.read(&path, false).await.unwrap(), ["{\"a\":1}"]);
        assert!(reader.read(&path, false).await.unwrap().is_empty());
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\"").unwrap();
        assert_eq!(reader.read(&path, false).await.unwrap(), ["{\"b\":2}"]);
        assert_eq!(reader.read(&path, true).await.unwrap(), ["{\"c\""]);
        assert!(reader.read(&path, true).await.unwrap().is_empty());
    }
}
