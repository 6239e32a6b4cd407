//! The drift check, every `state_machine.inconsistency_check_interval_minutes`: the world
//! compared with the journal and repaired, and slots stuck past
//! `recovery.force_reset_after_minutes` freed.

use jiff::Timestamp;

use super::{Orchestrator, RunEvent};
use crate::app::AppResult;
use crate::app::agents::loop_processes::LoopProcesses;
use crate::app::recovery::repair::{World, diagnose, force_reset, recover};
use crate::core::recovery::drift::Inconsistency;

impl Orchestrator {
    /// Every `inconsistency_check_interval_minutes` (and first thing), compares the world with
    /// the journal, repairing the drift when `auto_recovery_enabled`, else reporting it.
    /// Attempts in flight here are alive by definition.
    pub(super) async fn check_drift(&mut self) -> AppResult<()> {
        let state_machine = &self.config.state_machine;
        let now = self.clock.now();
        let interval = jiff::SignedDuration::from_mins(i64::from(
            state_machine.inconsistency_check_interval_minutes,
        ));
        if !self.settings.state_machine || self.last_check.is_some_and(|last| now < last + interval)
        {
            return Ok(());
        }
        self.last_check = Some(now);
        let processes = self.loop_processes(now);
        let world = World::new(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            &processes,
            self.base.clone(),
            &self.config,
        );
        if !state_machine.auto_recovery_enabled {
            for plan in diagnose(&world, None, now).await?.plans {
                tracing::warn!(
                    inconsistency = %plan.inconsistency.kind(),
                    "drift found; auto_recovery_enabled is off, so `clambake agent recover --all` repairs it"
                );
            }
            return Ok(());
        }
        let report = recover(&world, None, now).await?;
        for plan in &report.executed {
            let kind = plan.inconsistency.kind();
            self.metrics.inconsistency(kind);
            if plan.failed() {
                self.metrics.recovery_failed(kind);
            } else if plan.changed_something() {
                self.metrics.recovered(kind);
            }
            tracing::warn!(
                inconsistency = %plan.inconsistency.kind(),
                failed = plan.failed(),
                "repaired drift"
            );
        }
        self.drift_repaired += report
            .executed
            .iter()
            .filter(|plan| !plan.failed() && plan.changed_something())
            .count();
        let force_after = i64::from(self.config.recovery.force_reset_after_minutes);
        let mut stuck = Vec::new();
        for left in &report.remaining {
            self.metrics.inconsistency(left.inconsistency.kind());
            tracing::warn!(inconsistency = %left.inconsistency.kind(), "drift remains");
            // A claim stuck past `force_reset_after_minutes` that ordinary recovery could not
            // free is reset outright, its work archived first.
            if let Inconsistency::StaleClaim {
                agent,
                issue,
                idle_minutes,
                ..
            } = &left.inconsistency
                && *idle_minutes >= force_after
            {
                stuck.push((agent.clone(), *issue, *idle_minutes));
            }
        }
        for (agent, issue, idle_minutes) in stuck {
            self.force_reset_stuck(&agent, issue, idle_minutes, now)
                .await?;
        }
        Ok(())
    }

    /// The agent processes as drift checks see them: the registry's, and this loop's attempts.
    fn loop_processes(&self, now: Timestamp) -> LoopProcesses<'_> {
        LoopProcesses {
            registered: self.processes.as_ref(),
            in_flight: self
                .in_flight
                .iter()
                .map(|(a, f)| (a.clone(), f.issue))
                .collect(),
            now,
        }
    }

    /// Frees `agent`'s stuck slot. An attempt of this loop on it is stopped (the loop's
    /// processes refuse recovery's stop, which is why the claim was left): it then ends like
    /// any attempt, judged and counted, retried or failed with its work on its branch. A stuck
    /// claim the loop is not running is force-reset, its work archived and the issue requeued.
    async fn force_reset_stuck(
        &mut self,
        agent: &str,
        issue: u64,
        idle_minutes: i64,
        now: Timestamp,
    ) -> AppResult<()> {
        if let Some(flight) = self.in_flight.get_mut(agent).filter(|f| f.issue == issue) {
            if let Some(stop) = flight.stop.take() {
                let _ = stop.send(());
                self.record(RunEvent::StuckStopped {
                    agent: agent.to_owned(),
                    issue,
                    idle_minutes,
                });
            }
            return Ok(());
        }
        let processes = self.loop_processes(now);
        let world = World::new(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            &processes,
            self.base.clone(),
            &self.config,
        );
        let reset = force_reset(&world, agent, now).await?;
        let failed = reset.failed();
        tracing::warn!(agent = %agent, failed, "force-reset a stuck slot");
        self.record(RunEvent::ForceReset {
            agent: agent.to_owned(),
            issue,
            idle_minutes,
            failed,
        });
        Ok(())
    }
}
