//! The embedded forge: issues, labels, comments and pull requests in a SQLite file under
//! `.clambake/`, branches as the repository's own refs, and merges as real merge commits moved
//! onto the base branch with a compare-and-swap.

mod schema;
mod validator;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::adapters::git::Git;
use crate::adapters::sqlite_file::{self, OpenError};
use crate::core::text::closing::closed_issues;
use crate::ports::Clock;
use crate::ports::database::DatabaseKind;
use crate::ports::forge::{
    Comment, Forge, ForgeError, ForgeResult, Issue, IssueFilter, IssueState, Label, LabelChange,
    Listing, MergeOutcome, NewIssue, NewPullRequest, Number, PullRequest, PullRequestFilter,
    PullRequestState, Validator,
};
use crate::ports::git::{GitError, MergeEngine, Refs, TrialMerge, Worktrees};
use validator::ListingVersion;

/// The database's file name inside `.clambake/`.
pub const DATABASE_FILE: &str = "forge.db";

/// Colour given to labels created implicitly by adding them to an issue.
const DEFAULT_LABEL_COLOR: &str = "ededed";

/// Records the default branch, unless one is recorded already.
fn record_default_branch(conn: &Connection, default_branch: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('default_branch', ?1)",
        [default_branch],
    )?;
    Ok(())
}

pub struct LocalForge {
    db: Mutex<Connection>,
    path: PathBuf,
    git: Git,
    clock: Arc<dyn Clock>,
    /// Who comments: the local user.
    actor: String,
}

