//! An idle run loop polls the forge with conditional reads only: every pass in which nothing
//! changed costs one "not modified" per listing it looks at, and a change made by another
//! process is read in full once, at the next pass.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::lifecycle::open_journal;
use clambake::app::orchestrator::{Orchestrator, RunSettings, StopWhen};
use clambake::ports::forge::{
    Comment, Forge, ForgeResult, Issue, IssueFilter, IssueState, Label, LabelChange, Listing,
    MergeOutcome, NewIssue, NewPullRequest, Number, PullRequest, PullRequestFilter, Validator,
};
use clambake::ports::{Clock, SystemClock};

use crate::support::TestRepo;

/// Conditional reads that came back "not modified".
const NOT_MODIFIED: &str = "issues_if_changed: not modified";
const PULLS_NOT_MODIFIED: &str = "pull_requests_if_changed: not modified";
/// Conditional reads that brought the items.
const MODIFIED: &str = "issues_if_changed: modified";
const PULLS_MODIFIED: &str = "pull_requests_if_changed: modified";

/// The local forge, logging every call by name.
struct Logged {
    inner: Arc<dyn Forge>,
    calls: Mutex<Vec<&'static str>>,
}

impl Logged {
    fn log(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }

    /// The calls since the last time this was asked.
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl Forge for Logged {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.log("default_branch");
        self.inner.default_branch().await
    }
    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.log("labels");
        self.inner.labels().await
    }
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        self.log("ensure_label");
        self.inner.ensure_label(label).await
    }
    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        self.log("create_issue");
        self.inner.create_issue(new).await
    }
    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.log("issue");
        self.inner.issue(number).await
    }
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        self.log("issues");
        self.inner.issues(filter).await
    }
    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        let listing = self.inner.issues_if_changed(filter, known).await?;
        self.log(match listing {
            Listing::NotModified => NOT_MODIFIED,
            Listing::Modified { .. } => MODIFIED,
        });
        Ok(listing)
    }
    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        self.log("edit_labels");
        self.inner.edit_labels(number, add, remove).await
    }
    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue> {
        self.log("set_issue_state");
        self.inner.set_issue_state(number, state).await
    }
    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        self.log("create_comment");
        self.inner.create_comment(number, body).await
    }
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        self.log("comments");
        self.inner.comments(number).await
    }
    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        self.log("create_pull_request");
        self.inner.create_pull_request(new).await
    }
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.log("pull_request");
        self.inner.pull_request(number).await
    }
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        self.log("pull_requests");
        self.inner.pull_requests(filter).await
    }
    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        let listing = self.inner.pull_requests_if_changed(filter, known).await?;
        self.log(match listing {
            Listing::NotModified => PULLS_NOT_MODIFIED,
            Listing::Modified { .. } => PULLS_MODIFIED,
        });
        Ok(listing)
    }
    async fn merge_pull_request(&self, number: Number) -> ForgeResult<MergeOutcome> {
        self.log("merge_pull_request");
        self.inner.merge_pull_request(number).await
    }
    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.log("close_pull_request");
        self.inner.close_pull_request(number).await
    }
}

/// Waits until the loop has logged a call satisfying `seen`, returning the calls so far.
async fn calls_until(forge: &Logged, seen: impl Fn(&[&str]) -> bool) -> Vec<&'static str> {
    let mut calls = Vec::new();
    for _ in 0..500 {
        calls.extend(forge.take());
        if seen(&calls) {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the loop never made the expected calls; it made {calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_loop_polls_with_conditional_reads_that_are_not_modified() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo.clambake(&["issue", "create", "--title", "Not queued"])
        .success();
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let config = workspace.load_config().unwrap().config;
    let forge = Arc::new(Logged {
        inner: workspace.open_forge(config.forge.backend).await.unwrap(),
        calls: Mutex::default(),
    });
    let mut settings = RunSettings::from_config(&config);
    settings.poll_interval = Duration::from_millis(20);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut orchestrator = Orchestrator::new(
        workspace.clone(),
        config,
        forge.clone(),
        Arc::new(open_journal(&workspace).unwrap()),
        Arc::new(SimulatedRuntime),
        clock,
        settings,
    )
    .await
    .unwrap();
    let (signals, shutdown) = tokio::sync::watch::channel(0);
    let running =
        tokio::spawn(async move { orchestrator.run(StopWhen::Never, shutdown, false).await });

    // Start-up reads every listing in full once (and checks for drift); then passes go idle.
    // A pass makes at most six listing reads: past ten "not modified", the first one is over.
    calls_until(&forge, |calls| {
        calls.iter().filter(|c| **c == NOT_MODIFIED).count() >= 10
    })
    .await;
    let idle = calls_until(&forge, |calls| calls.len() >= 30).await;
    assert!(
        idle.iter()
            .all(|c| [NOT_MODIFIED, PULLS_NOT_MODIFIED].contains(c)),
        "idle passes made other calls: {idle:?}"
    );

    // Another process changes the forge: the next pass reads each listing in full once, and
    // then the passes are idle again.
    repo.clambake(&["issue", "create", "--title", "Also not queued"])
        .success();
    let changed = calls_until(&forge, |calls| {
        calls.iter().skip_while(|c| **c != MODIFIED).count() > 30
    })
    .await;
    assert!(
        changed
            .iter()
            .all(|c| [MODIFIED, NOT_MODIFIED, PULLS_MODIFIED, PULLS_NOT_MODIFIED].contains(c)),
        "the pass after the change made other calls: {changed:?}"
    );
    let (last_modified, _) = changed
        .iter()
        .enumerate()
        .rfind(|(_, c)| [MODIFIED, PULLS_MODIFIED].contains(c))
        .unwrap();
    assert!(
        changed.len() - last_modified > 20,
        "the passes after the change did not go idle: {changed:?}"
    );

    signals.send(1).unwrap();
    running.await.unwrap().unwrap();
}
