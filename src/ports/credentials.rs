//! The forge's token: where it came from (what the app reports, never the token itself), why
//! none was found, and what the repository lets its user do.

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

/// A token and where it was found. `Debug` leaves the token out.
#[derive(Clone)]
pub struct GithubToken {
    secret: String,
    pub source: TokenSource,
}

impl GithubToken {
    pub fn new(secret: String, source: TokenSource) -> Self {
        Self { secret, source }
    }

    /// The token itself, for the adapters that send it and the redactor that hides it.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl std::fmt::Debug for GithubToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubToken")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What the token's user may do in the repository, and the repository's default branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryAccess {
    pub login: String,
    pub admin: bool,
    pub maintain: bool,
    pub push: bool,
    pub triage: bool,
    pub pull: bool,
    pub default_branch: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_not_debug_printed() {
        let token = GithubToken::new("ghp_verysecret".to_owned(), TokenSource::GhToken);
        assert!(!format!("{token:?}").contains("verysecret"));
    }
}
