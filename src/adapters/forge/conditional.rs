//! A forge whose listings are conditional requests: it remembers each listing's items and
//! validator, so reading an unchanged listing again costs the backend a "not modified" (on
//! GitHub, a `304` that spends no rate limit). Writes pass straight through; they change the
//! backend's validators, so the next read brings what they did.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::ports::Forge;
use crate::ports::forge::{
    Comment, ForgeError, ForgeResult, ForgeUsage, Issue, IssueFilter, IssueState, Label,
    LabelChange, Listing, MergeOutcome, NewIssue, NewPullRequest, NewReview, Number, PullRequest,
    PullRequestEdit, PullRequestFilter, Review, Validator,
};

/// The last answer to one listing request.
struct Remembered<F, T> {
    filter: F,
    validator: Validator,
    items: Vec<T>,
}

/// Remembered listings, one per filter; a poller asks for a handful of filters.
struct Listings<F, T>(Mutex<Vec<Remembered<F, T>>>);

impl<F: PartialEq + Clone, T: Clone> Listings<F, T> {
    fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Remembered<F, T>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn validator(&self, filter: &F) -> Option<Validator> {
        self.lock()
            .iter()
            .find(|r| &r.filter == filter)
            .map(|r| r.validator.clone())
    }

    /// The items `listing` stands for, remembering them if they are new.
    fn settle(&self, filter: &F, listing: Listing<T>) -> ForgeResult<Vec<T>> {
        let mut remembered = self.lock();
        let index = remembered.iter().position(|r| &r.filter == filter);
        Ok(match (listing, index) {
            (Listing::NotModified, Some(index)) => remembered[index].items.clone(),
            (Listing::NotModified, None) => {
                return Err(ForgeError::Backend(
                    "the forge answered \"not modified\" to a listing request that named no \
                     earlier answer"
                        .to_owned(),
                ));
            }
            (Listing::Modified { items, validator }, index) => {
                let fresh = Remembered {
                    filter: filter.clone(),
                    validator,
                    items: items.clone(),
                };
                match index {
                    Some(index) => remembered[index] = fresh,
                    None => remembered.push(fresh),
                }
                items
            }
        })
    }
}

pub struct ConditionalForge {
    inner: Arc<dyn Forge>,
    /// Read once: where work lands does not change under a running poller.
    default_branch: OnceCell<String>,
    issues: Listings<IssueFilter, Issue>,
    pull_requests: Listings<PullRequestFilter, PullRequest>,
}

impl ConditionalForge {
    pub fn new(inner: Arc<dyn Forge>) -> Self {
        Self {
            inner,
            default_branch: OnceCell::new(),
            issues: Listings::new(),
            pull_requests: Listings::new(),
        }
    }
}

#[async_trait]
impl Forge for ConditionalForge {
    async fn default_branch(&self) -> ForgeResult<String> {
        self.default_branch
            .get_or_try_init(|| self.inner.default_branch())
            .await
            .cloned()
    }
    async fn labels(&self) -> ForgeResult<Vec<Label>> {
        self.inner.labels().await
    }
    async fn ensure_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        self.inner.ensure_label(label).await
    }
    async fn create_issue(&self, new: &NewIssue) -> ForgeResult<Issue> {
        self.inner.create_issue(new).await
    }
    async fn issue(&self, number: Number) -> ForgeResult<Issue> {
        self.inner.issue(number).await
    }
    /// Read conditionally: the remembered items unless they changed.
    async fn issues(&self, filter: &IssueFilter) -> ForgeResult<Vec<Issue>> {
        let known = self.issues.validator(filter);
        let listing = self.inner.issues_if_changed(filter, known.as_ref()).await?;
        self.issues.settle(filter, listing)
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
        self.inner.create_comment(number, body).await
    }
    async fn comments(&self, number: Number) -> ForgeResult<Vec<Comment>> {
        self.inner.comments(number).await
    }
    async fn create_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        self.inner.create_pull_request(new).await
    }
    async fn pull_request(&self, number: Number) -> ForgeResult<PullRequest> {
        self.inner.pull_request(number).await
    }
    /// Read conditionally: the remembered items unless they changed.
    async fn pull_requests(&self, filter: &PullRequestFilter) -> ForgeResult<Vec<PullRequest>> {
        let known = self.pull_requests.validator(filter);
        let listing = self
            .inner
            .pull_requests_if_changed(filter, known.as_ref())
            .await?;
        self.pull_requests.settle(filter, listing)
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
        self.inner.edit_pull_request(number, edit).await
    }
    async fn reviews(&self, number: Number) -> ForgeResult<Vec<Review>> {
        self.inner.reviews(number).await
    }
    async fn own_login(&self) -> ForgeResult<Option<String>> {
        self.inner.own_login().await
    }
    async fn create_review(&self, number: Number, new: &NewReview) -> ForgeResult<Review> {
        self.inner.create_review(number, new).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn modified(items: &[u32], validator: &str) -> Listing<u32> {
        Listing::Modified {
            items: items.to_vec(),
            validator: Validator::new(validator),
        }
    }

    #[test]
    fn not_modified_answers_with_the_remembered_items_of_that_filter() {
        let listings: Listings<&str, u32> = Listings::new();
        assert_eq!(listings.validator(&"open"), None);
        assert_eq!(
            listings.settle(&"open", modified(&[1, 2], "v1")).unwrap(),
            [1, 2]
        );
        assert_eq!(
            listings.settle(&"all", modified(&[1, 2, 3], "v1")).unwrap(),
            [1, 2, 3]
        );
        assert_eq!(listings.validator(&"open"), Some(Validator::new("v1")));
        assert_eq!(
            listings.settle(&"open", Listing::NotModified).unwrap(),
            [1, 2]
        );
        assert_eq!(listings.settle(&"open", modified(&[2], "v2")).unwrap(), [2]);
        assert_eq!(listings.validator(&"open"), Some(Validator::new("v2")));
        assert_eq!(listings.settle(&"open", Listing::NotModified).unwrap(), [2]);
        assert_eq!(
            listings.settle(&"all", Listing::NotModified).unwrap(),
            [1, 2, 3]
        );
    }

    #[test]
    fn not_modified_without_an_earlier_answer_is_an_error() {
        let listings: Listings<&str, u32> = Listings::new();
        assert!(listings.settle(&"open", Listing::NotModified).is_err());
    }
}
