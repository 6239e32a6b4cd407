//! The GitHub token, looked for where the `gh` CLI looks: `GH_TOKEN`, `GITHUB_TOKEN`, then
//! `gh auth token`, whose answer is read from its stdout: no secret is ever an argument.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;

use crate::adapters::agents::locate::locate;
use crate::ports::credentials::{GithubToken, NoToken, TokenSource};

/// The variables read first, in order.
const VARIABLES: [(&str, TokenSource); 2] = [
    ("GH_TOKEN", TokenSource::GhToken),
    ("GITHUB_TOKEN", TokenSource::GithubToken),
];

/// Finds the token for `host` among `variables` (the environment), else from the `gh` found
/// on `path` (a PATH value). An empty variable counts as unset, as for `gh`.
pub async fn github_token(
    variables: &[(String, String)],
    path: Option<&OsStr>,
    host: &str,
) -> Result<GithubToken, NoToken> {
    for (name, source) in VARIABLES {
        let value = variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty());
        if let Some(secret) = value {
            return Ok(GithubToken::new(secret.to_owned(), source));
        }
    }
    let gh = locate("gh", path).map_err(|why| NoToken {
        gh: format!("cannot run: {why}"),
    })?;
    from_gh(&gh, host)
        .await
        .map(|secret| GithubToken::new(secret, TokenSource::GhCli))
}

/// `gh auth token --hostname HOST`: the token arrives on stdout, never in an argument.
async fn from_gh(gh: &Path, host: &str) -> Result<String, NoToken> {
    let output = tokio::process::Command::new(gh)
        .args(["auth", "token", "--hostname", host])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| NoToken {
            gh: format!("could not be run: {error}"),
        })?;
    let secret = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || secret.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().next().unwrap_or_default().trim();
        return Err(NoToken {
            gh: if why.is_empty() {
                format!("found no token for {host}")
            } else {
                format!("found no token for {host}: {why}")
            },
        });
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A directory with a `gh` that prints `body`'s output.
    fn gh(body: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    async fn find(pairs: &[(&str, &str)], path: Option<&Path>) -> Result<GithubToken, NoToken> {
        github_token(&vars(pairs), path.map(Path::as_os_str), "github.com").await
    }

    #[tokio::test]
    async fn gh_token_comes_before_github_token_before_gh() {
        let dir = gh("echo from-gh-cli-token\n");
        let both = [
            ("GITHUB_TOKEN", "the-github-token"),
            ("GH_TOKEN", "the-gh-token"),
        ];
        let token = find(&both, Some(dir.path())).await.unwrap();
        assert_eq!(
            (token.secret(), token.source),
            ("the-gh-token", TokenSource::GhToken)
        );
        let token = find(&both[..1], Some(dir.path())).await.unwrap();
        assert_eq!(
            (token.secret(), token.source),
            ("the-github-token", TokenSource::GithubToken)
        );
        let empty = [("GH_TOKEN", " "), ("GITHUB_TOKEN", "")];
        let token = find(&empty, Some(dir.path())).await.unwrap();
        assert_eq!(
            (token.secret(), token.source),
            ("from-gh-cli-token", TokenSource::GhCli)
        );
    }

    #[tokio::test]
    async fn gh_is_asked_for_the_host_with_no_secret_in_its_arguments() {
        let dir = gh("[ \"$*\" = 'auth token --hostname ghe.example' ] || exit 3\necho tok\n");
        let token = github_token(&[], Some(dir.path().as_os_str()), "ghe.example")
            .await
            .unwrap();
        assert_eq!(token.secret(), "tok");
    }

    #[tokio::test]
    async fn without_gh_the_error_names_the_three_ways() {
        let empty = tempfile::tempdir().unwrap();
        let error = find(&[], Some(empty.path())).await.unwrap_err();
        assert!(error.gh.contains("`gh` is not on PATH"), "{error}");
        let help = miette::Diagnostic::help(&error).unwrap().to_string();
        for way in ["GH_TOKEN", "GITHUB_TOKEN", "gh auth login"] {
            assert!(help.contains(way), "{help}");
        }
    }

    #[tokio::test]
    async fn a_failing_gh_says_why() {
        let dir = gh("echo 'no oauth token found for github.com' >&2\nexit 1\n");
        let error = find(&[], Some(dir.path())).await.unwrap_err();
        assert!(
            error.to_string().contains("no oauth token found"),
            "{error}"
        );
    }
}
