//! The embedded forge: issues, labels, comments and pull requests in a SQLite file under
//! `.clambake/`, branches as the repository's own refs, and merges as real merge commits moved
//! onto the base branch with a compare-and-swap.

mod merge;
mod reviews;
mod rows;
mod schema;
mod validator;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::adapters::git::Git;
use crate::adapters::sqlite_file::{self, OpenError};
use crate::ports::Clock;
use crate::ports::database::DatabaseKind;
use crate::ports::forge::{
    AuthorAssociation, Comment, Forge, ForgeError, ForgeResult, Issue, IssueFilter, IssueState,
    Label, LabelChange, Listing, MergeOutcome, NewIssue, NewPullRequest, NewReview, Number,
    PullRequest, PullRequestEdit, PullRequestFilter, PullRequestState, Review, Validator,
};
use crate::ports::git::{GitError, Refs};
pub use merge::{MergeCommit, PreparedMerge};
use rows::{
    attach_label, list_issues, list_pull_requests, listing_version, next_number, parse_time,
    require_issue, require_pull_request,
};

/// The database's file name inside `.clambake/`.
pub const DATABASE_FILE: &str = "forge.db";

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
                author_association: AuthorAssociation::Owner,
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
                        // Whoever can write the local forge's database owns the repository.
                        author_association: AuthorAssociation::Owner,
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

    async fn merge_pull_request(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome> {
        match self.prepare_merge(number, expected_head).await? {
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

    async fn edit_pull_request(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest> {
        let now = self.now();
        self.write(|tx| {
            let pr = require_pull_request(tx, number)?;
            if pr.state != PullRequestState::Open {
                return Err(ForgeError::NotOpen {
                    number,
                    state: pr.state.as_str(),
                }
                .into());
            }
            tx.execute(
                "UPDATE pull_requests SET title = ?2, body = ?3, updated_at = ?4 WHERE number = ?1",
                params![number, edit.title, edit.body, now],
            )?;
            Ok(())
        })?;
        self.pull_request(number).await
    }
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.list_reviews(number)
    }
    async fn own_login(&self) -> ForgeResult<Option<String>> {
        Ok(Some(self.actor.clone()))
    }
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        self.submit_review(number, new)
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
