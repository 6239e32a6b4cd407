//! A fake on a fresh bare repository, a work clone to push branches from, and an
//! authenticated HTTP client.

use std::path::{Path, PathBuf};
use std::process::Command;

use clambake_github_fake::{FakeGithub, Options};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;

/// Fails the test on drop if the fake saw a request or answer that broke GitHub's
/// description, unless the test took them with [`Harness::take_violations`].
pub struct Harness {
    pub fake: FakeGithub,
    violations_taken: std::cell::Cell<usize>,
    pub client: reqwest::Client,
    pub work: PathBuf,
    _dir: TempDir,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl Harness {
    /// A fake whose `main` has one commit, pushed from a work clone.
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// [`Harness::start`] with `adjust`ed options.
    pub async fn start_with(adjust: impl FnOnce(&mut Options)) -> Harness {
        let dir = TempDir::new().unwrap();
        let mut options = Options::new(dir.path().join("origin.git"));
        adjust(&mut options);
        let fake = FakeGithub::start(options).await.unwrap();
        let work = dir.path().join("work");
        let cloned = Command::new("git")
            .args(["clone", "--quiet", &fake.origin_url()])
            .arg(&work)
            .output()
            .unwrap();
        assert!(cloned.status.success());
        let harness = Harness {
            fake,
            violations_taken: std::cell::Cell::new(0),
            client: reqwest::Client::new(),
            work,
            _dir: dir,
        };
        harness.commit("README", "hello\n", "first");
        git(&harness.work, &["push", "--quiet", "origin", "HEAD:main"]);
        harness
    }

    /// Commits `content` to `file` on the current branch of the work clone.
    pub fn commit(&self, file: &str, content: &str, message: &str) -> String {
        std::fs::write(self.work.join(file), content).unwrap();
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Pushes a new branch with one commit off `main` and returns its head.
    pub fn push_branch(&self, branch: &str, file: &str, content: &str) -> String {
        git(
            &self.work,
            &["checkout", "--quiet", "-B", branch, "origin/main"],
        );
        let sha = self.commit(file, content, &format!("{branch}: {file}"));
        git(
            &self.work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                &format!("HEAD:{branch}"),
            ],
        );
        git(&self.work, &["fetch", "--quiet", "origin"]);
        sha
    }

    /// The violations so far, which the test means to provoke.
    pub fn take_violations(&self) -> Vec<String> {
        let violations = self.fake.violations();
        let new = violations[self.violations_taken.get()..].to_vec();
        self.violations_taken.set(violations.len());
        new
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.fake.api_url()))
            .header("authorization", format!("Bearer {}", self.fake.token()))
            .header("accept", "application/vnd.github+json")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// Sends `body` as JSON; `null` sends no body.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Response {
        let request = self.request(method, path);
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        request.send().await.unwrap()
    }

    /// Sends and expects `status`, returning the JSON body.
    pub async fn expect(&self, method: Method, path: &str, body: Value, status: u16) -> Value {
        let response = self.send(method, path, body).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        response.json().await.unwrap()
    }

    pub fn repo(&self, rest: &str) -> String {
        format!("/repos/clambake/demo{rest}")
    }

    pub async fn create_issue(&self, title: &str, labels: &[&str]) -> u64 {
        let body = serde_json::json!({ "title": title, "labels": labels });
        let issue = self
            .expect(Method::POST, &self.repo("/issues"), body, 201)
            .await;
        issue["number"].as_u64().unwrap()
    }

    pub async fn create_pull(&self, branch: &str, body: &str) -> Value {
        let request =
            serde_json::json!({ "title": branch, "head": branch, "base": "main", "body": body });
        self.expect(Method::POST, &self.repo("/pulls"), request, 201)
            .await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(
                self.take_violations(),
                Vec::<String>::new(),
                "requests or answers off the description"
            );
        }
    }
}
