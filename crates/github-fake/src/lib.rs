//! A stateful stand-in for GitHub's REST API, for testing Clambake's GitHub backend offline.
//!
//! [`FakeGithub::start`] serves one repository on 127.0.0.1: issues, pull requests, labels and
//! comments live in memory, refs live in a real bare repository that is also the `origin`
//! remote, and [`Faults`] make it misbehave the way GitHub does.

#![recursion_limit = "256"]

mod actions;
mod admin;
mod checks;
mod compare;
mod dependencies;
mod error;
mod faults;
mod git;
mod http;
mod issues;
mod labels;
mod landing;
mod merge;
pub mod openapi;
mod pages;
mod pulls;
mod refs;
mod render;
mod repository;
mod reviews;
pub mod runner;
pub mod runner_contract;
mod server;
mod state;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

pub use actions::{Artifact, Job, RunStatus, Step, WorkflowRun};
pub use checks::{CheckRun, CiVerdict, CommitStatus, PushedCommit};
pub use faults::{Faults, SecondaryLimit};
pub use state::{Comment, Issue, IssueState, Label, Pull, RecordedRequest};

use server::App;

/// How to set up the fake.
#[derive(Debug, Clone)]
pub struct Options {
    pub owner: String,
    pub repo: String,
    /// The bare repository that is the `origin` remote; `git init --bare -b main` if missing.
    pub bare_repo: PathBuf,
    /// The one token the fake accepts.
    pub token: String,
    /// The login of the token's user.
    pub login: String,
    /// How the token's user is associated with the repository, e.g. `OWNER`.
    pub association: String,
    /// Requests per hour before the primary rate limit refuses.
    pub rate_limit: u64,
    /// The token is an installation's (a GitHub App's, or Actions' `GITHUB_TOKEN`): it acts
    /// for no user, so `GET /user` is refused with GitHub's 403 "Resource not accessible by
    /// integration"; set `login` to the app's bot, e.g. `clambake[bot]`.
    pub installation: bool,
    /// The port to listen on, 0 for any free one.
    pub port: u16,
}

impl Options {
    /// Options for a repository `clambake/demo` owned by the token's user `clambake`.
    pub fn new(bare_repo: impl Into<PathBuf>) -> Options {
        Options {
            owner: "clambake".to_string(),
            repo: "demo".to_string(),
            bare_repo: bare_repo.into(),
            token: "fake-token".to_string(),
            login: "clambake".to_string(),
            association: "OWNER".to_string(),
            rate_limit: 5000,
            installation: false,
            port: 0,
        }
    }
}

/// A running fake; it stops when dropped.
pub struct FakeGithub {
    app: Arc<App>,
    _running: server::Running,
}

impl FakeGithub {
    /// Binds 127.0.0.1 on `options.port` and starts serving, on a thread and runtime of its
    /// own: it keeps answering while the caller blocks, e.g. on a child process using it.
    pub async fn start(options: Options) -> std::io::Result<FakeGithub> {
        let (app, running) = server::start(options).await?;
        Ok(FakeGithub {
            app,
            _running: running,
        })
    }

