//! The GitHub repository a git remote's URL names, as `init --backend github` reads it from
//! `origin`: `https://HOST/OWNER/REPO(.git)`, `git@HOST:OWNER/REPO(.git)` or
//! `ssh://git@HOST(:PORT)/OWNER/REPO(.git)`.

/// The host of GitHub itself, whose API lives on a host of its own.
pub const GITHUB_HOST: &str = "github.com";

/// Where a remote's repository lives on GitHub (or a GitHub Enterprise Server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRemote {
    pub host: String,
    pub owner: String,
    pub repo: String,
}

impl GithubRemote {
    /// Reads a remote URL; `None` for one that names no `OWNER/REPO` on a host (a path, a
    /// `file://` URL).
    pub fn parse(url: &str) -> Option<Self> {
        let url = url.trim();
        let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git" | "git+ssh") {
                return None;
            }
            let (authority, path) = rest.split_once('/')?;
            let host = authority.rsplit('@').next()?;
            // A port (`ssh://git@host:2222/...`) is not part of the host's name.
            let host = host.split(':').next()?;
            (host, path)
        } else {
            // scp-like: `[user@]host:owner/repo`, never with a slash before the colon.
            let (authority, path) = url.split_once(':')?;
            if authority.contains('/') {
                return None;
            }
            (authority.rsplit('@').next()?, path)
        };
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let (owner, repo) = path.split_once('/')?;
        let plain = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if host.is_empty() || !plain(owner) || !plain(repo) {
            return None;
        }
        Some(Self {
            host: host.to_ascii_lowercase(),
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    /// The REST API's base URL for this host: GitHub's own, or an Enterprise Server's
    /// `https://HOST/api/v3`.
    pub fn api_url(&self) -> String {
        if self.host == GITHUB_HOST {
            "https://api.github.com".to_owned()
        } else {
            format!("https://{}/api/v3", self.host)
        }
    }
}

/// The host git reaches the repositories of the API at `api_url` on: `github.com` for
/// GitHub's own API, HOST for an Enterprise Server's `https://HOST/api/v3`, else the API's own
/// host (a fake's).
pub fn git_host(api_url: &str) -> String {
    let rest = api_url.split_once("://").map_or(api_url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.strip_prefix("api.") {
        Some(web) if web == GITHUB_HOST => web.to_owned(),
        _ => host,
    }
}

/// Where people see the repositories of the API at `api_url`: `https://github.com` for
/// GitHub's own API, `https://HOST` for an Enterprise Server's `https://HOST/api/v3`, else the
/// API's own URL (a fake's, which serves its pages there).
pub fn web_url(api_url: &str) -> String {
    let api_url = api_url.trim_end_matches('/');
    let (scheme, rest) = api_url.split_once("://").unwrap_or(("https", api_url));
    if rest.eq_ignore_ascii_case("api.github.com") {
        return format!("{scheme}://{GITHUB_HOST}");
    }
    match api_url.strip_suffix("/api/v3") {
        Some(web) => web.to_owned(),
        None => api_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_of_apis() {
        assert_eq!(web_url("https://api.github.com"), "https://github.com");
        assert_eq!(web_url("https://api.github.com/"), "https://github.com");
        assert_eq!(web_url("https://ghe.example/api/v3"), "https://ghe.example");
        assert_eq!(web_url("http://127.0.0.1:4000"), "http://127.0.0.1:4000");
    }

    fn remote(host: &str, owner: &str, repo: &str) -> Option<GithubRemote> {
        Some(GithubRemote {
            host: host.to_owned(),
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    #[test]
    fn https_urls_with_and_without_git() {
        let expected = remote("github.com", "octo", "cat");
        assert_eq!(
            GithubRemote::parse("https://github.com/octo/cat.git"),
            expected
        );
        assert_eq!(GithubRemote::parse("https://github.com/octo/cat"), expected);
        assert_eq!(
            GithubRemote::parse("https://github.com/octo/cat/"),
            expected
        );
        assert_eq!(
            GithubRemote::parse("https://someone@github.com/octo/cat.git\n"),
            expected
        );
    }

    #[test]
    fn scp_like_ssh_urls() {
        let expected = remote("github.com", "octo", "cat");
        assert_eq!(GithubRemote::parse("git@github.com:octo/cat.git"), expected);
        assert_eq!(GithubRemote::parse("git@github.com:octo/cat"), expected);
    }

    #[test]
    fn ssh_urls_with_and_without_a_port() {
        let expected = remote("github.com", "octo", "cat");
        assert_eq!(
            GithubRemote::parse("ssh://git@github.com/octo/cat.git"),
            expected
        );
        assert_eq!(
            GithubRemote::parse("ssh://git@github.com/octo/cat"),
            expected
        );
        assert_eq!(
            GithubRemote::parse("ssh://git@github.com:2222/octo/cat.git"),
            expected
        );
    }

    #[test]
    fn names_with_dots_dashes_and_underscores() {
        assert_eq!(
            GithubRemote::parse("https://github.com/my-org/my_repo.js.git"),
            remote("github.com", "my-org", "my_repo.js")
        );
    }

    #[test]
    fn github_s_api_is_on_its_own_host() {
        let github = GithubRemote::parse("git@github.com:octo/cat.git").unwrap();
        assert_eq!(github.api_url(), "https://api.github.com");
    }

    #[test]
    fn an_enterprise_host_has_its_api_under_api_v3() {
        for url in [
            "https://ghe.example.com/octo/cat.git",
            "git@ghe.example.com:octo/cat.git",
            "ssh://git@GHE.example.com/octo/cat",
        ] {
            let parsed = GithubRemote::parse(url).unwrap();
            assert_eq!(
                parsed,
                remote("ghe.example.com", "octo", "cat").unwrap(),
                "{url}"
            );
            assert_eq!(parsed.api_url(), "https://ghe.example.com/api/v3", "{url}");
        }
    }

    #[test]
    fn git_s_host_is_told_from_the_api_s() {
        assert_eq!(git_host("https://api.github.com"), "github.com");
        assert_eq!(git_host("https://api.github.com/"), "github.com");
        assert_eq!(
            git_host("https://ghe.example.com/api/v3"),
            "ghe.example.com"
        );
        assert_eq!(git_host("http://127.0.0.1:8123"), "127.0.0.1:8123");
    }

    #[test]
    fn urls_naming_no_repository_on_a_host() {
        for url in [
            "",
            "/srv/git/cat.git",
            "file:///srv/git/cat.git",
            "../cat",
            "https://github.com/octo",
            "https://github.com/octo/cat/tree/main",
            "git@github.com:cat.git",
            "./dir:octo/cat",
        ] {
            assert_eq!(GithubRemote::parse(url), None, "{url}");
        }
    }
}
