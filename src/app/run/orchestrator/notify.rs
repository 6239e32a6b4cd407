//! What the loop tells `[notify] webhook_url`: its events mapped to notifications in one
//! place, handed to a task of their own through a bounded queue, so that a slow or dead
//! receiver never holds the loop up (a full queue drops the newest, and says so), and every
//! delivery that fails is logged.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::RunEvent;
use crate::app::trains::disposal::Disposition;
use crate::core::notify::{Links, Notification, NotificationEvent, StopReason};
use crate::core::text::redact::Redactor;
use crate::ports::Forge;
use crate::ports::notifier::Notifier;

/// How many notifications may wait for delivery.
const QUEUE: usize = 64;

/// How long the end of a run waits for the notifications still queued (its own among them).
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The notifications an event makes: none for most.
pub(super) fn notifications_of(event: &RunEvent, links: &Links) -> Vec<NotificationEvent> {
    match event {
        RunEvent::Disposed {
            issue,
            outcome,
            disposition: Disposition::Failed { attempts },
            ..
        } => vec![NotificationEvent::IssueFailed {
            issue: *issue,
            title: None,
            reason: outcome.clone(),
            attempts: *attempts,
            url: links.issue(*issue),
        }],
        // Work that can never merge: failed as well, whatever attempts are left.
        RunEvent::Disposed {
            issue,
            attempt,
            disposition: Disposition::Refused { why },
            ..
        } => vec![NotificationEvent::IssueFailed {
            issue: *issue,
            title: None,
            reason: format!("refused to land it: {why}"),
            attempts: *attempt,
            url: links.issue(*issue),
        }],
        // Over its attempt's or its own budget: failed, not retried.
        RunEvent::Disposed {
            issue,
            attempt,
            disposition: Disposition::OverBudget { scope },
            ..
        } if scope.ends_issue() => vec![NotificationEvent::IssueFailed {
            issue: *issue,
            title: None,
            reason: format!("budget: the {scope}'s budget is spent"),
            attempts: *attempt,
            url: links.issue(*issue),
        }],
        RunEvent::TrainDeparted { bundles, .. } => bundles
            .iter()
            .map(|bundle| NotificationEvent::BundleReady {
                number: bundle.number,
                url: links.pull_request(bundle.number),
                members: bundle.issues.clone(),
            })
            .collect(),
        RunEvent::BudgetReached {
            scope,
            spent_usd,
            limit_usd,
            until,
        } => vec![NotificationEvent::BudgetReached {
            scope: *scope,
            spent_usd: *spent_usd,
            limit_usd: *limit_usd,
            until: *until,
        }],
        RunEvent::Claimed { .. }
        | RunEvent::Adopted { .. }
        | RunEvent::Resumed { .. }
        | RunEvent::Disposed { .. }
        | RunEvent::Broken { .. }
        | RunEvent::Interrupted { .. }
        | RunEvent::ClaimLost { .. }
        | RunEvent::Parked { .. }
        | RunEvent::StuckStopped { .. }
        | RunEvent::ForceReset { .. }
        | RunEvent::RateLimited { .. }
        | RunEvent::DependencyCycle { .. }
        | RunEvent::ClaimingPaused { .. }
        | RunEvent::ClaimingResumed
        | RunEvent::BudgetRenewed { .. } => Vec::new(),
    }
}

/// The queue to the delivering task; off (every call does nothing) until started.
#[derive(Default)]
pub(super) struct Notifications {
    started: Option<Started>,
}

struct Started {
    links: Links,
    queue: mpsc::Sender<Notification>,
    worker: JoinHandle<()>,
}

impl Notifications {
    /// Delivers through `notifier` from now on; `forge` gives a failed issue's title and
    /// `redactor` takes secrets out of every text sent.
    pub(super) fn start(
        notifier: Arc<dyn Notifier>,
        forge: Arc<dyn Forge>,
        links: Links,
        redactor: Redactor,
    ) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let worker = tokio::spawn(deliver(waiting, notifier, forge, redactor));
        Self {
            started: Some(Started {
                links,
                queue,
                worker,
            }),
        }
    }

    /// Queues what `event` makes, if anything.
    pub(super) fn observe(&self, event: &RunEvent, at: Timestamp) {
        if let Some(started) = &self.started {
            for made in notifications_of(event, &started.links) {
                started.send(made, at);
            }
        }
    }

    /// Queues the run's end, then waits for what is queued to be delivered, for
    /// [`FLUSH_LIMIT`] at most: whatever is left then is given up, and said to be.
    pub(super) async fn stopped(&mut self, why: StopReason, reason: Option<String>, at: Timestamp) {
        let Some(started) = self.started.take() else {
            return;
        };
        started.send(NotificationEvent::RunStopped { why, reason }, at);
        let Started { queue, worker, .. } = started;
        drop(queue);
        let abort = worker.abort_handle();
        if tokio::time::timeout(FLUSH_LIMIT, worker).await.is_err() {
            abort.abort();
            tracing::warn!(
                "gave up on the notifications not delivered within {}s of the run's end",
                FLUSH_LIMIT.as_secs()
            );
        }
    }
}