impl LocalForge {
    /// Opens (creating if needed) the database at `path` for the repository `git` works in,
    /// and brings its schema up to date. `default_branch` is recorded on first open.
    pub fn open(
        path: &Path,
        git: Git,
        clock: Arc<dyn Clock>,
        actor: &str,
        default_branch: &str,
    ) -> ForgeResult<Self> {
        let backend = |e: &dyn std::fmt::Display| {
            ForgeError::Backend(format!("the local forge at {}: {e}", path.display()))
        };
        sqlite_file::ensure(path, DatabaseKind::Forge, true, |conn| {
            schema::migrations()
                .to_latest(conn)
                .map_err(|e| e.to_string())?;
            record_default_branch(conn, default_branch).map_err(|e| e.to_string())
        })
        .map_err(|failure| match failure {
            OpenError::Damaged(damaged) => ForgeError::Damaged(damaged),
            OpenError::Other(message) => backend(&message),
        })?;
        let mut conn = Connection::open(path).map_err(|e| backend(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| backend(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| backend(&e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| backend(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| backend(&e))?;
        schema::migrations()
            .to_latest(&mut conn)
            .map_err(|e| backend(&e))?;
        record_default_branch(&conn, default_branch).map_err(|e| backend(&e))?;
        Ok(Self {
            db: Mutex::new(conn),
            path: path.to_path_buf(),
            git,
            clock,
            actor: actor.to_owned(),
        })
    }

    /// Runs `work` in one immediate (write-locking) transaction.
    fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> DbResult<T>,
    ) -> ForgeResult<T> {
        let mut conn = self
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(DbFailure::from)
            .and_then(|tx| {
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            });
        outcome.map_err(|failure| self.forge_error(failure))
    }

    fn read<T>(&self, work: impl FnOnce(&Connection) -> DbResult<T>) -> ForgeResult<T> {
        let conn = self
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&conn).map_err(|failure| self.forge_error(failure))
    }

    fn forge_error(&self, failure: DbFailure) -> ForgeError {
        match failure {
            DbFailure::Refused(error) => error,
            DbFailure::Sqlite(error) => ForgeError::Backend(format!(
                "the local forge at {}: {error}",
                self.path.display()
            )),
        }
    }

    fn now(&self) -> String {
        self.clock.now().to_string()
    }

    async fn require_branch(&self, branch: &str) -> ForgeResult<String> {
        self.git
            .branch_tip(branch)
            .await
            .map_err(git_error)?
            .ok_or_else(|| ForgeError::NoSuchBranch(branch.to_owned()))
    }

    /// Fills in the live head tip of open pull requests.
    async fn with_live_heads(&self, mut prs: Vec<PullRequest>) -> ForgeResult<Vec<PullRequest>> {
        if prs.iter().any(|pr| pr.state == PullRequestState::Open) {
            let tips = self.git.branch_tips().await.map_err(git_error)?;
            for pr in prs
                .iter_mut()
                .filter(|pr| pr.state == PullRequestState::Open)
            {
                pr.head_sha = tips.get(&pr.head).cloned();
            }
        }
        Ok(prs)
    }

    /// Makes the checkout of `branch` (if any worktree has it) follow a ref move from `old` to
    /// `new`, as `git merge --ff-only` would. Refuses beforehand if that checkout has changes.
    async fn checkout_of(&self, branch: &str) -> ForgeResult<Option<Git>> {
        let worktrees = self.git.list().await.map_err(git_error)?;
        let Some(tree) = worktrees
            .into_iter()
            .find(|w| w.branch.as_deref() == Some(branch))
        else {
            return Ok(None);
        };
        let checkout = Git::new(tree.path.clone());
        if checkout.has_tracked_changes().await.map_err(git_error)? {
            return Err(ForgeError::Invalid(format!(
                "`{branch}` is checked out in {} with uncommitted changes; commit or stash them \
                 first, so that merging into it cannot overwrite them",
                tree.path.display()
            )));
        }
        Ok(Some(checkout))
    }

    /// Checks the pull request, trial-merges it and writes the merge commit, moving no ref.
    pub async fn prepare_merge(&self, number: Number) -> ForgeResult<PreparedMerge> {
        let pr = self.pull_request(number).await?;
        if pr.state != PullRequestState::Open {
            return Err(ForgeError::NotOpen {
                number,
                state: pr.state.as_str(),
            });
        }
        let head = self.require_branch(&pr.head).await?;
        let base = self.require_branch(&pr.base).await?;
        let closes = if pr.base == self.default_branch().await? {
            closed_issues(&pr.body)
        } else {
            Vec::new()
        };
        if self
            .git
            .is_ancestor(&head, &base)
            .await
            .map_err(git_error)?
        {
            return Ok(PreparedMerge::AlreadyContained { head, base, closes });
        }
        let tree = match self
            .git
            .trial_merge(&base, &head)
            .await
            .map_err(git_error)?
        {
            TrialMerge::Clean(tree) => tree,
            TrialMerge::Conflict(paths) => {
                return Err(ForgeError::MergeConflict {
                    number,
                    base: pr.base.clone(),
                    paths,
                });
            }
        };
        // No title: it is somebody's text, and GitHub reads closing keywords in the commit
        // messages that reach the default branch.
        let message = format!("Merge pull request #{number} from {}", pr.head);
        let commit = self
            .git
            .commit_tree(&tree, &[&base, &head], &message)
            .await
            .map_err(git_error)?;
        Ok(PreparedMerge::Commit(MergeCommit {
            number,
            base_branch: pr.base,
            base_tip: base,
            head_tip: head,
            commit,
            closes,
        }))
    }

    /// Moves the base onto the merge commit if it has not moved since `prepare_merge`, updates
    /// a clean checkout of it, and records the merge.
    pub async fn finish_merge(&self, merge: MergeCommit) -> ForgeResult<MergeOutcome> {
        let number = merge.number;
        let checkout = self.checkout_of(&merge.base_branch).await?;
        if let Some(checkout) = &checkout {
            // Untracked files the merge would overwrite stop it before the base moves.
            let dry_run = checkout
                .output(&[
                    "read-tree",
                    "-m",
                    "-u",
                    "-n",
                    &merge.base_tip,
                    &merge.commit,
                ])
                .await
                .map_err(git_error)?;
            if !dry_run.status.success() {
                return Err(ForgeError::Invalid(format!(
                    "`{}` is checked out in {} and the merge cannot update it: {}",
                    merge.base_branch,
                    checkout.dir().display(),
                    String::from_utf8_lossy(&dry_run.stderr).trim()
                )));
            }
        }
        let reference = format!("refs/heads/{}", merge.base_branch);
        let reason = format!("clambake: merge pull request #{number}");
        let moved = self
            .git
            .compare_and_swap_ref(&reference, &merge.commit, Some(&merge.base_tip), &reason)
            .await
            .map_err(git_error)?;
        if !moved {
            return Err(ForgeError::BaseMoved {
                number,
                branch: merge.base_branch,
            });
        }
        // The base moved: the merge happened, whatever becomes of the checkout.
        let closed = self.mark_merged(number, &merge.head_tip, &merge.commit, &merge.closes)?;
        if let Some(checkout) = checkout {
            // The checkout was clean a moment ago: bring its index and files to the new tip.
            checkout
                .run(&["read-tree", "-m", "-u", &merge.base_tip, &merge.commit])
                .await
                .map_err(git_error)?;
        }
        Ok(MergeOutcome {
            pull_request: self.pull_request(number).await?,
            closed_issues: closed,
        })
    }

    fn mark_merged(
        &self,
        number: Number,
        head_sha: &str,
        merge_sha: &str,
        closes: &[Number],
    ) -> ForgeResult<Vec<Number>> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE pull_requests SET state = 'merged', head_sha = ?2, merge_commit_sha = ?3,
                     merged_at = ?4, closed_at = ?4, updated_at = ?4
                 WHERE number = ?1 AND state = 'open'",
                params![number, head_sha, merge_sha, now],
            )?;
            let mut closed = Vec::new();
            for issue in closes {
                let changed = tx.execute(
                    "UPDATE issues SET state = 'closed', closed_at = ?2, updated_at = ?2
                         WHERE number = ?1 AND state = 'open'",
                    params![issue, now],
                )?;
                if changed > 0 {
                    closed.push(*issue);
                }
            }
            Ok(closed)
        })
    }
}

