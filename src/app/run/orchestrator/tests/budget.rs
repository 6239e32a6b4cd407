//! Budgets in the loop, with the simulated agent (which reports what it costs, `simulate:
//! cost N`) and a clock the tests move.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use super::orchestrator;
use crate::app::run::orchestrator::{Orchestrator, RunEvent, StopWhen};
use crate::app::trains::disposal::Disposition;
use crate::core::budget::BudgetScope;
use crate::core::queue::labels;
use crate::ports::Clock;
use crate::ports::forge::NewIssue;
use crate::ports::journal::AttemptRecord;

/// A clock that stands still until a test moves it.
struct Manual(Mutex<Timestamp>);

impl Clock for Manual {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

async fn ready_issue(orchestrator: &Orchestrator, body: &str) -> u64 {
    let issue = NewIssue {
        title: "Task".to_owned(),
        body: body.to_owned(),
        labels: vec![labels::READY.to_owned()],
        ..NewIssue::default()
    };
    orchestrator
        .forge
        .create_issue(&issue)
        .await
        .unwrap()
        .number
}

/// Runs the loop until it stops by itself.
async fn run(orchestrator: &mut Orchestrator, stop_when: StopWhen) {
    orchestrator.settings.poll_interval = Duration::from_millis(200);
    let (_signals, shutdown) = watch::channel(0);
    let ran = orchestrator.run(stop_when, shutdown, false);
    tokio::time::timeout(Duration::from_secs(120), ran)
        .await
        .expect("the loop stops by itself")
        .unwrap();
}

async fn labels_of(orchestrator: &Orchestrator, issue: u64) -> Vec<String> {
    orchestrator.forge.issue(issue).await.unwrap().labels
}

async fn comments_of(orchestrator: &Orchestrator, issue: u64) -> String {
    let comments = orchestrator.forge.comments(issue).await.unwrap();
    comments
        .into_iter()
        .map(|c| c.body)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[tokio::test]
async fn an_attempt_that_reports_more_than_its_budget_is_stopped_and_its_issue_failed() {
    let (_dir, mut orchestrator) = orchestrator().await;
    orchestrator.budgets.caps.per_attempt = Some(1.0);
    // Without its budget, it would hang until the stall limit.
    let issue = ready_issue(&orchestrator, "simulate: cost 3\nsimulate: outcome hang").await;

    run(&mut orchestrator, StopWhen::Idle).await;

    let attempts = orchestrator.journal.attempts(issue).unwrap();
    assert!(
        matches!(attempts.as_slice(), [a] if a.outcome == "budget" && a.cost_usd == Some(3.0)),
        "{attempts:?}"
    );
    assert_eq!(labels_of(&orchestrator, issue).await, [labels::FAILED]);
    let comments = comments_of(&orchestrator, issue).await;
    assert!(
        comments.contains(
            "The attempt's budget (`budget.per_attempt_usd`, $1.00) is reached: $3.0000 spent by \
             this attempt. The issue is not retried"
        ),
        "{comments}"
    );
}

#[tokio::test]
async fn a_spent_run_budget_puts_the_stopped_issue_back_and_ends_the_run() {
    let (_dir, mut orchestrator) = orchestrator().await;
    orchestrator.budgets.caps.per_run = Some(1.0);
    let cheap = ready_issue(&orchestrator, "simulate: cost 0.6").await;
    let dear = ready_issue(&orchestrator, "simulate: cost 0.6\nsimulate: outcome hang").await;

    // Never stops by itself but for a spent run budget.
    run(&mut orchestrator, StopWhen::Never).await;

    assert_eq!(labels_of(&orchestrator, cheap).await, [labels::REVIEW]);
    assert_eq!(labels_of(&orchestrator, dear).await, [labels::READY]);
    let events = orchestrator.events();
    assert!(
        events.iter().any(|e| matches!(e, RunEvent::Disposed {
            issue, disposition: Disposition::OverBudget { scope: BudgetScope::Run }, ..
        } if *issue == dear)),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, RunEvent::BudgetReached {
            scope: BudgetScope::Run, limit_usd, ..
        } if *limit_usd == 1.0)),
        "{events:?}"
    );
    let comments = comments_of(&orchestrator, dear).await;
    assert!(comments.contains("The run's budget"), "{comments}");
    assert!(comments.contains("back on `route:ready`"), "{comments}");
}

#[tokio::test]
async fn a_spent_day_holds_claiming_until_midnight_utc() {
    let (_dir, mut orchestrator) = orchestrator().await;
    let evening: Timestamp = "2026-12-02T23:00:00Z".parse().unwrap();
    let clock = Arc::new(Manual(Mutex::new(evening)));
    orchestrator.clock = clock.clone();
    orchestrator.budgets.caps.per_day = Some(2.0);
    // An earlier run spent today's budget.
    orchestrator
        .journal
        .record_attempt(&AttemptRecord {
            issue: 99,
            attempt: 1,
            agent: "agent002".to_owned(),
            branch: "agent002/99-earlier".to_owned(),
            outcome: "success".to_owned(),
            reason: String::new(),
            commits_ahead: 1,
            cost_usd: Some(2.5),
            turns: 1,
            log: String::new(),
            finished_at: "2026-12-02T08:00:00Z".parse().unwrap(),
            runtime: Some("simulated".to_owned()),
            session_id: None,
        })
        .unwrap();
    let issue = ready_issue(&orchestrator, "").await;
    let mut routed = false;

    orchestrator
        .pass(StopWhen::Never, &mut routed)
        .await
        .unwrap();
    assert!(orchestrator.in_flight.is_empty(), "nothing claimed");
    let midnight: Timestamp = "2026-12-03T00:00:00Z".parse().unwrap();
    assert_eq!(
        orchestrator.events().back(),
        Some(&RunEvent::BudgetReached {
            scope: BudgetScope::Day,
            spent_usd: 2.5,
            limit_usd: 2.0,
            until: Some(midnight),
        })
    );
    assert_eq!(orchestrator.progress.borrow().budget.spent_today_usd, 2.5);
    assert_eq!(labels_of(&orchestrator, issue).await, [labels::READY]);

    *clock.0.lock().unwrap() = midnight;
    orchestrator
        .pass(StopWhen::Never, &mut routed)
        .await
        .unwrap();
    let events = orchestrator.events();
    assert!(
        events.iter().any(|e| *e
            == RunEvent::BudgetRenewed {
                scope: BudgetScope::Day
            }),
        "{events:?}"
    );
    assert!(
        matches!(events.back(), Some(RunEvent::Claimed { issue: claimed, .. }) if *claimed == issue),
        "{events:?}"
    );
    let flight = &orchestrator.in_flight.values().next().unwrap();
    let cap = flight.cap.expect("the day caps the attempt");
    assert_eq!((cap.scope, cap.usd), (BudgetScope::Day, 2.0));
}
