//! The checks of the open bundles that wait for them (their record says `checking`): each run
//! of the train advances them one look; a bundle that passed is offered for review, one whose
//! bisection found culprits sends each back and is rebuilt without them (`rebuild.rs`), and
//! checked again.

use std::sync::Arc;

use crate::app::trains::verify::{Progress, Verifier, send_back::send_back};
use crate::app::{AppResult, Workspace, compose};
use crate::core::config::Config;
use crate::core::forge_text::bisection;
use crate::core::queue::labels;
use crate::core::text::redact::Redactor;
use crate::core::trains::bisect::{Next, Settings, Trial, Verdict};
use crate::core::trains::check_log::CheckEvent;
use crate::core::trains::pull_request::{BundleRecord, RecordedTakenOut};
use crate::ports::checks::{CheckFailure, CommitChecks};
use crate::ports::forge::{Number, PullRequest, PullRequestEdit, PullRequestState};
use crate::ports::journal::{AttemptLog, BundleCheckEntry};

use jiff::Timestamp;

use super::Bundler;

/// What checks a bundle before it is offered, and what a culprit's way back needs.
pub struct BundleVerification<'a> {
    pub checks: Arc<dyn CommitChecks>,
    pub settings: Settings,
    pub max_attempts: u32,
    /// How many attempts each issue has had: one sent back with none left is `route:failed`.
    pub attempts: &'a dyn AttemptLog,
    /// The failing output is quoted on issues: secrets come out first.
    pub redactor: Redactor,
}

impl<'a> BundleVerification<'a> {
    /// The verification `[checks] bundles` asks for, or `None` when bundles are not checked.
    pub async fn open(
        workspace: &Workspace,
        config: &Config,
        attempts: &'a dyn AttemptLog,
    ) -> AppResult<Option<Self>> {
        let Some(checks) = workspace.open_commit_checks().await? else {
            return Ok(None);
        };
        Ok(Some(Self {
            checks,
            settings: Settings {
                retry_flaky: config.checks.retry_flaky,
                parallel: config.checks.parallel.max(1),
            },
            max_attempts: config.agents.max_attempts,
            attempts,
            redactor: compose::secrets(),
        }))
    }
}

