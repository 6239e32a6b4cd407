//! A repository on the GitHub fake, for tests of the real `clambake` binary on the GitHub
//! backend: the fake on 127.0.0.1, a clone whose `origin` is the fake's bare repository, and
//! `init --backend github` done; every `clambake` call gets the fake's token in `GH_TOKEN`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clambake::adapters::forge::github::{GithubForge, GithubSettings, Token};
use clambake::core::queue::claims::{CLAIMS_PREFIX, ClaimRecord};
use clambake_github_fake::{FakeGithub, Options};
use tempfile::TempDir;

use crate::backend::Backend;
use crate::support::{CliOutput, TestRepo};

/// The GitHub fake on 127.0.0.1 and the bare repository that is both its state and the
/// `origin` remote of a test's clone.
pub struct GithubOrigin {
    pub fake: FakeGithub,
    /// Holds the bare repository `origin.git`.
    dir: TempDir,
    token: String,
}

impl GithubOrigin {
    /// Starts a fake with the options `options` makes of the bare repository's path. It is
    /// started from a thread of its own, so that this works in a test with or without a
    /// runtime; the fake then serves on a runtime of its own.
    pub fn start_blocking(options: impl FnOnce(PathBuf) -> Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = options(dir.path().join("origin.git"));
        let start = move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(FakeGithub::start(options))
        };
        let fake = std::thread::spawn(start).join().unwrap().unwrap();
        let token = fake.token();
        Self { fake, dir, token }
    }

    /// The token the fake accepts, as `GH_TOKEN` carries it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The bare repository that is `origin`.
    pub fn bare(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }

    /// A client of this fake's repository, with no spacing between mutations.
    pub fn client(&self, clock: std::sync::Arc<dyn clambake::ports::Clock>) -> GithubForge {
        GithubForge::new(GithubSettings {
            api_url: self.fake.api_url(),
            owner: "clambake".to_owned(),
            repo: "demo".to_owned(),
            token: Token::new(self.token.clone()),
            clock,
            mutation_interval: std::time::Duration::ZERO,
        })
        .unwrap()
    }

    /// What `clambake init` is given to use this fake's repository.
    pub fn init_args(&self) -> Vec<String> {
        init_args(&self.fake)
    }
}

/// A clone of a repository on the GitHub fake, initialised for the GitHub backend.
pub struct GithubRepo {
    pub repo: TestRepo,
}

impl GithubRepo {
    /// [`TestRepo::on`] the GitHub backend, with `init --agents AGENTS` done.
    pub fn start(agents: u32) -> Self {
        let repo = TestRepo::on(Backend::Github);
        repo.init(&["--agents", &agents.to_string()]).success();
        Self { repo }
    }

    /// The fake behind `origin`.
    pub fn fake(&self) -> &FakeGithub {
        &self.origin().fake
    }

    fn origin(&self) -> &GithubOrigin {
        self.repo
            .github()
            .expect("a GithubRepo is on the GitHub backend")
    }

    /// The bare repository that is `origin`.
    pub fn bare(&self) -> PathBuf {
        self.origin().bare()
    }

    /// Runs `clambake` in the clone with the fake's token: [`TestRepo::clambake`].
    pub fn clambake(&self, args: &[&str]) -> CliOutput {
        self.repo.clambake(args)
    }

    /// Runs git on the bare repository that is `origin`; returns trimmed stdout.
    pub fn origin_git(&self, args: &[&str]) -> String {
        let bare = self.bare();
        let mut all = vec!["--git-dir", bare.to_str().unwrap()];
        all.extend_from_slice(args);
        self.repo.git(&all)
    }

    /// The branches on `origin`, sorted.
    pub fn origin_branches(&self) -> Vec<String> {
        let listed = self.origin_git(&["for-each-ref", "--format=%(refname:short)", "refs/heads"]);
        listed.lines().map(str::to_owned).collect()
    }

    /// Every claim record of every issue on `origin`, oldest first, by issue.
    pub fn claim_chains(&self) -> BTreeMap<u64, Vec<ClaimRecord>> {
        let refs = self.origin_git(&["for-each-ref", "--format=%(refname)", CLAIMS_PREFIX]);
        refs.lines()
            .map(|name| {
                let issue = name[CLAIMS_PREFIX.len()..].parse().unwrap();
                let log = self.origin_git(&["log", "--reverse", "--format=%B%x00", name]);
                let records = log
                    .split('\0')
                    .map(str::trim)
                    .filter(|message| !message.is_empty())
                    .map(|message| {
                        ClaimRecord::parse(message)
                            .unwrap_or_else(|| panic!("not a claim record: {message}"))
                    })
                    .collect();
                (issue, records)
            })
            .collect()
    }

    /// Panics unless every request so far kept to GitHub's OpenAPI description.
    #[track_caller]
    pub fn assert_no_violations(&self) {
        assert_eq!(self.fake().violations(), Vec::<String>::new());
    }
}

/// A body as GitHub shows it: without the key that Clambake's creates put at its end, in an
/// HTML comment (so that a lost answer's work is known by it).
pub fn visible(body: &str) -> &str {
    match body.rfind("\n\n<!-- clambake-create ") {
        Some(key) if body.ends_with(" -->") => &body[..key],
        _ => body,
    }
}

/// What `clambake init` is given to use `fake`'s repository on the GitHub backend.
pub fn init_args(fake: &FakeGithub) -> Vec<String> {
    let args = [
        "--backend",
        "github",
        "--owner",
        "clambake",
        "--repo",
        "demo",
    ];
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(["--api-url".to_owned(), fake.api_url()]);
    all
}

/// `clambake init --agents AGENTS` on `fake`'s repository, as arguments.
pub fn init_command(fake: &FakeGithub, agents: u32) -> Vec<String> {
    let mut all = vec!["init".to_owned(), "--agents".to_owned(), agents.to_string()];
    all.extend(init_args(fake));
    all
}
