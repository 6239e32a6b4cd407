//! The local forge's listing validators: one listing filter at one version of one database.
//! Equal validators mean the listing would return the same items.

use crate::ports::forge::{
    IssueFilter, IssueState, Number, PullRequestFilter, PullRequestState, Validator,
};

/// Where the listings stand: the database's epoch (fresh whenever the file is recreated) and
/// its listing version (bumped by every write to what a listing returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingVersion {
    pub epoch: String,
    pub version: i64,
}

/// The validator of the issue listing for `filter` at `at`. Label matching ignores ASCII case
/// and order, so filters that list the same issues get the same validator.
pub fn issue_listing(at: &ListingVersion, filter: &IssueFilter) -> Validator {
    let mut labels: Vec<String> = filter
        .labels
        .iter()
        .map(|l| l.to_ascii_lowercase())
        .collect();
    labels.sort_unstable();
    labels.dedup();
    let state = filter.state.map(IssueState::as_str);
    // JSON keeps label names containing separators from colliding with other filters.
    let filter = serde_json::json!(["issues", state, labels]);
    Validator::new(format!("{}.{}.{filter}", at.epoch, at.version))
}

/// The validator of the pull request listing for `filter` at `at`, where `heads` are the live
/// head tips of the open pull requests listed: they live in git, not in the database.
pub fn pull_request_listing(
    at: &ListingVersion,
    filter: &PullRequestFilter,
    heads: &[(Number, Option<&str>)],
) -> Validator {
    let state = filter.state.map(PullRequestState::as_str);
    let listing = serde_json::json!(["pull_requests", state, filter.head, heads]);
    Validator::new(format!("{}.{}.{listing}", at.epoch, at.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: &str, version: i64) -> ListingVersion {
        ListingVersion {
            epoch: epoch.to_owned(),
            version,
        }
    }

    fn filter(state: Option<IssueState>, labels: &[&str]) -> IssueFilter {
        IssueFilter {
            state,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_same_filter_at_the_same_version_has_the_same_validator() {
        let open = IssueFilter::open();
        assert_eq!(
            issue_listing(&at("e1", 7), &open),
            issue_listing(&at("e1", 7), &open)
        );
    }

    #[test]
    fn another_version_or_epoch_changes_the_validator() {
        let open = IssueFilter::open();
        let base = issue_listing(&at("e1", 7), &open);
        assert_ne!(base, issue_listing(&at("e1", 8), &open));
        assert_ne!(base, issue_listing(&at("e2", 7), &open));
    }

    #[test]
    fn another_filter_changes_the_validator() {
        let at = at("e1", 7);
        let validators = [
            issue_listing(&at, &filter(Some(IssueState::Open), &[])),
            issue_listing(&at, &filter(Some(IssueState::Closed), &[])),
            issue_listing(&at, &filter(None, &[])),
            issue_listing(&at, &filter(None, &["a"])),
            issue_listing(&at, &filter(None, &["a", "b"])),
            issue_listing(&at, &filter(None, &["a,b"])),
            issue_listing(&at, &filter(None, &["a\",\"b"])),
        ];
        for (i, a) in validators.iter().enumerate() {
            for b in &validators[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn pull_request_listings_differ_by_filter_version_and_head_tips() {
        let open = PullRequestFilter {
            state: Some(PullRequestState::Open),
            head: None,
        };
        let from = |head: &str| PullRequestFilter {
            state: None,
            head: Some(head.to_owned()),
        };
        let base = pull_request_listing(&at("e1", 3), &open, &[(4, Some("abc"))]);
        assert_eq!(
            base,
            pull_request_listing(&at("e1", 3), &open, &[(4, Some("abc"))])
        );
        let others = [
            pull_request_listing(&at("e1", 4), &open, &[(4, Some("abc"))]),
            pull_request_listing(&at("e1", 3), &open, &[(4, Some("abd"))]),
            pull_request_listing(&at("e1", 3), &open, &[(4, None)]),
            pull_request_listing(&at("e1", 3), &open, &[]),
            pull_request_listing(&at("e1", 3), &from("x"), &[(4, Some("abc"))]),
            pull_request_listing(
                &at("e1", 3),
                &PullRequestFilter::default(),
                &[(4, Some("abc"))],
            ),
            issue_listing(&at("e1", 3), &IssueFilter::open()),
        ];
        for other in &others {
            assert_ne!(&base, other);
        }
    }

    #[test]
    fn label_case_order_and_repeats_do_not_change_the_validator() {
        let at = at("e1", 7);
        assert_eq!(
            issue_listing(&at, &filter(None, &["Bug", "route:ready"])),
            issue_listing(&at, &filter(None, &["route:ready", "bug", "BUG"]))
        );
    }
}
