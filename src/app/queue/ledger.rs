//! The claims several orchestrators share, kept on the remote where each of them sees them: one
//! reference per issue, moved only by compare and swap, so that of two orchestrators claiming
//! one issue exactly one wins (see [`crate::core::queue::claims`]); and one reference per
//! orchestrator, moved now and then, that says it is alive. Through git alone, so it works on
//! every remote and costs the forge nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::Config;
use crate::core::queue::claims::{
    CLAIMS_PREFIX, ClaimRecord, ClaimState, ORCHESTRATORS_PREFIX, Standing, claim_ref,
    claimed_issue, generated_orchestrator_id, heartbeat_interval, orchestrator_of,
    orchestrator_ref, standing, valid_orchestrator_id,
};
use crate::ports::git::Repository;

/// The file under `.clambake/` that keeps a generated orchestrator id.
pub const ID_FILE: &str = "orchestrator-id";

/// This orchestrator's view of the shared claims, and its way to change them.
pub struct ClaimLedger {
    repository: Repository,
    orchestrator: String,
    /// `recovery.max_stuck_time_minutes`: an orchestrator silent longer is presumed gone.
    max_silence: SignedDuration,
    /// Records already read, by commit (a commit never changes).
    records: Mutex<BTreeMap<String, Option<ClaimRecord>>>,
}

impl std::fmt::Debug for ClaimLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimLedger")
            .field("orchestrator", &self.orchestrator)
            .finish_non_exhaustive()
    }
}

/// Who holds an issue's claim, as one orchestrator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Free,
    /// This orchestrator, for this attempt.
    Mine {
        attempt: u32,
    },
    /// Another orchestrator, alive.
    Live,
    /// Another orchestrator, silent too long: the claim may be taken over.
    Stale,
}

/// The claims and signs of life on the remote, as read at one moment.
#[derive(Debug, Clone)]
pub struct ClaimsView {
    /// Each claimed issue's chain tip.
    claims: BTreeMap<u64, String>,
    /// Each orchestrator's sign-of-life commit.
    alive: BTreeMap<String, String>,
}

impl ClaimLedger {
    pub fn new(repository: Repository, orchestrator: String, max_silence: SignedDuration) -> Self {
        Self {
            repository,
            orchestrator,
            max_silence,
            records: Mutex::default(),
        }
    }

    /// The ledger of `workspace`'s orchestrator, as `config` names it.
    pub fn open(workspace: &Workspace, config: &Config) -> AppResult<Self> {
        let id = orchestrator_id(workspace, &config.orchestrator.id)?;
        let minutes = i64::from(config.recovery.max_stuck_time_minutes);
        Ok(Self::new(
            workspace.repository().clone(),
            id,
            SignedDuration::from_mins(minutes),
        ))
    }

    /// How often this orchestrator says it is alive.
    pub fn heartbeat_every(&self) -> SignedDuration {
        heartbeat_interval(self.max_silence)
    }

    /// This orchestrator's id.
    pub fn orchestrator(&self) -> &str {
        &self.orchestrator
    }

    /// The claims and signs of life on the remote now.
    pub async fn view(&self) -> AppResult<ClaimsView> {
        let remote = &self.repository.remote;
        let claims = remote
            .fetch_refs(CLAIMS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(name, tip)| Some((claimed_issue(&name)?, tip)))
            .collect();
        let alive = remote
            .fetch_refs(ORCHESTRATORS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(name, tip)| Some((orchestrator_of(&name)?.to_owned(), tip)))
            .collect();
        Ok(ClaimsView { claims, alive })
    }

    /// The record of `issue`'s claim in `view`, if it has one Clambake can read.
    pub async fn record(&self, view: &ClaimsView, issue: u64) -> AppResult<Option<ClaimRecord>> {
        let Some(tip) = view.claims.get(&issue) else {
            return Ok(None);
        };
        self.read(tip).await
    }

    async fn read(&self, commit: &str) -> AppResult<Option<ClaimRecord>> {
        if let Some(known) = self.records.lock().expect("not poisoned").get(commit) {
            return Ok(known.clone());
        }
        let message = self.repository.remote.commit_message(commit).await?;
        let record = ClaimRecord::parse(&message);
        self.records
            .lock()
            .expect("not poisoned")
            .insert(commit.to_owned(), record.clone());
        Ok(record)
    }