impl Bundler<'_> {
    /// Advances the checks of every open bundle waiting for them. Returns the bundles still
    /// waiting for a result.
    pub(super) async fn verify_bundles(
        &self,
        now: Timestamp,
        repairs: &mut Vec<String>,
    ) -> AppResult<Vec<Number>> {
        let Some(verification) = self.verification else {
            return Ok(Vec::new());
        };
        // As the repair left them: a bundle it closed to rebuild is not checked.
        let trains = self.trains(now).await?;
        let verifier = Verifier {
            merges: self.git.merges.as_ref(),
            checks: verification.checks.as_ref(),
            settings: verification.settings,
        };
        let mut pending = Vec::new();
        for (pr, record) in &trains.bundles {
            if pr.state != PullRequestState::Open || !record.checking {
                continue;
            }
            let progress = verifier.advance(record).await?;
            for (number, step) in progress.bisection.steps.iter().enumerate() {
                tracing::debug!(
                    pull_request = pr.number,
                    "{}",
                    bisection::step_line(number + 1, step)
                );
            }
            self.journal_checks(pr.number, record, &progress, now)?;
            let Next::Done { verdict } = &progress.bisection.next else {
                pending.push(pr.number);
                continue;
            };
            if verdict.base_broken {
                let text = bisection::base_broken(&record.base);
                if !self.commented(pr.number, &text).await? {
                    self.forge.create_comment(pr.number, &text).await?;
                    repairs.push(format!("#{}: its base fails its checks alone", pr.number));
                }
                pending.push(pr.number);
            } else if verdict.culprits.is_empty() {
                self.passed(pr, record, verdict, &progress).await?;
                repairs.push(format!("#{}: its checks passed", pr.number));
            } else {
                let taken_out = self
                    .take_out(verification, pr, record, verdict, &progress)
                    .await?;
                repairs.push(format!(
                    "#{}: its checks failed with {}: taken out",
                    pr.number,
                    crate::core::forge_text::issue_list(&verdict.culprits)
                ));
                let open = self.rebuild(pr, record, taken_out).await?;
                let rebuilt = CheckEvent::Rebuilt {
                    without: verdict.culprits.clone(),
                    kept: verdict.kept.clone(),
                    open,
                };
                self.journal_check(pr.number, record, rebuilt, now)?;
                if open {
                    pending.push(pr.number);
                }
            }
        }
        Ok(pending)
    }

    /// Journals what one look at the bundle's checks learned: each step, finished or running,
    /// and the verdict once there is one.
    fn journal_checks(
        &self,
        pull_request: Number,
        record: &BundleRecord,
        progress: &Progress,
        now: Timestamp,
    ) -> AppResult<()> {
        let commit = |trial: &Trial| {
            progress
                .trials
                .iter()
                .find(|t| &t.trial == trial)
                .and_then(|t| t.commit.clone())
        };
        let bisection = &progress.bisection;
        let mut events: Vec<CheckEvent> = bisection
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| CheckEvent::finished(index + 1, step, commit(&step.trial)))
            .collect();
        match &bisection.next {
            Next::Check { trials } => events.extend(
                trials
                    .iter()
                    .map(|wanted| CheckEvent::running(wanted, commit(&wanted.trial))),
            ),
            Next::Done { verdict } => events.push(CheckEvent::verdict(verdict)),
        }
        for event in events {
            self.journal_check(pull_request, record, event, now)?;
        }
        Ok(())
    }

    fn journal_check(
        &self,
        pull_request: Number,
        record: &BundleRecord,
        event: CheckEvent,
        at: Timestamp,
    ) -> AppResult<()> {
        self.train_log.record_bundle_check(&BundleCheckEntry {
            pull_request,
            members: record.member_issues(),
            event,
            at,
        })?;
        Ok(())
    }

    /// The bundle is offered for review: its record no longer waits, and a comment says so.
    async fn passed(
        &self,
        pr: &PullRequest,
        record: &BundleRecord,
        verdict: &Verdict,
        progress: &Progress,
    ) -> AppResult<()> {
        let mut passed = record.clone();
        passed.checking = false;
        self.train_log.record_bundle(&passed)?;
        let edit = PullRequestEdit {
            title: pr.title.clone(),
            body: replace_record(&pr.body, &passed),
        };
        self.forge.edit_pull_request(pr.number, &edit).await?;
        let checks = progress
            .trials
            .iter()
            .filter(|t| t.commit.is_some())
            .count();
        self.forge
            .create_comment(pr.number, &bisection::checks_passed(verdict, checks))
            .await?;
        Ok(())
    }

    /// Sends each culprit still `route:bundled` back with its failure; returns them all as
    /// the record's taken-out entries.
    async fn take_out(
        &self,
        verification: &BundleVerification<'_>,
        pr: &PullRequest,
        record: &BundleRecord,
        verdict: &Verdict,
        progress: &Progress,
    ) -> AppResult<Vec<RecordedTakenOut>> {
        let mut taken_out = Vec::new();
        for culprit in &verdict.culprits {
            let Some(member) = record.members.iter().find(|m| m.issue == *culprit) else {
                continue;
            };
            let failure = progress
                .failure_of(*culprit)
                .cloned()
                .unwrap_or_else(|| CheckFailure {
                    summary: "the checks failed".to_owned(),
                    details: None,
                    tail: String::new(),
                });
            let failure = CheckFailure {
                summary: verification.redactor.redact(&failure.summary).into_owned(),
                details: failure
                    .details
                    .map(|d| verification.redactor.redact(&d).into_owned()),
                tail: verification.redactor.redact(&failure.tail).into_owned(),
            };
            // Sent back already by a run that stopped before the rebuild.
            if self.forge.issue(*culprit).await?.has_label(labels::BUNDLED) {
                send_back(
                    self.forge,
                    verification.attempts,
                    verification.max_attempts,
                    pr.number,
                    *culprit,
                    &failure,
                )
                .await?;
            }
            let why = match &failure.details {
                Some(details) => format!("{} (the log: {details})", failure.summary),
                None => failure.summary.clone(),
            };
            taken_out.push(RecordedTakenOut {
                issue: *culprit,
                branch: member.branch.clone(),
                why,
            });
        }
        Ok(taken_out)
    }

    /// Whether `number` already has a comment that is exactly `text`.
    async fn commented(&self, number: Number, text: &str) -> AppResult<bool> {
        let comments = self.forge.comments(number).await?;
        Ok(comments.iter().any(|c| c.body == text))
    }
}

/// `body` with its last line, the record, replaced by `record`'s.
pub(super) fn replace_record(body: &str, record: &BundleRecord) -> String {
    let trimmed = body.trim_end();
    let kept = trimmed.rsplit_once('\n').map_or("", |(above, _)| above);
    format!("{kept}\n{}\n", record.encoded())
}

/// How long `clambake bundle` sleeps between looks at checks running here.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(500);

impl Bundler<'_> {
    /// Runs the train, then, while bundles wait for checks that run here, runs it again (a
    /// short sleep apart) until none waits or `timeout` passes: one `clambake bundle` gives a
    /// verdict. What the later runs did is added to the first run's report.
    pub async fn run_until_checked(
        &self,
        now: impl Fn() -> Timestamp,
        force: bool,
        timeout: std::time::Duration,
    ) -> AppResult<super::TrainReport> {
        let mut report = self.run(now(), force, false).await?;
        let deadline = std::time::Instant::now() + timeout;
        // A bundle this run opened is checked from the next run on.
        let mut opened = self.verification.is_some() && !report.bundles.is_empty();
        while (opened || !report.checking.is_empty()) && std::time::Instant::now() < deadline {
            if !opened {
                tokio::time::sleep(WAIT_STEP).await;
            }
            opened = false;
            let again = self.run(now(), false, false).await?;
            report.repairs.extend(again.repairs);
            report.bundles.extend(again.bundles);
            report.individual.extend(again.individual);
            report.waiting.extend(again.waiting);
            report.next = again.next;
            report.checking = again.checking;
        }
        Ok(report)
    }
}
