//! The train, run at the end of each pass: earlier ones repaired, and a departure when the
//! trigger says so or the loop, stopping when idle, sends off what waits.

use jiff::SignedDuration;

use super::{Orchestrator, PullRequestOpened, RunEvent};
use crate::app::AppResult;
use crate::app::queue::backpressure::{open_bundles, review_limits};
use crate::app::trains::bundle::{
    BundleVerification, Bundler, Departs, OpenedPullRequest, ReviewRework,
};
use crate::app::trains::dispatch::{self, BundlingWorkflow};
use crate::core::config::{BundlingExecutor, web_url};
use crate::ports::journal::{AttemptLog, Journal};

impl Orchestrator {
    /// The bundling workflow trains depart through: with `bundling.executor = "actions"`,
    /// while `github_actions.enabled` (the rollback switch) and the forge has Actions.
    fn bundling_workflow(&self) -> Option<BundlingWorkflow<'_>> {
        let settings = &self.config.github_actions;
        let wanted = settings.enabled && self.config.bundling.executor == BundlingExecutor::Actions;
        let actions = self.actions.as_deref().filter(|_| wanted)?;
        Some(BundlingWorkflow {
            actions,
            clock: self.clock.as_ref(),
            file: &settings.bundling_workflow,
            git_ref: &self.base,
            timeout: SignedDuration::from_mins(i64::from(settings.workflow_timeout_minutes)),
            repository_url: format!(
                "{}/{}/{}",
                web_url(&self.config.github.api_url),
                self.config.github.owner,
                self.config.github.repo
            ),
        })
    }

    /// Runs the train: repairs earlier ones (merged bundles cleaned up, closed ones sent back
    /// to review), then departs if the trigger says so, or if `force`.
    pub(super) async fn trains(&mut self, force: bool) -> AppResult<()> {
        if !self.config.bundling.enabled {
            return Ok(());
        }
        let journal: Option<&dyn Journal> = if self.settings.state_machine {
            Some(self.journal.as_ref())
        } else {
            None
        };
        let attempts: &dyn AttemptLog = self.journal.as_ref();
        let verification =
            BundleVerification::open(&self.workspace, &self.config, attempts).await?;
        let rework = ReviewRework::new(&self.config, attempts);
        let bundler = Bundler {
            git: self.workspace.repository(),
            forge: self.forge.as_ref(),
            config: &self.config.bundling,
            journal,
            train_log: self.journal.as_ref(),
            state_dir: self.workspace.state_dir(),
            verification: verification.as_ref(),
            rework: Some(&rework),
        };
        let now = self.clock.now();
        let open_bundles = open_bundles(self.forge.as_ref()).await?;
        let report = match self.bundling_workflow() {
            // Reviewers are behind: earlier trains are repaired, no new one departs.
            _ if !review_limits(&self.config).may_open_bundle(open_bundles) => {
                bundler.run_as(now, force, Departs::Nowhere).await?.0
            }
            Some(workflow) => workflow.train(&bundler, now, force).await?,
            None => {
                dispatch::let_go(&bundler.state_dir)?;
                bundler.run(now, force, false).await?
            }
        };
        self.next_train = Some(report.next);
        for repair in &report.repairs {
            tracing::info!("train: {repair}");
        }
        let opened = |prs: &[OpenedPullRequest]| -> Vec<PullRequestOpened> {
            prs.iter()
                .filter(|pr| pr.created)
                .map(|pr| PullRequestOpened {
                    number: pr.number,
                    issues: pr.issues.clone(),
                    why: pr.why.clone(),
                })
                .collect()
        };
        let bundles = opened(&report.bundles);
        let individual = opened(&report.individual);
        if !bundles.is_empty() || !individual.is_empty() || !report.waiting.is_empty() {
            self.record(RunEvent::TrainDeparted {
                bundles,
                individual,
                waiting: report.waiting,
            });
        }
        Ok(())
    }
}
