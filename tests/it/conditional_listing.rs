//! Conditional listings on the local forge: "not modified" while nothing changes, the new items
//! after any write that changes them, whichever connection or process writes.

use std::sync::Arc;

use clambake::adapters::forge::conditional::ConditionalForge;
use clambake::app::Workspace;
use clambake::ports::forge::{
    Issue, IssueFilter, IssueState, Label, Listing, NewIssue, NewPullRequest, PullRequestFilter,
    PullRequestState, Validator,
};
use clambake::ports::{Forge, SystemClock};

use crate::support::TestRepo;

async fn open(repo: &TestRepo) -> impl Forge + use<> {
    Workspace::discover(repo.path())
        .await
        .unwrap()
        .open_local_forge(Arc::new(SystemClock))
        .await
        .unwrap()
}

fn initialised() -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "1"]).success();
    repo
}

fn new_issue(title: &str) -> NewIssue {
    NewIssue {
        title: title.to_owned(),
        body: String::new(),
        labels: vec!["bug".to_owned()],
        assignees: vec!["someone".to_owned()],
    }
}

/// Follows one listing as a poller does: the validator from each read goes with the next.
struct Poller {
    filter: IssueFilter,
    validator: Option<Validator>,
}

impl Poller {
    /// Starts following `filter`; the first read always brings the items.
    async fn start(forge: &dyn Forge, filter: IssueFilter) -> (Self, Vec<Issue>) {
        let mut poller = Self {
            filter,
            validator: None,
        };
        let items = poller
            .poll(forge)
            .await
            .expect("a first read brings the items");
        (poller, items)
    }

    /// The items if they changed since the last read.
    async fn poll(&mut self, forge: &dyn Forge) -> Option<Vec<Issue>> {
        match forge
            .issues_if_changed(&self.filter, self.validator.as_ref())
            .await
            .unwrap()
        {
            Listing::NotModified => None,
            Listing::Modified { items, validator } => {
                self.validator = Some(validator);
                Some(items)
            }
        }
    }

    /// Asserts the listing changed, to what the plain listing returns, and is then stable.
    async fn changed(&mut self, forge: &dyn Forge, after: &str) -> Vec<Issue> {
        let items = self
            .poll(forge)
            .await
            .unwrap_or_else(|| panic!("not modified after {after}"));
        assert_eq!(items, forge.issues(&self.filter).await.unwrap(), "{after}");
        assert_eq!(self.poll(forge).await, None, "modified twice after {after}");
        items
    }
}

