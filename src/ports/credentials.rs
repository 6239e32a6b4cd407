//! Where the forge's token comes from, as the app reports it (never the token itself), and
//! why none was found.

use miette::Diagnostic;
use serde::Serialize;

/// Where a GitHub token was found, in the order the `gh` CLI looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TokenSource {
    #[serde(rename = "GH_TOKEN")]
    GhToken,
    #[serde(rename = "GITHUB_TOKEN")]
    GithubToken,
    /// `gh auth token`: the login of the `gh` CLI.
    #[serde(rename = "gh auth token")]
    GhCli,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GhToken => "GH_TOKEN",
            Self::GithubToken => "GITHUB_TOKEN",
            Self::GhCli => "`gh auth token`",
        })
    }
}

/// No token could be found.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("no GitHub token: GH_TOKEN and GITHUB_TOKEN are not set, and `gh auth token` {gh}")]
#[diagnostic(
    code(clambake::credentials::missing),
    help(
        "give Clambake a token one of three ways: set GH_TOKEN, or set GITHUB_TOKEN, or log in \
         with `gh auth login` (Clambake then asks `gh auth token`); the token needs read and \
         write access to the repository's issues, pull requests and contents"
    )
)]
pub struct NoToken {
    /// What became of `gh auth token`: not on PATH, or its failure.
    pub gh: String,
}
