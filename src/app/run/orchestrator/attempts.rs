//! Attempts begun: claims started in the background, agents a previous run left registered
//! adopted, and claims the forge shows taken up again (or landed, if their success is recorded).

use tokio::sync::oneshot;

use super::{InFlight, Orchestrator, RunEvent};
use crate::app::AppResult;
use crate::app::agents::attempt::{AttemptError, adopt_agent, open_host, run_attempt_journaled};
use crate::app::agents::request::request_for;
use crate::app::queue::claim::{
    Claimed, READOPTED, SlotJournal, journal_assignment, journal_working,
};
use crate::app::queue::ledger::Holder;
use crate::app::trains::disposal::Disposition;
use crate::app::trains::land::{LandSettings, land_recorded_success};
use crate::core::branches::name::branch_name;
use crate::core::config::Usd;
use crate::core::queue::labels::agent_slot;
use crate::core::queue::standing::{Stage, stage};
use crate::ports::agent_host::Limits;
use crate::ports::agent_registry::{AgentHandle, RegisteredAgent};

impl Orchestrator {
    /// Watches again every agent process a previous run left registered: live ones until they
    /// end, dead ones judged from their logs. Each is then disposed of like any attempt.
    pub(super) async fn adopt_registered(&mut self) -> AppResult<()> {
        let registry = open_host(&self.workspace)?;
        let entries = registry.list().map_err(AttemptError::from)?;
        // Runs on GitHub Actions went on without this process: where do they stand now.
        registry.refresh(&entries).await;
        for entry in entries {
            // Disposed of already (the run died before forgetting it): acting on the verdict
            // again could undo what happened to the issue since.
            let recorded = self
                .journal
                .attempts(entry.issue)?
                .iter()
                .any(|a| a.agent == entry.agent && a.attempt == entry.attempt);
            if recorded {
                registry.forget(&entry.agent).map_err(AttemptError::from)?;
                continue;
            }
            if registry.is_alive(&entry.handle) {
                self.journal_readoption(&entry).await?;
            }
            let (stop, stopped) = oneshot::channel();
            let agent = entry.agent.clone();
            let (issue, attempt, handle) = (entry.issue, entry.attempt, entry.handle);
            let workspace = self.workspace.clone();
            let limits = self.settings.limits;
            let task = self
                .running
                .spawn(async move { adopt_agent(&workspace, entry, limits, stopped).await })
                .id();
            let flight = InFlight {
                issue,
                attempt,
                started: self.clock.now(),
                task,
                stop: Some(stop),
                interrupted: false,
                elsewhere: matches!(handle, AgentHandle::Actions { .. }),
                cap: None,
            };
            self.record(RunEvent::Adopted {
                agent: agent.clone(),
                issue: flight.issue,
                attempt: flight.attempt,
            });
            self.in_flight.insert(agent, flight);
        }
        Ok(())
    }

    /// Journals that this run took over `entry`'s live agent: the slot works on (its claim
    /// journaled first if the journal lags), now watched by this run.
    async fn journal_readoption(&self, entry: &RegisteredAgent) -> AppResult<()> {
        let slot = self.slot_journal();
        journal_assignment(slot, &entry.agent, entry.issue, &entry.branch, READOPTED)?;
        let ahead = match self.workspace.refs().branch_tip(&entry.branch).await? {
            Some(_) => {
                self.workspace
                    .commits_ahead(&entry.base, &entry.branch)
                    .await?
            }
            None => 0,
        };
        journal_working(slot, &entry.agent, entry.issue, ahead, READOPTED)
    }

