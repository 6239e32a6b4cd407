//! The local forge's SQLite schema, as versioned migrations (tracked in `PRAGMA user_version`).

use rusqlite_migration::{M, Migrations};

/// Append new migrations; never edit a released one.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE meta (
             key   TEXT PRIMARY KEY,
             value TEXT NOT NULL
         );
         CREATE TABLE issues (
             number     INTEGER PRIMARY KEY,
             title      TEXT NOT NULL,
             body       TEXT NOT NULL,
             state      TEXT NOT NULL CHECK (state IN ('open', 'closed')),
             created_at TEXT NOT NULL,
             updated_at TEXT NOT NULL,
             closed_at  TEXT
         );
         CREATE TABLE labels (
             name        TEXT PRIMARY KEY COLLATE NOCASE,
             color       TEXT NOT NULL,
             description TEXT NOT NULL
         );
         CREATE TABLE issue_labels (
             issue INTEGER NOT NULL REFERENCES issues (number),
             label TEXT NOT NULL COLLATE NOCASE REFERENCES labels (name),
             PRIMARY KEY (issue, label)
         );
         CREATE INDEX issue_labels_by_label ON issue_labels (label);
         CREATE TABLE issue_assignees (
             issue INTEGER NOT NULL REFERENCES issues (number),
             login TEXT NOT NULL,
             PRIMARY KEY (issue, login)
         );
         CREATE TABLE comments (
             id         INTEGER PRIMARY KEY AUTOINCREMENT,
             issue      INTEGER NOT NULL,
             author     TEXT NOT NULL,
             body       TEXT NOT NULL,
             created_at TEXT NOT NULL
         );
         CREATE INDEX comments_by_issue ON comments (issue);
         CREATE TABLE pull_requests (
             number           INTEGER PRIMARY KEY,
             title            TEXT NOT NULL,
             body             TEXT NOT NULL,
             head             TEXT NOT NULL,
             base             TEXT NOT NULL,
             state            TEXT NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
             head_sha         TEXT,
             merge_commit_sha TEXT,
             created_at       TEXT NOT NULL,
             updated_at       TEXT NOT NULL,
             closed_at        TEXT,
             merged_at        TEXT
         );
         CREATE INDEX pull_requests_by_head ON pull_requests (head, state);",
        ),
        // Listings' version for conditional reads: every write to what an issue or pull request
        // listing returns bumps it, whichever process writes. Comments are not listed; adding one
        // touches its issue's `updated_at`, which bumps it. The epoch tells a recreated database's
        // versions from the old one's.
        M::up(
            "CREATE TABLE listing_version (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             epoch   TEXT NOT NULL,
             version INTEGER NOT NULL
         );
         INSERT INTO listing_version (id, epoch, version) VALUES (1, lower(hex(randomblob(8))), 0);
         CREATE TRIGGER issues_insert_bumps_version AFTER INSERT ON issues
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issues_update_bumps_version AFTER UPDATE ON issues
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issues_delete_bumps_version AFTER DELETE ON issues
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_labels_insert_bumps_version AFTER INSERT ON issue_labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_labels_update_bumps_version AFTER UPDATE ON issue_labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_labels_delete_bumps_version AFTER DELETE ON issue_labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_assignees_insert_bumps_version AFTER INSERT ON issue_assignees
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_assignees_update_bumps_version AFTER UPDATE ON issue_assignees
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER issue_assignees_delete_bumps_version AFTER DELETE ON issue_assignees
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER labels_insert_bumps_version AFTER INSERT ON labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER labels_update_bumps_version AFTER UPDATE ON labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER labels_delete_bumps_version AFTER DELETE ON labels
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER pull_requests_insert_bumps_version AFTER INSERT ON pull_requests
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER pull_requests_update_bumps_version AFTER UPDATE ON pull_requests
             BEGIN UPDATE listing_version SET version = version + 1; END;
         CREATE TRIGGER pull_requests_delete_bumps_version AFTER DELETE ON pull_requests
             BEGIN UPDATE listing_version SET version = version + 1; END;",
        ),
        // Reviews of pull requests, as GitHub's: a person's verdict and its text. Not listed
        // conditionally, as comments are not.
        M::up(
            "CREATE TABLE reviews (
             id           INTEGER PRIMARY KEY AUTOINCREMENT,
             pull_request INTEGER NOT NULL REFERENCES pull_requests (number),
             author       TEXT NOT NULL,
             state        TEXT NOT NULL
                 CHECK (state IN ('changes_requested', 'approved', 'commented', 'dismissed')),
             body         TEXT NOT NULL,
             submitted_at TEXT NOT NULL
         );
         CREATE INDEX reviews_by_pull_request ON reviews (pull_request, id);",
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
