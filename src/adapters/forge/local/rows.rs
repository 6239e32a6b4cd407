//! Issues and pull requests as rows of the forge's database: read, listed, numbered and
//! labelled.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbResult;
use super::validator::ListingVersion;
use crate::ports::forge::{
    ForgeError, Issue, IssueFilter, IssueState, Number, PullRequest, PullRequestFilter,
    PullRequestState,
};

/// Colour given to labels created implicitly by adding them to an issue.
const DEFAULT_LABEL_COLOR: &str = "ededed";

pub(super) fn parse_time(text: Option<String>) -> Option<Timestamp> {
    text.and_then(|t| t.parse().ok())
}

fn issue_from_row(conn: &Connection, row: &Row<'_>) -> rusqlite::Result<Issue> {
    let number: Number = row.get("number")?;
    let state: String = row.get("state")?;
    let labels = conn
        .prepare_cached("SELECT label FROM issue_labels WHERE issue = ?1 ORDER BY label")?
        .query_map([number], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let comments = conn
        .prepare_cached("SELECT COUNT(*) FROM comments WHERE issue = ?1")?
        .query_row([number], |r| r.get(0))?;
    let assignees = conn
        .prepare_cached("SELECT login FROM issue_assignees WHERE issue = ?1 ORDER BY login")?
        .query_map([number], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Issue {
        number,
        title: row.get("title")?,
        body: row.get("body")?,
        state: if state == "open" {
            IssueState::Open
        } else {
            IssueState::Closed
        },
        labels,
        assignees,
        created_at: parse_time(row.get("created_at")?).unwrap_or_default(),
        updated_at: parse_time(row.get("updated_at")?).unwrap_or_default(),
        closed_at: parse_time(row.get("closed_at")?),
        comments,
        open_blockers: 0,
    })
}

fn pull_request_from_row(row: &Row<'_>) -> rusqlite::Result<PullRequest> {
    let state: String = row.get("state")?;
    Ok(PullRequest {
        number: row.get("number")?,
        title: row.get("title")?,
        body: row.get("body")?,
        head: row.get("head")?,
        base: row.get("base")?,
        state: match state.as_str() {
            "open" => PullRequestState::Open,
            "merged" => PullRequestState::Merged,
            _ => PullRequestState::Closed,
        },
        head_sha: row.get("head_sha")?,
        merge_commit_sha: row.get("merge_commit_sha")?,
        created_at: parse_time(row.get("created_at")?).unwrap_or_default(),
        updated_at: parse_time(row.get("updated_at")?).unwrap_or_default(),
        closed_at: parse_time(row.get("closed_at")?),
        merged_at: parse_time(row.get("merged_at")?),
    })
}

pub(super) fn next_number(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Number> {
    tx.query_row(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM
             (SELECT number FROM issues UNION ALL SELECT number FROM pull_requests)",
        [],
        |r| r.get(0),
    )
}

/// Matching issues, lowest number first.
pub(super) fn list_issues(conn: &Connection, filter: &IssueFilter) -> rusqlite::Result<Vec<Issue>> {
    let mut statement = conn
        .prepare_cached("SELECT * FROM issues WHERE (?1 IS NULL OR state = ?1) ORDER BY number")?;
    let state = filter.state.map(IssueState::as_str);
    let issues: Vec<Issue> = statement
        .query_map([state], |row| issue_from_row(conn, row))
        .and_then(Iterator::collect)?;
    Ok(issues
        .into_iter()
        .filter(|issue| {
            filter
                .labels
                .iter()
                .all(|wanted| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(wanted)))
        })
        .collect())
}

/// Matching pull requests, lowest number first, with their heads as last recorded.
pub(super) fn list_pull_requests(
    conn: &Connection,
    filter: &PullRequestFilter,
) -> rusqlite::Result<Vec<PullRequest>> {
    let mut statement = conn.prepare_cached(
        "SELECT * FROM pull_requests
             WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR head = ?2)
             ORDER BY number",
    )?;
    statement
        .query_map(
            params![filter.state.map(PullRequestState::as_str), filter.head],
            pull_request_from_row,
        )
        .and_then(Iterator::collect)
}

/// Where the listings stand now.
pub(super) fn listing_version(conn: &Connection) -> rusqlite::Result<ListingVersion> {
    conn.query_row("SELECT epoch, version FROM listing_version", [], |r| {
        Ok(ListingVersion {
            epoch: r.get(0)?,
            version: r.get(1)?,
        })
    })
}

fn load_issue(conn: &Connection, number: Number) -> rusqlite::Result<Option<Issue>> {
    conn.query_row("SELECT * FROM issues WHERE number = ?1", [number], |row| {
        issue_from_row(conn, row)
    })
    .optional()
}

fn load_pull_request(conn: &Connection, number: Number) -> rusqlite::Result<Option<PullRequest>> {
    conn.query_row(
        "SELECT * FROM pull_requests WHERE number = ?1",
        [number],
        pull_request_from_row,
    )
    .optional()
}

pub(super) fn require_issue(conn: &Connection, number: Number) -> DbResult<Issue> {
    load_issue(conn, number)?.ok_or_else(|| {
        ForgeError::NotFound {
            kind: "issue",
            number,
        }
        .into()
    })
}

pub(super) fn require_pull_request(conn: &Connection, number: Number) -> DbResult<PullRequest> {
    load_pull_request(conn, number)?.ok_or_else(|| {
        ForgeError::NotFound {
            kind: "pull request",
            number,
        }
        .into()
    })
}

/// Puts `label` on an issue, creating the label first if the forge has never seen it.
pub(super) fn attach_label(
    tx: &rusqlite::Transaction<'_>,
    issue: Number,
    label: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO labels (name, color, description) VALUES (?1, ?2, '')",
        params![label, DEFAULT_LABEL_COLOR],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO issue_labels (issue, label) VALUES (?1, ?2)",
        params![issue, label],
    )?;
    Ok(())
}