impl Started {
    fn send(&self, event: NotificationEvent, at: Timestamp) {
        let name = event.name();
        let notification = Notification::new(event, &self.links, at);
        if self.queue.try_send(notification).is_err() {
            tracing::warn!("the notification queue is full: the {name} notification was dropped");
        }
    }
}

/// Delivers the queued notifications one by one until the queue closes, logging each that
/// fails.
async fn deliver(
    mut waiting: mpsc::Receiver<Notification>,
    notifier: Arc<dyn Notifier>,
    forge: Arc<dyn Forge>,
    redactor: Redactor,
) {
    while let Some(mut notification) = waiting.recv().await {
        complete(&mut notification.event, forge.as_ref(), &redactor).await;
        if let Err(error) = notifier.notify(&notification).await {
            tracing::warn!("{error}");
        }
    }
}

/// Fills in a failed issue's title (left out if the forge cannot say), and redacts secrets
/// from the texts.
async fn complete(event: &mut NotificationEvent, forge: &dyn Forge, redactor: &Redactor) {
    let redact = |text: &mut String| *text = redactor.redact(text).into_owned();
    match event {
        NotificationEvent::IssueFailed {
            issue,
            title,
            reason,
            ..
        } => {
            match forge.issue(*issue).await {
                Ok(found) => *title = Some(redactor.redact(&found.title).into_owned()),
                Err(error) => tracing::warn!(issue, %error, "no title for the notification"),
            }
            redact(reason);
        }
        NotificationEvent::RunStopped {
            reason: Some(reason),
            ..
        } => redact(reason),
        NotificationEvent::BundleReady { .. }
        | NotificationEvent::BudgetReached { .. }
        | NotificationEvent::RunStopped { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::run::orchestrator::PullRequestOpened;

    fn disposed(disposition: Disposition) -> RunEvent {
        RunEvent::Disposed {
            agent: "agent001".to_owned(),
            issue: 4,
            attempt: 2,
            outcome: "crash".to_owned(),
            disposition,
        }
    }

    #[test]
    fn an_issue_that_failed_for_good_is_told_and_a_retry_is_not() {
        let links = Links::github("https://github.com", "o", "r");
        assert_eq!(
            notifications_of(&disposed(Disposition::Failed { attempts: 2 }), &links),
            [NotificationEvent::IssueFailed {
                issue: 4,
                title: None,
                reason: "crash".to_owned(),
                attempts: 2,
                url: Some("https://github.com/o/r/issues/4".to_owned()),
            }]
        );
        let retrying = Disposition::Retrying {
            not_before: "2026-12-02T01:00:00Z".parse().unwrap(),
            attempt: 1,
        };
        assert_eq!(notifications_of(&disposed(retrying), &links), []);
    }

    #[test]
    fn a_spent_budget_is_told_and_its_renewal_is_not() {
        use crate::core::budget::BudgetScope;
        let links = Links::local("project");
        let until = "2026-12-03T00:00:00Z".parse().unwrap();
        let reached = RunEvent::BudgetReached {
            scope: BudgetScope::Day,
            spent_usd: 20.5,
            limit_usd: 20.0,
            until: Some(until),
        };
        assert_eq!(
            notifications_of(&reached, &links),
            [NotificationEvent::BudgetReached {
                scope: BudgetScope::Day,
                spent_usd: 20.5,
                limit_usd: 20.0,
                until: Some(until),
            }]
        );
        let message = serde_json::to_value(Notification::new(
            notifications_of(&reached, &links).remove(0),
            &links,
            until,
        ))
        .unwrap();
        assert_eq!(message["event"], "budget_reached");
        assert_eq!(message["scope"], "day");
        let over = |scope| disposed(Disposition::OverBudget { scope });
        assert_eq!(
            notifications_of(&over(BudgetScope::Issue), &links),
            [NotificationEvent::IssueFailed {
                issue: 4,
                title: None,
                reason: "budget: the issue's budget is spent".to_owned(),
                attempts: 2,
                url: None,
            }]
        );
        assert_eq!(
            notifications_of(&over(BudgetScope::Day), &links),
            [],
            "returned to the queue, not failed"
        );
        let renewed = RunEvent::BudgetRenewed {
            scope: BudgetScope::Day,
        };
        assert_eq!(notifications_of(&renewed, &links), []);
    }

    #[test]
    fn each_bundle_of_a_train_is_told_and_a_branch_alone_is_not() {
        let links = Links::local("project");
        let opened = |number, issues: &[u64]| PullRequestOpened {
            number,
            issues: issues.to_vec(),
            why: None,
        };
        let train = RunEvent::TrainDeparted {
            bundles: vec![opened(9, &[1, 2]), opened(10, &[3, 5])],
            individual: vec![opened(11, &[4])],
            waiting: Vec::new(),
        };
        assert_eq!(
            notifications_of(&train, &links),
            [
                NotificationEvent::BundleReady {
                    number: 9,
                    url: None,
                    members: vec![1, 2],
                },
                NotificationEvent::BundleReady {
                    number: 10,
                    url: None,
                    members: vec![3, 5],
                },
            ]
        );
    }
}