    /// Takes up every claim the forge shows that no attempt here is working on: after a crash
    /// or a stop, the same slot continues on the same branch and worktree. Another
    /// orchestrator's claim is left alone while it lives; one gone silent is taken over, its
    /// work continued from its branch.
    pub(super) async fn resume_claims(&mut self) -> AppResult<()> {
        let open = self.open_issues().await?;
        let view = self.claims.view(self.clock.now()).await?;
        for issue in open {
            if stage(issue.labels.iter().map(String::as_str)) != Stage::Claimed {
                continue;
            }
            let agents: Vec<&String> = issue
                .labels
                .iter()
                .filter(|l| agent_slot(l).is_some())
                .collect();
            // Two claims on one issue are drift for recovery to settle, not work to resume.
            let [agent] = agents.as_slice() else {
                continue;
            };
            if self.in_flight.contains_key(*agent)
                || self.slot_taken_elsewhere(agent, issue.number)
                || self.is_parked(issue.number)
            {
                continue;
            }
            let agent = (*agent).clone();
            let now = self.clock.now();
            let holder = self.claims.holder(&view, issue.number, now).await?;
            if matches!(holder, Holder::Live | Holder::Unreadable) {
                continue;
            }
            // A silent orchestrator's claim is taken over before anything else is done to it.
            if holder != Holder::Stale && self.land_recorded_success(&agent, issue.number).await? {
                // Landing relabelled the issue: routing lists again.
                self.pass_listing = None;
                continue;
            }
            let attempt = match holder {
                Holder::Mine { attempt } => attempt,
                // Free: a claim from before claims were shared.
                _ => match self.claims.take(issue.number, &agent, now).await? {
                    Some(taken) => taken.attempt,
                    None => continue,
                },
            };
            self.start_attempt(&agent, &Claimed { issue, attempt }, true)
                .await?;
        }
        Ok(())
    }

    /// Lands the claim's finished work if its success is recorded (and so not run again).
    async fn land_recorded_success(&mut self, agent: &str, issue: u64) -> AppResult<bool> {
        let settings = LandSettings {
            state_machine: self.settings.state_machine,
            bundling: self.settings.policy.bundling,
        };
        let now = self.clock.now();
        let forge = self.forge.as_ref();
        let landed = land_recorded_success(
            &self.workspace,
            forge,
            self.journal.as_ref(),
            settings,
            agent,
            issue,
            now,
        )
        .await?;
        let Some((attempt, landed)) = landed else {
            return Ok(false);
        };
        let disposition = Disposition::Landed {
            commits_ahead: landed.commits_ahead,
            pull_request: landed.pull_request,
        };
        self.give_back(issue, &disposition, now).await?;
        self.record(RunEvent::Disposed {
            agent: agent.to_owned(),
            issue,
            attempt,
            outcome: crate::core::agents::outcome::Outcome::Success.to_string(),
            disposition,
        });
        Ok(true)
    }

    /// Starts an attempt of `agent` at the issue it `claimed` in the background, journaling
    /// the assignment; its number is at least the attempt the claim counts.
    pub(super) async fn start_attempt(
        &mut self,
        agent: &str,
        claimed: &Claimed,
        resumed: bool,
    ) -> AppResult<()> {
        let issue = &claimed.issue;
        let earlier = self.journal.attempts(issue.number)?;
        let request = request_for(
            &self.workspace,
            self.forge.as_ref(),
            agent,
            claimed,
            &self.base,
            &earlier,
            self.config.agents.prompt_comments,
        )
        .await?;
        let branch = branch_name(agent, issue.number, &issue.title);
        let cause = if resumed {
            "resumed by the run loop after a restart"
        } else {
            "claimed by the run loop"
        };
        journal_assignment(self.slot_journal(), agent, issue.number, &branch, cause)?;
        let (stop, stopped) = oneshot::channel();
        let workspace = self.workspace.clone();
        let runtime = self.runtime_for(agent);
        let elsewhere = runtime.runs_elsewhere();
        let cap = self.attempt_cap(&earlier)?;
        let limits = Limits {
            budget: cap.and_then(|cap| Usd::new(cap.usd)),
            ..self.settings.limits
        };
        let spawned_request = request.clone();
        let journal = self.settings.state_machine.then(|| self.journal.clone());
        let clock = self.clock.clone();
        let task = self.running.spawn(async move {
            let slot = journal.as_deref().map(|journal| SlotJournal {
                journal,
                clock: clock.as_ref(),
            });
            run_attempt_journaled(
                &workspace,
                runtime.as_ref(),
                &spawned_request,
                limits,
                stopped,
                slot,
            )
            .await
        });
        self.in_flight.insert(
            agent.to_owned(),
            InFlight {
                issue: issue.number,
                attempt: request.attempt,
                started: self.clock.now(),
                task: task.id(),
                stop: Some(stop),
                interrupted: false,
                elsewhere,
                cap,
            },
        );
        let event = if resumed {
            RunEvent::Resumed {
                agent: agent.to_owned(),
                issue: issue.number,
                attempt: request.attempt,
            }
        } else {
            RunEvent::Claimed {
                agent: agent.to_owned(),
                issue: issue.number,
                attempt: request.attempt,
            }
        };
        self.record(event);
        Ok(())
    }
}