    /// The API's base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn api_url(&self) -> String {
        self.app.api_url.clone()
    }

    /// The `file://` URL of the bare repository, to use as the `origin` remote.
    pub fn origin_url(&self) -> String {
        format!("file://{}", self.app.repo.path().display())
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.app.options.token.clone()
    }

    /// Every request or response that broke GitHub's OpenAPI description.
    pub fn violations(&self) -> Vec<String> {
        self.app.lock().violations.clone()
    }

    /// Every API request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.lock().requests.clone()
    }

    /// Replaces the faults in force; their counts start again from here.
    pub fn set_faults(&self, faults: Faults) {
        self.app.lock().faults = faults::FaultPlan::new(faults);
    }

    /// Sets the primary rate limit's window: `remaining` requests until `reset_in` from now,
    /// so that a test can see a client wait for the reset without waiting an hour.
    pub fn set_rate_limit(&self, remaining: u64, reset_in: std::time::Duration) {
        self.app.lock().rate.set(remaining, reset_in);
    }

    /// Posts a comment as someone other than the token's user, e.g. a stranger (`NONE`).
    /// Panics if the issue does not exist.
    pub fn comment_as(&self, issue: u64, login: &str, association: &str, body: &str) {
        issues::add_comment(&mut self.app.lock(), issue, login, association, body)
            .expect("comment_as: no such issue");
    }

    /// Submits a review of pull request `pull` as someone other than the token's user, with
    /// GitHub's `event` (`REQUEST_CHANGES`, `APPROVE`, `COMMENT`). Panics if it is refused.
    pub fn review_as(&self, pull: u64, login: &str, association: &str, event: &str, body: &str) {
        reviews::submit_as(&mut self.app.lock(), pull, login, association, event, body)
            .expect("review_as: refused");
    }

    /// Records that issue `blocker` blocks issue `blocked`, as GitHub's issue dependencies do
    /// (no request is made). Panics if GitHub would refuse it.
    pub fn add_blocked_by(&self, blocked: u64, blocker: u64) {
        dependencies::add(&mut self.app.lock(), blocked, blocker).expect("add_blocked_by: refused");
    }

    /// Locks the conversation of issue or pull request `number`, as a collaborator would: from
    /// then on GitHub takes comments only from collaborators with write access, never from an
    /// installation's token. Panics if there is no such issue.
    pub fn lock_issue(&self, number: u64) {
        let mut state = self.app.lock();
        let issue = state
            .issues
            .get_mut(&number)
            .expect("lock_issue: no such issue");
        issue.locked = true;
    }

    /// Opens `count` issues titled `Issue N` with `labels`, straight into the fake's state
    /// (no request is made or recorded): a large repository in an instant, for benchmarks.
    /// Returns their numbers.
    pub fn seed_issues(&self, count: u64, labels: &[&str]) -> Vec<u64> {
        let mut state = self.app.lock();
        let labels: Vec<String> = labels.iter().map(|name| state.ensure_label(name)).collect();
        (0..count)
            .map(|_| {
                let number = state.take_number();
                let now = state::timestamp();
                let issue = Issue {
                    id: state.take_id(),
                    number,
                    title: format!("Issue {number}"),
                    body: None,
                    state: IssueState::Open,
                    state_reason: None,
                    labels: labels.clone(),
                    assignees: Vec::new(),
                    author: self.app.options.login.clone(),
                    author_association: self.app.options.association.clone(),
                    created_at: now.clone(),
                    updated_at: now,
                    closed_at: None,
                    closed_by: None,
                    comments: 0,
                    locked: false,
                    pull: None,
                };
                state.issues.insert(number, issue);
                number
            })
            .collect()
    }

    /// Issues and pull requests by number. A pull request's branches are as the last API
    /// request read them: a push shows here once the API has been asked about it.
    pub fn issues(&self) -> Vec<Issue> {
        self.app.lock().issues.values().cloned().collect()
    }

    /// The issue or pull request of that number.
    pub fn issue(&self, number: u64) -> Option<Issue> {
        self.app.lock().issues.get(&number).cloned()
    }

    /// Pull requests only, by number.
    pub fn pulls(&self) -> Vec<Issue> {
        self.issues()
            .into_iter()
            .filter(|issue| issue.pull.is_some())
            .collect()
    }

    /// Every comment, oldest first.
    pub fn comments(&self) -> Vec<Comment> {
        self.app.lock().comments.clone()
    }

    /// The repository's labels, in creation order.
    pub fn labels(&self) -> Vec<Label> {
        self.app.lock().labels.clone()
    }

    /// Has `ci` decide CI on every push from now on: the first read of a commit's check runs
    /// after a branch came to point at it asks `ci` (once per commit and branch), and the
    /// check run it returns is reported from then on (`None`: CI does not run on that push).
    pub fn set_ci(&self, ci: impl Fn(&PushedCommit) -> Option<CiVerdict> + Send + Sync + 'static) {
        self.app.lock().checks.ci = Some(Arc::new(ci));
    }

    /// Every check run, oldest first.
    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.app.lock().checks.runs.clone()
    }

    /// Sets a commit status on `sha`, as `POST /statuses/{sha}` would (no request is made).
    pub fn set_status(&self, sha: &str, state: &str, context: &str, target_url: Option<&str>) {
        let mut app = self.app.lock();
        let id = app.take_id();
        app.checks.statuses.push(CommitStatus {
            id,
            sha: sha.to_string(),
            state: state.to_string(),
            context: context.to_string(),
            description: None,
            target_url: target_url.map(str::to_string),
            created_at: state::timestamp(),
        });
    }

    /// Has `runner` carry out every run created from now on. Without one a run stays
    /// queued for ever, as on a repository whose runners never come.
    pub fn set_runner(&self, runner: Arc<dyn runner_contract::Runner>) {
        let replaced = self.app.actions.lock().set_runner(runner);
        drop(replaced);
    }

    /// Makes a dispatch answer `204` even when asked for the run's details, as an older
    /// GitHub Enterprise Server does, so that a client must find its run by listing.
    pub fn set_dispatch_without_details(&self, without: bool) {
        self.app
            .actions
            .lock()
            .set_dispatch_without_details(without);
    }

    /// Disables the workflow in `.github/workflows/<file>`, as its settings page would.
    pub fn disable_workflow(&self, file: &str) {
        let path = format!("{}/{file}", actions::WORKFLOWS_DIR);
        self.app.actions.lock().disable(&path);
    }

    /// Starts a run of `.github/workflows/<file>` on the default branch with event
    /// `schedule`, as GitHub's scheduler would, handed to the runner like a dispatch; `None`
    /// if the workflow is disabled. Panics if there is no such workflow or it has no
    /// `schedule` trigger.
    pub async fn schedule(&self, file: &str) -> Option<u64> {
        let app = self.app.clone();
        let file = file.to_string();
        self.app
            .runtime
            .spawn(async move { actions::schedule(&app, &file).await })
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    }

    /// Every workflow run, oldest first.
    pub fn runs(&self) -> Vec<WorkflowRun> {
        self.app.actions.lock().runs()
    }

    /// The run of that id.
    pub fn run(&self, id: u64) -> Option<WorkflowRun> {
        self.app.actions.lock().run(id).cloned()
    }

    /// The run's jobs, in the order they started; none if there is no such run.
    pub fn jobs(&self, run: u64) -> Vec<Job> {
        self.run(run).map(|run| run.jobs).unwrap_or_default()
    }

    /// The run's job summaries, `(job, markdown)`, each as last reported.
    pub fn summaries(&self, run: u64) -> Vec<(String, String)> {
        self.run(run).map(|run| run.summaries).unwrap_or_default()
    }

    /// The artifacts the run uploaded.
    pub fn artifacts(&self, run: u64) -> Vec<Artifact> {
        self.run(run).map(|run| run.artifacts).unwrap_or_default()
    }
}