    /// Where `record` (an issue's claim in `view`) stands for this orchestrator at `now`.
    async fn standing_of<'a>(
        &self,
        view: &ClaimsView,
        record: Option<&'a ClaimRecord>,
        now: Timestamp,
    ) -> AppResult<Standing<'a>> {
        let heard_from = match record.and_then(|r| view.alive.get(&r.orchestrator)) {
            Some(tip) => {
                let seconds = self.repository.refs.commit_time(tip).await?;
                Timestamp::from_second(seconds).ok()
            }
            None => None,
        };
        Ok(standing(
            record,
            &self.orchestrator,
            heard_from,
            now,
            self.max_silence,
        ))
    }

    /// Who holds `issue`'s claim in `view`, for this orchestrator at `now`.
    pub async fn holder(&self, view: &ClaimsView, issue: u64, now: Timestamp) -> AppResult<Holder> {
        let record = self.record(view, issue).await?;
        Ok(match self.standing_of(view, record.as_ref(), now).await? {
            Standing::Free => Holder::Free,
            Standing::Mine => Holder::Mine {
                attempt: record.map_or(0, |r| r.attempt),
            },
            Standing::Live { .. } => Holder::Live,
            Standing::Stale { .. } => Holder::Stale,
        })
    }

    /// Whether another orchestrator holds `issue`'s claim in `view`, live or not.
    pub async fn held_elsewhere(&self, view: &ClaimsView, issue: u64) -> AppResult<bool> {
        let record = self.record(view, issue).await?;
        Ok(record
            .is_some_and(|r| r.state == ClaimState::Held && r.orchestrator != self.orchestrator))
    }

    /// The issues whose claims other orchestrators hold and are alive to work: none of this
    /// orchestrator's business.
    pub async fn held_by_live_others(&self, now: Timestamp) -> AppResult<BTreeSet<u64>> {
        let view = self.view().await?;
        let mut held = BTreeSet::new();
        for &issue in view.claims.keys() {
            let record = self.record(&view, issue).await?;
            if let Standing::Live { .. } = self.standing_of(&view, record.as_ref(), now).await? {
                held.insert(issue);
            }
        }
        Ok(held)
    }

    /// Claims `issue` for this orchestrator's `agent` at `now`, if nobody else holds it or its
    /// holder has gone silent (a takeover): the claim reference moves from the tip read, or is
    /// made if there is none, so that of several orchestrators only one wins. Returns the new
    /// record, or `None` if another orchestrator holds the issue or won the race. Between this
    /// orchestrator's own slots the labels decide, as they always have ([`claim_issue`]).
    ///
    /// [`claim_issue`]: crate::app::queue::claim::claim_issue
    pub async fn take(
        &self,
        issue: u64,
        agent: &str,
        now: Timestamp,
    ) -> AppResult<Option<ClaimRecord>> {
        let view = self.view().await?;
        let tip = view.claims.get(&issue).cloned();
        let previous = self.record(&view, issue).await?;
        let standing = self.standing_of(&view, previous.as_ref(), now).await?;
        match standing {
            Standing::Live { owner } => {
                tracing::debug!(issue, owner, "another orchestrator holds the issue");
                return Ok(None);
            }
            Standing::Stale { owner } => {
                tracing::warn!(
                    issue,
                    owner,
                    "taking over the claim of a silent orchestrator"
                );
            }
            Standing::Free | Standing::Mine => {}
        }
        let record = ClaimRecord::claim(previous.as_ref(), &self.orchestrator, agent, issue, now);
        let moved = self.write(issue, &record, tip.as_deref()).await?;
        Ok(moved.then_some(record))
    }

    /// Gives back this orchestrator's claim on `issue` as `state` (landed, failed, returned):
    /// the chain goes on, attempts and failures counted. Returns the record now at the tip
    /// when the claim is this orchestrator's (released before already, it is left as it is),
    /// `None` when it is not (never claimed this way, or taken over).
    pub async fn release(
        &self,
        issue: u64,
        state: ClaimState,
        now: Timestamp,
    ) -> AppResult<Option<ClaimRecord>> {
        let view = self.view().await?;
        let Some(current) = self.record(&view, issue).await? else {
            return Ok(None);
        };
        if current.orchestrator != self.orchestrator {
            return Ok(None);
        }
        if current.state != ClaimState::Held {
            return Ok(Some(current));
        }
        let released = current.released(state, now);
        let tip = view.claims.get(&issue).map(String::as_str);
        let moved = self.write(issue, &released, tip).await?;
        Ok(moved.then_some(released))
    }

    /// The failed attempts at `issue` its claim counts over every orchestrator, with the one
    /// of this orchestrator that just failed (0 when this orchestrator holds no claim on it).
    pub async fn failures_with_this_one(&self, issue: u64) -> AppResult<u32> {
        let view = self.view().await?;
        Ok(match self.record(&view, issue).await? {
            Some(record)
                if record.state == ClaimState::Held && record.orchestrator == self.orchestrator =>
            {
                record.failures + 1
            }
            _ => 0,
        })
    }

    /// Writes `record` as the new tip of `issue`'s chain, only while the chain is at `tip`.
    async fn write(&self, issue: u64, record: &ClaimRecord, tip: Option<&str>) -> AppResult<bool> {
        let tree = self.repository.merges.empty_tree().await?;
        let parents: Vec<&str> = tip.into_iter().collect();
        let message = record.message();
        let commit = self
            .repository
            .merges
            .write_commit(&tree, &parents, &message, record.at)
            .await?;
        let reason = format!(
            "clambake: claim {} by {}",
            record.state.as_str(),
            record.orchestrator
        );
        let reference = claim_ref(issue);
        let moved = self
            .repository
            .remote
            .publish_ref(&reference, &commit, tip, &reason)
            .await?;
        if moved {
            self.records
                .lock()
                .expect("not poisoned")
                .insert(commit, Some(record.clone()));
        }
        Ok(moved)
    }

    /// Says on the remote that this orchestrator is alive at `now`: its reference moves to a
    /// fresh commit dated `now`.
    pub async fn heartbeat(&self, now: Timestamp) -> AppResult<()> {
        let reference = orchestrator_ref(&self.orchestrator);
        let current = self
            .repository
            .remote
            .fetch_refs(ORCHESTRATORS_PREFIX)
            .await?;
        let lease = current.get(&reference).map(String::as_str);
        let tree = self.repository.merges.empty_tree().await?;
        let message = format!("clambake orchestrator {} alive\n", self.orchestrator);
        let merges = &self.repository.merges;
        let commit = merges.write_commit(&tree, &[], &message, now).await?;
        let published = self
            .repository
            .remote
            .publish_ref(&reference, &commit, lease, "clambake: alive")
            .await?;
        if !published {
            tracing::debug!("the sign of life moved meanwhile; it is said again next time");
        }
        Ok(())
    }
}

/// This orchestrator's id: `configured` if set, else the one generated for this workspace
/// (made from the host name and a random suffix the first time, then kept under `.clambake/`).
pub fn orchestrator_id(workspace: &Workspace, configured: &str) -> AppResult<String> {
    let id = if configured.is_empty() {
        kept_id(workspace)?
    } else {
        configured.to_owned()
    };
    if valid_orchestrator_id(&id) {
        Ok(id)
    } else {
        Err(AppError::InvalidOrchestratorId { id })
    }
}

fn kept_id(workspace: &Workspace) -> AppResult<String> {
    let path = workspace.state_dir().join(ID_FILE);
    let io = |action, source| AppError::Io {
        action,
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(io("read", source)),
    }
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = generated_orchestrator_id(&host, rand::random());
    let dir = workspace.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| io("create", e))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io("write", e))?;
    std::io::Write::write_all(&mut file, format!("{id}\n").as_bytes())
        .map_err(|e| io("write", e))?;
    // Two processes making an id at once keep one: the first written.
    match file.persist_noclobber(&path) {
        Ok(_) => Ok(id),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => kept_id(workspace),
        Err(error) => Err(io("write", error.error)),
    }
}