#[tokio::test]
async fn a_listing_is_not_modified_until_a_write_changes_it() {
    let repo = initialised();
    let forge = open(&repo).await;
    forge.create_issue(&new_issue("First")).await.unwrap();
    let (mut poller, items) = Poller::start(&forge, IssueFilter::open()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(poller.poll(&forge).await, None);
    // Reads change nothing.
    forge.issues(&IssueFilter::default()).await.unwrap();
    forge.issue(1).await.unwrap();
    forge.labels().await.unwrap();
    assert_eq!(poller.poll(&forge).await, None);

    forge.create_issue(&new_issue("Second")).await.unwrap();
    let items = poller.changed(&forge, "create_issue").await;
    assert_eq!(items[1].assignees, ["someone"]);

    forge
        .edit_labels(2, &["route:ready".to_owned()], &[])
        .await
        .unwrap();
    let items = poller.changed(&forge, "adding a label").await;
    assert!(items[1].has_label("route:ready"));

    forge
        .edit_labels(2, &[], &["bug".to_owned()])
        .await
        .unwrap();
    let items = poller.changed(&forge, "removing a label").await;
    assert!(!items[1].has_label("bug"));

    forge.create_comment(2, "A remark.").await.unwrap();
    poller.changed(&forge, "a comment").await;

    forge
        .ensure_label(&Label {
            name: "bug".to_owned(),
            color: "ff0000".to_owned(),
            description: "Broken".to_owned(),
        })
        .await
        .unwrap();
    poller.changed(&forge, "a label's colour").await;

    forge.set_issue_state(1, IssueState::Closed).await.unwrap();
    let items = poller.changed(&forge, "closing").await;
    assert_eq!(items.iter().map(|i| i.number).collect::<Vec<_>>(), [2]);

    forge.set_issue_state(1, IssueState::Open).await.unwrap();
    let items = poller.changed(&forge, "reopening").await;
    assert_eq!(items.len(), 2);

    repo.branch_with_file("feature", "main", "feature.txt", "new\n");
    let pr = forge
        .create_pull_request(&NewPullRequest {
            title: "Feature".to_owned(),
            body: "Closes #2".to_owned(),
            head: "feature".to_owned(),
            base: None,
        })
        .await
        .unwrap();
    poller.changed(&forge, "opening a pull request").await;

    forge.merge_pull_request(pr.number, None).await.unwrap();
    let items = poller.changed(&forge, "merging").await;
    assert_eq!(items.iter().map(|i| i.number).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn a_validator_holds_for_its_own_filter_only() {
    let repo = initialised();
    let forge = open(&repo).await;
    forge.create_issue(&new_issue("First")).await.unwrap();
    let (open_issues, _) = Poller::start(&forge, IssueFilter::open()).await;
    let mut all = Poller {
        filter: IssueFilter::default(),
        validator: open_issues.validator.clone(),
    };
    let numbers = |issues: Vec<Issue>| issues.iter().map(|i| i.number).collect::<Vec<_>>();
    assert_eq!(all.poll(&forge).await.map(numbers), Some(vec![1]));
    let mut labelled = Poller {
        filter: IssueFilter {
            state: Some(IssueState::Open),
            labels: vec!["bug".to_owned()],
        },
        validator: open_issues.validator,
    };
    assert_eq!(labelled.poll(&forge).await.map(numbers), Some(vec![1]));
    assert_eq!(labelled.poll(&forge).await, None);
}

#[tokio::test]
async fn writes_through_another_connection_show_in_the_next_read() {
    let repo = initialised();
    let reader = open(&repo).await;
    let writer = open(&repo).await;
    let (mut poller, items) = Poller::start(&reader, IssueFilter::open()).await;
    assert!(items.is_empty());
    writer.create_issue(&new_issue("Elsewhere")).await.unwrap();
    let items = poller
        .changed(&reader, "another connection's create_issue")
        .await;
    assert_eq!(items[0].title, "Elsewhere");
    writer
        .edit_labels(1, &["route:ready".to_owned()], &[])
        .await
        .unwrap();
    let items = poller.changed(&reader, "another connection's label").await;
    assert!(items[0].has_label("route:ready"));
}

#[tokio::test]
async fn writes_by_another_process_show_in_the_next_read() {
    let repo = initialised();
    let forge = open(&repo).await;
    let (mut poller, _) = Poller::start(&forge, IssueFilter::open()).await;

    repo.clambake(&["issue", "create", "--title", "From the CLI"])
        .success();
    let items = poller.changed(&forge, "`clambake issue create`").await;
    assert_eq!(items[0].title, "From the CLI");

    repo.clambake(&["issue", "label", "1", "--add", "route:ready"])
        .success();
    let items = poller.changed(&forge, "`clambake issue label`").await;
    assert!(items[0].has_label("route:ready"));

    repo.branch_with_file("fix", "main", "fix.txt", "fixed\n");
    repo.clambake(&[
        "pr",
        "create",
        "--head",
        "fix",
        "--title",
        "Fix",
        "--body",
        "Closes #1",
    ])
    .success();
    poller.changed(&forge, "`clambake pr create`").await;
    repo.clambake(&["pr", "merge", "2"]).success();
    let items = poller.changed(&forge, "`clambake pr merge`").await;
    assert!(items.is_empty(), "the merge closed #1");
}

#[tokio::test]
async fn a_pull_request_listing_changes_when_a_head_branch_moves() {
    let repo = initialised();
    let forge = open(&repo).await;
    let first = repo.branch_with_file("feature", "main", "feature.txt", "one\n");
    forge
        .create_pull_request(&NewPullRequest {
            title: "Feature".to_owned(),
            body: String::new(),
            head: "feature".to_owned(),
            base: None,
        })
        .await
        .unwrap();
    let open_prs = PullRequestFilter {
        state: Some(PullRequestState::Open),
        head: None,
    };
    let Listing::Modified { items, validator } = forge
        .pull_requests_if_changed(&open_prs, None)
        .await
        .unwrap()
    else {
        panic!("a first read brings the items");
    };
    assert_eq!(items[0].head_sha.as_deref(), Some(first.as_str()));
    assert_eq!(
        forge
            .pull_requests_if_changed(&open_prs, Some(&validator))
            .await
            .unwrap(),
        Listing::NotModified
    );

    let second = repo.branch_with_file("feature", "feature", "more.txt", "two\n");
    let Listing::Modified { items, .. } = forge
        .pull_requests_if_changed(&open_prs, Some(&validator))
        .await
        .unwrap()
    else {
        panic!("not modified after the head moved");
    };
    assert_eq!(items[0].head_sha.as_deref(), Some(second.as_str()));
}

#[tokio::test]
async fn a_conditional_forge_lists_what_the_forge_does_after_every_change() {
    let repo = initialised();
    let plain = Arc::new(open(&repo).await);
    let conditional = ConditionalForge::new(plain.clone());
    let all_issues = IssueFilter::default();
    let all_prs = PullRequestFilter::default();
    let agree = |after: &'static str| {
        let (plain, conditional) = (&plain, &conditional);
        let (all_issues, all_prs) = (&all_issues, &all_prs);
        async move {
            assert_eq!(
                conditional.issues(all_issues).await.unwrap(),
                plain.issues(all_issues).await.unwrap(),
                "{after}"
            );
            assert_eq!(
                conditional.pull_requests(all_prs).await.unwrap(),
                plain.pull_requests(all_prs).await.unwrap(),
                "{after}"
            );
        }
    };
    agree("nothing").await;
    repo.clambake(&["issue", "create", "--title", "One"])
        .success();
    agree("`issue create`").await;
    agree("nothing more").await;
    repo.clambake(&["issue", "label", "1", "--add", "route:ready"])
        .success();
    agree("`issue label`").await;
    repo.branch_with_file("fix", "main", "fix.txt", "fixed\n");
    repo.clambake(&[
        "pr",
        "create",
        "--head",
        "fix",
        "--title",
        "Fix",
        "--body",
        "Closes #1",
    ])
    .success();
    agree("`pr create`").await;
    repo.branch_with_file("fix", "fix", "fix.txt", "fixed again\n");
    agree("a push to the head").await;
    repo.clambake(&["pr", "merge", "2"]).success();
    agree("`pr merge`").await;
}
