//! Which attempt logs and prompts under `.clambake/` have been kept long enough
//! (`[logs] keep_days`): files older than that, but never those of an issue still claimed or
//! with an agent running, whose attempts may yet be read, resumed or judged.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

/// One file of an attempt's, by name (`agent001-4-2.jsonl`, `agent001-4-2.stderr.log`,
/// `agent001-4-2.md`, ...) and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFile {
    pub name: String,
    pub modified: Timestamp,
}

/// The issue an attempt's file belongs to, from its name `<agent>-<issue>-<attempt>.<ext>`;
/// `None` for a name not made so, which is never pruned.
pub fn issue_of(name: &str) -> Option<u64> {
    let (stem, _) = name.split_once('.')?;
    let (rest, attempt) = stem.rsplit_once('-')?;
    let (agent, issue) = rest.rsplit_once('-')?;
    attempt.parse::<u32>().ok()?;
    (!agent.is_empty()).then_some(())?;
    issue.parse().ok()
}

/// The files to delete: last written more than `keep_days` days before `now`, of no issue in
/// `kept` (claimed, or with an agent running). `keep_days = 0` keeps everything.
pub fn expired<'a>(
    files: &'a [AttemptFile],
    now: Timestamp,
    keep_days: u32,
    kept: &BTreeSet<u64>,
) -> Vec<&'a AttemptFile> {
    if keep_days == 0 {
        return Vec::new();
    }
    let oldest = now - SignedDuration::from_hours(24 * i64::from(keep_days));
    files
        .iter()
        .filter(|file| file.modified < oldest)
        .filter(|file| issue_of(&file.name).is_some_and(|issue| !kept.contains(&issue)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, days_ago: i64, now: Timestamp) -> AttemptFile {
        AttemptFile {
            name: name.to_owned(),
            modified: now - SignedDuration::from_hours(24 * days_ago),
        }
    }

    #[test]
    fn an_attempt_file_names_its_issue() {
        assert_eq!(issue_of("agent001-4-2.jsonl"), Some(4));
        assert_eq!(issue_of("agent001-4-2.stderr.log"), Some(4));
        assert_eq!(issue_of("agent012-130-1.md"), Some(130));
        assert_eq!(issue_of("agent001-4-2.stop-requested"), Some(4));
        for other in [
            "notes.txt",
            "agent001-4.jsonl",
            "-4-2.jsonl",
            "a-b-2.md",
            "agent-4-x.md",
        ] {
            assert_eq!(issue_of(other), None, "{other}");
        }
    }

    #[test]
    fn old_files_go_unless_their_issue_is_kept() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let files = [
            file("agent001-1-1.jsonl", 20, now),
            file("agent001-1-1.stderr.log", 20, now),
            file("agent001-2-1.jsonl", 20, now),
            file("agent001-3-1.jsonl", 3, now),
            file("readme.txt", 400, now),
        ];
        let kept = BTreeSet::from([2]);
        let names: Vec<&str> = expired(&files, now, 14, &kept)
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["agent001-1-1.jsonl", "agent001-1-1.stderr.log"]);
        assert!(expired(&files, now, 0, &kept).is_empty(), "0 keeps all");
        assert_eq!(expired(&files, now, 2, &BTreeSet::new()).len(), 4);
    }
}
