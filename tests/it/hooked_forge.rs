//! A forge for tests: a real one with a hook around every call, to refuse calls, lose their
//! replies or log them, without each test writing out the whole `Forge` trait.

use std::sync::Arc;

use async_trait::async_trait;
use clambake::ports::forge::{
    Comment, Forge, ForgeError, ForgeResult, ForgeUsage, Issue, IssueFilter, IssueState, Label,
    LabelChange, Listing, MergeOutcome, NewIssue, NewPullRequest, NewReview, Number, PullRequest,
    PullRequestEdit, PullRequestFilter, Review, Validator,
};

/// What becomes of one call.
pub enum Verdict {
    /// It reaches the forge and its answer comes back.
    Pass,
    /// It fails without reaching the forge.
    Refuse(ForgeError),
    /// The forge does it, but the reply is lost: the caller gets the error.
    LoseReply(ForgeError),
}

pub trait Hook: Send + Sync {
    /// Decides the fate of the call `name` (the trait method's name), before it is made.
    fn before(&self, name: &'static str, number: Option<Number>) -> Verdict;

    /// Sees what a conditional listing that reached the forge answered.
    fn listed(&self, _name: &'static str, _modified: bool) {}

    /// Rewrites the comments an issue's `comments` call answered with, as another forge would
    /// have them (their authors' associations, say).
    fn answered_comments(&self, _comments: &mut [Comment]) {}

    /// The usage the forge reports, if the hook keeps its own count; else the inner forge's.
    fn usage(&self) -> Option<ForgeUsage> {
        None
    }
}

/// `inner`, with `hook` around every call.
pub struct Hooked<H> {
    pub inner: Arc<dyn Forge>,
    pub hook: H,
}

impl<H: Hook> Hooked<H> {
    async fn call<T>(
        &self,
        name: &'static str,
        number: Option<Number>,
        call: impl Future<Output = ForgeResult<T>>,
    ) -> ForgeResult<T> {
        match self.hook.before(name, number) {
            Verdict::Pass => call.await,
            Verdict::Refuse(error) => Err(error),
            Verdict::LoseReply(error) => call.await.and_then(|_| Err(error)),
        }
    }

    async fn listing<T>(
        &self,
        name: &'static str,
        call: impl Future<Output = ForgeResult<Listing<T>>>,
    ) -> ForgeResult<Listing<T>> {
        let listing = self.call(name, None, call).await?;
        self.hook
            .listed(name, matches!(listing, Listing::Modified { .. }));
        Ok(listing)
    }
}

#[async_trait]
impl<H: Hook> Forge for Hooked<H> {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.call("default_branch", None, self.inner.default_branch())
            .await
    }
    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.call("labels", None, self.inner.labels()).await
    }
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        self.call("ensure_label", None, self.inner.ensure_label(label))
            .await
    }
    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        self.call("create_issue", None, self.inner.create_issue(new))
            .await
    }
    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.call("issue", Some(number), self.inner.issue(number))
            .await
    }
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        self.call("issues", None, self.inner.issues(filter)).await
    }
    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        self.listing(
            "issues_if_changed",
            self.inner.issues_if_changed(filter, known),
        )
        .await
    }
    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        self.call(
            "edit_labels",
            Some(number),
            self.inner.edit_labels(number, add, remove),
        )
        .await
    }
    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue> {
        self.call(
            "set_issue_state",
            Some(number),
            self.inner.set_issue_state(number, state),
        )
        .await
    }
    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        self.call(
            "create_comment",
            Some(number),
            self.inner.create_comment(number, body),
        )
        .await
    }
    async fn blocked_by(&self, number: Number) -> ForgeResult<Vec<Number>> {
        self.call("blocked_by", Some(number), self.inner.blocked_by(number))
            .await
    }
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        let mut comments = self
            .call("comments", Some(number), self.inner.comments(number))
            .await?;
        self.hook.answered_comments(&mut comments);
        Ok(comments)
    }
    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        self.call(
            "create_pull_request",
            None,
            self.inner.create_pull_request(new),
        )
        .await
    }
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.call(
            "pull_request",
            Some(number),
            self.inner.pull_request(number),
        )
        .await
    }
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        self.call("pull_requests", None, self.inner.pull_requests(filter))
            .await
    }
    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        self.listing(
            "pull_requests_if_changed",
            self.inner.pull_requests_if_changed(filter, known),
        )
        .await
    }
    async fn merge_pull_request(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome> {
        self.call(
            "merge_pull_request",
            Some(number),
            self.inner.merge_pull_request(number, expected_head),
        )
        .await
    }
    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.call(
            "close_pull_request",
            Some(number),
            self.inner.close_pull_request(number),
        )
        .await
    }
    async fn edit_pull_request(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest> {
        self.call(
            "edit_pull_request",
            Some(number),
            self.inner.edit_pull_request(number, edit),
        )
        .await
    }
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.call("reviews", Some(number), self.inner.reviews(number))
            .await
    }
    async fn own_login(&self) -> ForgeResult<Option<String>> {
        self.call("own_login", None, self.inner.own_login()).await
    }
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        self.call(
            "create_review",
            Some(number),
            self.inner.create_review(number, new),
        )
        .await
    }
    fn usage(&self) -> ForgeUsage {
        self.hook.usage().unwrap_or_else(|| self.inner.usage())
    }
}
