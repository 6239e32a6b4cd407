//! A repository on the GitHub fake, for tests of the real `clambake` binary on the GitHub
//! backend: the fake on 127.0.0.1, a clone whose `origin` is the fake's bare repository, and
//! `init --backend github` done; every `clambake` call gets the fake's token in `GH_TOKEN`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clambake::core::queue::claims::{CLAIMS_PREFIX, ClaimRecord};
use clambake_github_fake::{FakeGithub, Options};
use tempfile::TempDir;

use crate::support::{CliOutput, TestRepo, clambake_in_env};

/// A clone of a repository on the GitHub fake, initialised for the GitHub backend.
pub struct GithubRepo {
    pub fake: FakeGithub,
    pub repo: TestRepo,
    /// Holds the bare repository that is both the fake's and `origin`.
    origin: TempDir,
    token: String,
}

impl GithubRepo {
    /// The fake, the clone with `main` pushed, and `init --backend github --agents AGENTS`.
    /// Mutations are not spaced a second apart as on GitHub (`github.mutation_interval_ms =
    /// 0`), so that a whole lifecycle fits in a test.
    pub async fn start(agents: u32) -> Self {
        let origin = tempfile::tempdir().unwrap();
        let fake = FakeGithub::start(Options::new(origin.path().join("origin.git")))
            .await
            .unwrap();
        let repo = TestRepo::new();
        repo.git(&["remote", "add", "origin", &fake.origin_url()]);
        repo.git(&["push", "-q", "origin", "main"]);
        repo.write("clambake.toml", "[github]\nmutation_interval_ms = 0\n");
        let token = fake.token();
        let github = Self {
            fake,
            repo,
            origin,
            token,
        };
        let api = github.fake.api_url();
        github
            .clambake(&[
                "init",
                "--backend",
                "github",
                "--owner",
                "clambake",
                "--repo",
                "demo",
                "--api-url",
                &api,
                "--agents",
                &agents.to_string(),
            ])
            .success();
        github
    }

    /// [`GithubRepo::start`] for a test without a runtime, e.g. one of several threads.
    pub fn start_blocking(agents: u32) -> Self {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(Self::start(agents))
    }

    pub fn path(&self) -> &Path {
        self.repo.path()
    }

    /// The bare repository that is `origin`.
    pub fn bare(&self) -> PathBuf {
        self.origin.path().join("origin.git")
    }

    /// Runs `clambake` in the clone with the fake's token. On a multi-threaded runtime it
    /// blocks in place, so that servers on the test's runtime (a scripted model) go on
    /// answering.
    pub fn clambake(&self, args: &[&str]) -> CliOutput {
        self.clambake_env(args, &[])
    }

    /// [`GithubRepo::clambake`] with `env` set as well.
    pub fn clambake_env(&self, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
        let mut all = vec![("GH_TOKEN", self.token.as_str())];
        all.extend_from_slice(env);
        let run = || clambake_in_env(self.path(), args, &all);
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
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
        assert_eq!(self.fake.violations(), Vec::<String>::new());
    }
}