/// A merge worked out but not yet applied: the two halves of `merge_pull_request`, apart so
/// that a test can move the base in between and see the compare-and-swap refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedMerge {
    /// The head is already in the base (merged by hand, or a crash after the ref moved):
    /// recorded as merged, as GitHub does, without another commit.
    AlreadyContained {
        head: String,
        base: String,
        closes: Vec<Number>,
    },
    Commit(MergeCommit),
}

/// A merge commit written to the object store, waiting to become the base's tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCommit {
    pub number: Number,
    pub base_branch: String,
    pub base_tip: String,
    pub head_tip: String,
    pub commit: String,
    pub closes: Vec<Number>,
}

/// Why work inside a database transaction stopped: SQLite failed, or the request was refused.
enum DbFailure {
    Sqlite(rusqlite::Error),
    Refused(ForgeError),
}

impl From<rusqlite::Error> for DbFailure {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

impl From<ForgeError> for DbFailure {
    fn from(error: ForgeError) -> Self {
        Self::Refused(error)
    }
}

type DbResult<T> = Result<T, DbFailure>;

fn git_error(error: GitError) -> ForgeError {
    ForgeError::Backend(error.to_string())
}

fn parse_time(text: Option<String>) -> Option<Timestamp> {
    text.and_then(|t| t.parse().ok())
}

fn issue_from_row(conn: &Connection, row: &Row<'_>) -> rusqlite::Result<Issue> {
    let number: Number = row.get("number")?;
    let state: String = row.get("state")?;
    let labels = conn
        .prepare_cached("SELECT label FROM issue_labels WHERE issue = ?1 ORDER BY label")?
        .query_map([number], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
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

fn next_number(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Number> {
    tx.query_row(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM
             (SELECT number FROM issues UNION ALL SELECT number FROM pull_requests)",
        [],
        |r| r.get(0),
    )
}

/// Matching issues, lowest number first.
fn list_issues(conn: &Connection, filter: &IssueFilter) -> rusqlite::Result<Vec<Issue>> {
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
fn list_pull_requests(
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
fn listing_version(conn: &Connection) -> rusqlite::Result<ListingVersion> {
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

fn require_issue(conn: &Connection, number: Number) -> DbResult<Issue> {
    load_issue(conn, number)?.ok_or_else(|| {
        ForgeError::NotFound {
            kind: "issue",
            number,
        }
        .into()
    })
}

fn require_pull_request(conn: &Connection, number: Number) -> DbResult<PullRequest> {
    load_pull_request(conn, number)?.ok_or_else(|| {
        ForgeError::NotFound {
            kind: "pull request",
            number,
        }
        .into()
    })
}

/// Puts `label` on an issue, creating the label first if the forge has never seen it.
fn attach_label(
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

fn validate_label_name(name: &str) -> ForgeResult<()> {
    if name.trim().is_empty() || name.len() > 50 {
        return Err(ForgeError::Invalid(format!(
            "`{name}` is not a label name: it must have 1 to 50 characters"
        )));
    }
    Ok(())
}

#[async_trait]
impl Forge for LocalForge {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.read(|conn| {
            conn.query_row(
                "SELECT value FROM meta WHERE key = 'default_branch'",
                [],
                |r| r.get(0),
            )
            .map_err(DbFailure::from)
        })
    }

    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.read(|conn| {
            let mut statement =
                conn.prepare("SELECT name, color, description FROM labels ORDER BY name")?;
            let labels = statement
                .query_map([], |r| {
                    Ok(Label {
                        name: r.get(0)?,
                        color: r.get(1)?,
                        description: r.get(2)?,
                    })
                })
                .and_then(Iterator::collect)?;
            Ok(labels)
        })
    }

    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        validate_label_name(&label.name)?;
        self.write(|tx| {
            let existing: Option<(String, String)> = tx
                .query_row(
                    "SELECT color, description FROM labels WHERE name = ?1",
                    [&label.name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let change = match existing {
                None => LabelChange::Created,
                Some((color, description))
                    if color == label.color && description == label.description =>
                {
                    return Ok(LabelChange::Unchanged);
                }
                Some(_) => LabelChange::Updated,
            };
            tx.execute(
                "INSERT INTO labels (name, color, description) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET color = ?2, description = ?3",
                params![label.name, label.color, label.description],
            )?;
            Ok(change)
        })
    }

    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        if new.title.trim().is_empty() {
            return Err(ForgeError::Invalid("an issue needs a title".to_owned()));
        }
        for label in &new.labels {
            validate_label_name(label)?;
        }
        let now = self.now();
        self.write(|tx| {
            let number = next_number(tx)?;
            tx.execute(
                "INSERT INTO issues (number, title, body, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'open', ?4, ?4)",
                params![number, new.title, new.body, now],
            )?;
            for label in &new.labels {
                attach_label(tx, number, label)?;
            }
            for login in &new.assignees {
                tx.execute(
                    "INSERT OR IGNORE INTO issue_assignees (issue, login) VALUES (?1, ?2)",
                    params![number, login],
                )?;
            }
            require_issue(tx, number)
        })
    }

    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.read(|conn| require_issue(conn, number))
    }

    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        self.read(|conn| list_issues(conn, filter).map_err(DbFailure::from))
    }

    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        self.read(|conn| {
            // One read transaction: the items are those of the version the validator names,
            // whatever another process commits meanwhile.
            let snapshot = conn.unchecked_transaction()?;
            let at = listing_version(&snapshot)?;
            let validator = validator::issue_listing(&at, filter);
            if known == Some(&validator) {
                return Ok(Listing::NotModified);
            }
            let items = list_issues(&snapshot, filter)?;
            Ok(Listing::Modified { items, validator })
        })
    }

    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        for label in add {
            validate_label_name(label)?;
        }
        let now = self.now();
        self.write(|tx| {
            require_issue(tx, number)?;
            for label in remove {
                tx.execute(
                    "DELETE FROM issue_labels WHERE issue = ?1 AND label = ?2",
                    params![number, label],
                )?;
            }
            for label in add {
                attach_label(tx, number, label)?;
            }
            tx.execute(
                "UPDATE issues SET updated_at = ?2 WHERE number = ?1",
                params![number, now],
            )?;
            require_issue(tx, number)
        })
    }

    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue> {
        let now = self.now();
        self.write(|tx| {
            let issue = require_issue(tx, number)?;
            if issue.state == state {
                return Ok(issue);
            }
            let closed_at = (state == IssueState::Closed).then_some(now.as_str());
            tx.execute(
                "UPDATE issues SET state = ?2, closed_at = ?3, updated_at = ?4 WHERE number = ?1",
                params![number, state.as_str(), closed_at, now],
            )?;
            require_issue(tx, number)
        })
    }

    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        if body.trim().is_empty() {
            return Err(ForgeError::Invalid("a comment needs a body".to_owned()));
        }
        let now = self.now();
        self.write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM issues WHERE number = ?1)
                         OR EXISTS (SELECT 1 FROM pull_requests WHERE number = ?1)",
                [number],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(ForgeError::NotFound {
                    kind: "issue or pull request",
                    number,
                }
                .into());
            }
            tx.execute(
                "INSERT INTO comments (issue, author, body, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![number, self.actor, body, now],
            )?;
            tx.execute(
                "UPDATE issues SET updated_at = ?2 WHERE number = ?1",
                params![number, now],
            )?;
            Ok(Comment {
                id: tx.last_insert_rowid() as u64,
                issue: number,
                author: self.actor.clone(),
                body: body.to_owned(),
                created_at: now.parse().unwrap_or_default(),
            })
        })
    }

    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, issue, author, body, created_at FROM comments
                     WHERE issue = ?1 ORDER BY id",
            )?;
            statement
                .query_map([number], |r| {
                    Ok(Comment {
                        id: r.get(0)?,
                        issue: r.get(1)?,
                        author: r.get(2)?,
                        body: r.get(3)?,
                        created_at: parse_time(r.get(4)?).unwrap_or_default(),
                    })
                })
                .and_then(Iterator::collect)
                .map_err(DbFailure::from)
        })
    }

    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        if new.title.trim().is_empty() {
            return Err(ForgeError::Invalid(
                "a pull request needs a title".to_owned(),
            ));
        }
        let base = match &new.base {
            Some(base) => base.clone(),
            None => self.default_branch().await?,
        };
        if base == new.head {
            return Err(ForgeError::Invalid(format!(
                "a pull request cannot merge `{base}` into itself"
            )));
        }
        let head_tip = self.require_branch(&new.head).await?;
        let base_tip = self.require_branch(&base).await?;
        if self
            .git
            .is_ancestor(&head_tip, &base_tip)
            .await
            .map_err(git_error)?
        {
            return Err(ForgeError::Invalid(format!(
                "`{}` has no commits that `{base}` does not already have",
                new.head
            )));
        }
        let now = self.now();
        let created = self.write(|tx| {
            let open: Option<Number> = tx
                .query_row(
                    "SELECT number FROM pull_requests
                     WHERE head = ?1 AND base = ?2 AND state = 'open'",
                    params![new.head, base],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(number) = open {
                return Err(ForgeError::DuplicatePullRequest {
                    number,
                    head: new.head.clone(),
                    base: base.clone(),
                }
                .into());
            }
            let number = next_number(tx)?;
            tx.execute(
                "INSERT INTO pull_requests
                     (number, title, body, head, base, state, head_sha, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7)",
                params![number, new.title, new.body, new.head, base, head_tip, now],
            )?;
            require_pull_request(tx, number)
        })?;
        Ok(self.with_live_heads(vec![created]).await?.remove(0))
    }

    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        let pr = self.read(|conn| require_pull_request(conn, number))?;
        Ok(self.with_live_heads(vec![pr]).await?.remove(0))
    }

    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        let prs = self.read(|conn| list_pull_requests(conn, filter).map_err(DbFailure::from))?;
        self.with_live_heads(prs).await
    }

    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        let (at, prs) = self.read(|conn| {
            let snapshot = conn.unchecked_transaction()?;
            Ok((
                listing_version(&snapshot)?,
                list_pull_requests(&snapshot, filter)?,
            ))
        })?;
        let prs = self.with_live_heads(prs).await?;
        let heads: Vec<(Number, Option<&str>)> = prs
            .iter()
            .filter(|pr| pr.state == PullRequestState::Open)
            .map(|pr| (pr.number, pr.head_sha.as_deref()))
            .collect();
        let validator = validator::pull_request_listing(&at, filter, &heads);
        if known == Some(&validator) {
            return Ok(Listing::NotModified);
        }
        Ok(Listing::Modified {
            items: prs,
            validator,
        })
    }

    async fn merge_pull_request(&self, number: Number) -> ForgeResult<MergeOutcome> {
        match self.prepare_merge(number).await? {
            PreparedMerge::AlreadyContained { head, base, closes } => {
                let closed = self.mark_merged(number, &head, &base, &closes)?;
                Ok(MergeOutcome {
                    pull_request: self.pull_request(number).await?,
                    closed_issues: closed,
                })
            }
            PreparedMerge::Commit(merge) => self.finish_merge(merge).await,
        }
    }

    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        let now = self.now();
        // As on GitHub, a closed pull request keeps the head it was closed at.
        let head = self.pull_request(number).await?.head_sha;
        self.write(|tx| {
            let pr = require_pull_request(tx, number)?;
            match pr.state {
                PullRequestState::Closed => Ok(()),
                PullRequestState::Merged => Err(ForgeError::NotOpen {
                    number,
                    state: "merged",
                }
                .into()),
                PullRequestState::Open => {
                    tx.execute(
                        "UPDATE pull_requests SET state = 'closed', closed_at = ?2, updated_at = ?2,
                             head_sha = ?3
                         WHERE number = ?1",
                        params![number, now, head],
                    )?;
                    Ok(())
                }
            }
        })?;
        self.pull_request(number).await
    }
}
