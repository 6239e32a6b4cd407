//! The ledger's signs of life: this process's on the remote, moved now and then, and the watch
//! at start for another process's under the same id, so that of two processes given one id
//! the one already running goes on and the newcomer is refused.

use std::time::Duration;

use jiff::Timestamp;

use super::ClaimLedger;
use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult};
use crate::core::queue::claims::{
    ORCHESTRATORS_PREFIX, another_process_with_my_id, heartbeat_every, heartbeat_message,
    heartbeat_nonce, life_watch, orchestrator_ref, sign_off_message, signed_off,
};

/// The file under `.clambake/` that names the last process of this workspace to say it was
/// alive, by nonce and pid: a restart after it crashed need not watch its sign of life.
const LAST_PROCESS_FILE: &str = "orchestrator-process";

impl ClaimLedger {
    /// Says on the remote that this orchestrator is alive at `now`: its reference moves to a
    /// fresh commit carrying this process's nonce and pace. Refuses, moving nothing, when
    /// another process runs under this id: one that moved the reference since this one last
    /// did, or, before this one ever did, one whose sign of life moves while this one watches
    /// ([`ClaimLedger::outlive`]), so that the process already running goes on and the newcomer
    /// is the one refused.
    pub async fn heartbeat(&self, now: Timestamp) -> AppResult<()> {
        let reference = orchestrator_ref(&self.orchestrator);
        let remote = &self.repository.remote;
        let current = remote.fetch_refs(ORCHESTRATORS_PREFIX).await?;
        let mut lease = current.get(&reference).cloned();
        let published = self.published.lock().expect("not poisoned").clone();
        match (published.as_deref(), lease.as_deref()) {
            (Some(mine), Some(tip)) if mine != tip => {
                let message = remote.commit_message(tip).await?;
                let current = Some((tip, message.as_str()));
                if another_process_with_my_id(published.as_deref(), current, &self.nonce) {
                    return Err(self.duplicate_id());
                }
            }
            (None, Some(tip)) => lease = self.outlive(tip).await?,
            _ => {}
        }
        let tree = self.repository.merges.empty_tree().await?;
        let message = heartbeat_message(&self.orchestrator, &self.nonce, self.heartbeat_every());
        let merges = &self.repository.merges;
        let commit = merges.write_commit(&tree, &[], &message, now).await?;
        let moved = remote
            .publish_ref(&reference, &commit, lease.as_deref(), "clambake: alive")
            .await?;
        if moved {
            let first = self
                .published
                .lock()
                .expect("not poisoned")
                .replace(commit)
                .is_none();
            if first {
                self.note_this_process()?;
            }
        } else {
            tracing::debug!("the sign of life moved meanwhile; it is said again next time");
        }
        Ok(())
    }

    /// Watches the sign of life at `tip` that another process left under this id, before this
    /// one says it is alive: unless it signed off, for [`life_watch`] of the pace it says. If it
    /// moves meanwhile, that process lives, and this one is refused; if not, that process is
    /// gone (a crash), and the reference's tip is returned to move from.
    async fn outlive(&self, tip: &str) -> AppResult<Option<String>> {
        let reference = orchestrator_ref(&self.orchestrator);
        let remote = &self.repository.remote;
        let message = remote.commit_message(tip).await?;
        let nonce = heartbeat_nonce(&message);
        if signed_off(&message)
            || nonce == Some(self.nonce.as_str())
            || self.left_by_an_ended_process_here(nonce)
        {
            return Ok(Some(tip.to_owned()));
        }
        let watch = Duration::try_from(life_watch(heartbeat_every(&message))).unwrap_or_default();
        tracing::info!(
            reference,
            seconds = watch.as_secs_f64(),
            "another process left a sign of life under this id: watching whether it still lives"
        );
        let poll = (watch / 16).max(Duration::from_millis(100));
        let deadline = tokio::time::Instant::now() + watch;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(poll).await;
            let now = remote.fetch_refs(ORCHESTRATORS_PREFIX).await?;
            match now.get(&reference) {
                Some(moved) if moved != tip => {
                    let message = remote.commit_message(moved).await?;
                    return if signed_off(&message) {
                        Ok(Some(moved.clone()))
                    } else {
                        Err(self.duplicate_id())
                    };
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
        Ok(Some(tip.to_owned()))
    }

    /// Says on the remote that this process has ended in order, if its sign of life is still
    /// its own: whoever starts under this id next goes on at once.
    pub async fn sign_off(&self, now: Timestamp) -> AppResult<()> {
        let Some(published) = self.published.lock().expect("not poisoned").clone() else {
            return Ok(());
        };
        let reference = orchestrator_ref(&self.orchestrator);
        let tree = self.repository.merges.empty_tree().await?;
        let message = sign_off_message(&self.orchestrator, &self.nonce);
        let merges = &self.repository.merges;
        let commit = merges.write_commit(&tree, &[], &message, now).await?;
        let remote = &self.repository.remote;
        remote
            .publish_ref(&reference, &commit, Some(&published), "clambake: stopped")
            .await?;
        Ok(())
    }

    /// The error of a second process under this orchestrator's id, saying how its id was set.
    fn duplicate_id(&self) -> AppError {
        let fix = if self.configured {
            "give one of them another id: `clambake config set orchestrator.id NEW-ID` there (a \
             clambake.toml copied between machines carries its id)"
        } else {
            "give one of them another id: delete .clambake/orchestrator-id there (copied from \
             the other machine), and the next run makes a new one"
        };
        AppError::DuplicateOrchestratorId {
            id: self.orchestrator.clone(),
            fix: fix.to_owned(),
        }
    }

    /// Whether the sign of life with `nonce` is that of the last process of this workspace, and
    /// that process has ended: nobody will move it again.
    fn left_by_an_ended_process_here(&self, nonce: Option<&str>) -> bool {
        let path = self.state_dir.join(LAST_PROCESS_FILE);
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        let Some((recorded, pid)) = text.trim().split_once(' ') else {
            return false;
        };
        // A process has one ledger: one of this process's before it is a predecessor too.
        let ended = pid.parse::<i32>().is_ok_and(|pid| {
            pid == std::process::id() as i32
                || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
        });
        nonce == Some(recorded) && ended
    }

    /// Notes this process as the last of this workspace to say it is alive.
    fn note_this_process(&self) -> AppResult<()> {
        let path = self.state_dir.join(LAST_PROCESS_FILE);
        let text = format!("{} {}\n", self.nonce, std::process::id());
        std::fs::create_dir_all(&self.state_dir).map_err(|source| AppError::Io {
            action: "create",
            path: self.state_dir.clone(),
            source,
        })?;
        write_atomically(&path, &text)
    }
}
