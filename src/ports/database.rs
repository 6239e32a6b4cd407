//! A database file a store refuses to open: there, but not a database. Every store reports it
//! the same way, naming the file and what to do, and never recreates it empty over the state
//! that other places (branches, worktrees, running agents) still hold.

use std::path::PathBuf;

use miette::Diagnostic;

/// What is wrong with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Zero bytes: truncated, or never written.
    Empty,
    /// Bytes that do not start with SQLite's header.
    NotSqlite,
}

/// Whether a database file is there, and if so whether it is a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Missing,
    Database,
    Damaged(Damage),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "it is empty (0 bytes)",
            Self::NotSqlite => "it is not a SQLite database",
        })
    }
}

/// Which of Clambake's databases a file is, for the advice that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// The local forge: issues, comments, pull requests. Nothing else holds them.
    Forge,
    /// The lifecycle journal: rebuilt from the forge and git on request.
    Journal,
    /// The registry of running agent processes.
    Registry,
}

impl DatabaseKind {
    /// What to do about a damaged file of this kind.
    pub fn advice(self) -> &'static str {
        match self {
            Self::Forge => {
                "the local forge's issues, comments and pull requests exist nowhere else: move the \
                 damaged file aside and restore .clambake/forge.db from a backup. Clambake does not \
                 recreate it empty: numbering would restart at #1 beside the existing agent branches"
            }
            Self::Journal => {
                "run `clambake agent rebuild-journal`: it moves the damaged file aside and rebuilds \
                 every slot's state from the forge and git"
            }
            Self::Registry => {
                "it lists the agent processes running now: stop any agent still running, then move \
                 the file aside (never delete it); the next command creates a new registry"
            }
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("{} is damaged: {damage}", path.display())]
#[diagnostic(code(clambake::database::damaged), help("{}", kind.advice()))]
pub struct DamagedDatabase {
    pub path: PathBuf,
    pub kind: DatabaseKind,
    pub damage: Damage,
}
