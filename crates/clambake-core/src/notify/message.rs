//! The message a webhook receives: one JSON object per event, its schema versioned so that a
//! receiver can tell a change. Text from others (an issue's title, an error) is a JSON string
//! and nothing else: never markup a receiver would act on.

use jiff::Timestamp;
use serde::Serialize;

use crate::budget::BudgetScope;

/// The schema's version, the `version` of every message: raised when a field changes meaning
/// or goes away (new fields and events may come without it).
pub const VERSION: u32 = 1;

/// One message: what happened, in which repository, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub version: u32,
    #[serde(flatten)]
    pub event: NotificationEvent,
    /// `owner/repo` on GitHub, the repository directory's name with the local forge.
    pub repository: String,
    pub at: Timestamp,
}

impl Notification {
    pub fn new(event: NotificationEvent, links: &Links, at: Timestamp) -> Self {
        Self {
            version: VERSION,
            event,
            repository: links.repository.clone(),
            at,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NotificationEvent {
    /// An issue's last attempt failed: it is labelled `route:failed`, its work kept on its
    /// branch.
    IssueFailed {
        issue: u64,
        /// `None` when the forge could not be asked for it.
        title: Option<String>,
        /// How the last attempt ended (`crashed`, `timed_out`, `checks_failed`, ...).
        reason: String,
        attempts: u32,
        /// The issue's page; `None` with the local forge, which has none.
        url: Option<String>,
    },
    /// A bundle pull request was opened and waits for review.
    BundleReady {
        number: u64,
        url: Option<String>,
        /// The issues it closes.
        members: Vec<u64>,
    },
    /// A day's or a run's budget is spent (`spent_usd` of `limit_usd`): nothing more is
    /// claimed until `until` (the next UTC midnight, for a day's), or for the rest of the run.
    BudgetReached {
        scope: BudgetScope,
        spent_usd: f64,
        limit_usd: f64,
        until: Option<Timestamp>,
    },
    /// The run ended.
    RunStopped {
        why: StopReason,
        /// What went wrong, when `why` is `error`.
        reason: Option<String>,
    },
}

impl NotificationEvent {
    /// The event's name, as in the message.
    pub fn name(&self) -> &'static str {
        match self {
            Self::IssueFailed { .. } => "issue_failed",
            Self::BundleReady { .. } => "bundle_ready",
            Self::BudgetReached { .. } => "budget_reached",
            Self::RunStopped { .. } => "run_stopped",
        }
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `run --until-idle`: nothing was left ready, retrying or in flight.
    Idle,
    /// `run --once`: its one round was done.
    Finished,
    /// A signal (Ctrl-C, `systemctl stop`).
    Signal,
    /// A fault that lasted, or an agent CLI that cannot work here.
    Error,
}

/// The repository a message names, and the pages of its issues and pull requests where the
/// forge has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub repository: String,
    /// The repository's web page (`https://github.com/owner/repo`); `None` with the local forge.
    pub web: Option<String>,
}

impl Links {
    /// A repository on GitHub, whose web site is at `web_root` (`https://github.com`).
    pub fn github(web_root: &str, owner: &str, repo: &str) -> Self {
        Self {
            repository: format!("{owner}/{repo}"),
            web: Some(format!("{}/{owner}/{repo}", web_root.trim_end_matches('/'))),
        }
    }

    /// A repository with the local forge, named as its directory is.
    pub fn local(name: &str) -> Self {
        Self {
            repository: name.to_owned(),
            web: None,
        }
    }

    pub fn issue(&self, number: u64) -> Option<String> {
        self.web
            .as_ref()
            .map(|web| format!("{web}/issues/{number}"))
    }

    pub fn pull_request(&self, number: u64) -> Option<String> {
        self.web.as_ref().map(|web| format!("{web}/pull/{number}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at() -> Timestamp {
        "2026-12-02T01:02:03Z".parse().unwrap()
    }

    #[test]
    fn an_issue_failed_message_carries_its_title_as_plain_json_text() {
        let links = Links::github("https://github.com/", "o", "r");
        let title = "<!channel> \"quoted\" *bold* `code`\n".to_owned();
        let event = NotificationEvent::IssueFailed {
            issue: 12,
            title: Some(title.clone()),
            reason: "crash".to_owned(),
            attempts: 3,
            url: links.issue(12),
        };
        assert_eq!(event.name(), "issue_failed");
        let message = serde_json::to_value(Notification::new(event, &links, at())).unwrap();
        assert_eq!(
            message,
            json!({
                "version": 1,
                "event": "issue_failed",
                "repository": "o/r",
                "at": "2026-12-02T01:02:03Z",
                "issue": 12,
                "title": title,
                "reason": "crash",
                "attempts": 3,
                "url": "https://github.com/o/r/issues/12",
            })
        );
    }

    #[test]
    fn a_bundle_message_names_its_members_and_has_no_url_on_the_local_forge() {
        let links = Links::local("project");
        let event = NotificationEvent::BundleReady {
            number: 7,
            url: links.pull_request(7),
            members: vec![1, 2],
        };
        let message = serde_json::to_value(Notification::new(event, &links, at())).unwrap();
        assert_eq!(
            message,
            json!({
                "version": 1,
                "event": "bundle_ready",
                "repository": "project",
                "at": "2026-12-02T01:02:03Z",
                "number": 7,
                "url": null,
                "members": [1, 2],
            })
        );
    }

    #[test]
    fn a_run_stopped_message_says_why() {
        let links = Links::github("https://ghe.example", "o", "r");
        assert_eq!(
            links.pull_request(3).as_deref(),
            Some("https://ghe.example/o/r/pull/3")
        );
        let event = NotificationEvent::RunStopped {
            why: StopReason::Error,
            reason: Some("the forge is unreachable".to_owned()),
        };
        let message = serde_json::to_value(Notification::new(event, &links, at())).unwrap();
        assert_eq!(message["event"], "run_stopped");
        assert_eq!(message["why"], "error");
        assert_eq!(message["reason"], "the forge is unreachable");
    }
}
