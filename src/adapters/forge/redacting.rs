//! A forge that redacts every secret Clambake knows from each title, body and comment before
//! it is written: on GitHub those texts are public, and some of them quote agents' logs.

use std::sync::Arc;

use async_trait::async_trait;

use crate::core::text::redact::Redactor;
use crate::ports::Forge;
use crate::ports::forge::{
    Comment, ForgeResult, ForgeUsage, Issue, IssueFilter, IssueState, Label, LabelChange, Listing,
    MergeOutcome, NewIssue, NewPullRequest, NewReview, Number, PullRequest, PullRequestEdit,
    PullRequestFilter, Review, Validator,
};

pub struct RedactingForge {
    inner: Arc<dyn Forge>,
    redactor: Redactor,
}

impl RedactingForge {
    pub fn new(inner: Arc<dyn Forge>, redactor: Redactor) -> Self {
        Self { inner, redactor }
    }

    fn clean(&self, text: &str) -> String {
        self.redactor.redact(text).into_owned()
    }
}

#[async_trait]
impl Forge for RedactingForge {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.inner.default_branch().await
    }
    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.inner.labels().await
    }
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        self.inner.ensure_label(label).await
    }
    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        let new = NewIssue {
            title: self.clean(&new.title),
            body: self.clean(&new.body),
            ..new.clone()
        };
        self.inner.create_issue(&new).await
    }
    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.inner.issue(number).await
    }
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        self.inner.issues(filter).await
    }
    async fn issues_if_changed(
        &self,
        filter: &IssueFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<Issue>> {
        self.inner.issues_if_changed(filter, known).await
    }
    async fn edit_labels(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        self.inner.edit_labels(number, add, remove).await
    }
    async fn set_issue_state(&self, number: Number, state: IssueState) -> ForgeResult<Issue> {
        self.inner.set_issue_state(number, state).await
    }
    async fn create_comment(&self, number: Number, body: &str) -> ForgeResult<Comment> {
        self.inner.create_comment(number, &self.clean(body)).await
    }
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        self.inner.comments(number).await
    }
    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        let new = NewPullRequest {
            title: self.clean(&new.title),
            body: self.clean(&new.body),
            ..new.clone()
        };
        self.inner.create_pull_request(&new).await
    }
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.inner.pull_request(number).await
    }
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        self.inner.pull_requests(filter).await
    }
    async fn pull_requests_if_changed(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        self.inner.pull_requests_if_changed(filter, known).await
    }
    async fn merge_pull_request(
        &self,
        number: Number,
        expected_head: Option<&str>,
    ) -> ForgeResult<MergeOutcome> {
        self.inner.merge_pull_request(number, expected_head).await
    }
    async fn close_pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.inner.close_pull_request(number).await
    }
    async fn edit_pull_request(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest> {
        let edit = PullRequestEdit {
            title: self.clean(&edit.title),
            body: self.clean(&edit.body),
        };
        self.inner.edit_pull_request(number, &edit).await
    }
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.inner.reviews(number).await
    }
    async fn own_login(&self) -> ForgeResult<Option<String>> {
        self.inner.own_login().await
    }
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        let new = NewReview {
            state: new.state,
            body: self.clean(&new.body),
        };
        self.inner.create_review(number, &new).await
    }
    async fn blocked_by(&self, number: Number) -> ForgeResult<Vec<Number>> {
        self.inner.blocked_by(number).await
    }
    fn usage(&self) -> ForgeUsage {
        self.inner.usage()
    }
    fn shows_mentions(&self) -> bool {
        self.inner.shows_mentions()
    }
}
