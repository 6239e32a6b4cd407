//! The claims several orchestrators share, kept on the remote where each of them sees them: one
//! reference per issue, moved only by compare and swap, so that of two orchestrators claiming
//! one issue exactly one wins (see [`crate::core::queue::claims`]); and one reference per
//! orchestrator, moved now and then, that says it is alive. Through git alone, so it works on
//! every remote and costs the forge nothing. Whether another orchestrator is alive is judged by
//! its references moving as this machine sees them, timed by this machine's clock and noted
//! under `.clambake/` so that every command here and every restart shares what was seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::Config;
use crate::core::queue::claims::{
    CLAIMS_PREFIX, Claim, ClaimRecord, ClaimState, HEARTBEAT_EVERY, ORCHESTRATORS_PREFIX, Standing,
    claim_ref, claimed_issue, generated_orchestrator_id, heartbeat_every, heartbeat_interval,
    orchestrator_of, orchestrator_ref, standing, valid_orchestrator_id,
};
use crate::core::queue::sightings::Sightings;
use crate::ports::git::{Remote, Repository};

mod life;

/// The file under `.clambake/` that keeps a generated orchestrator id.
pub const ID_FILE: &str = "orchestrator-id";

/// The file under `.clambake/` that notes when this machine first saw each shared reference
/// at its commit.
pub const SIGHTINGS_FILE: &str = "claim-sightings.json";

/// This orchestrator's view of the shared claims, and its way to change them.
pub struct ClaimLedger {
    repository: Repository,
    orchestrator: String,
    /// Whether `orchestrator.id` names it (else it is kept in [`ID_FILE`]): how to give a
    /// second machine under the same id another one.
    configured: bool,
    /// `recovery.max_stuck_time_minutes`: an orchestrator silent longer is presumed gone.
    max_silence: SignedDuration,
    sightings: PathBuf,
    /// The workspace's `.clambake/`.
    state_dir: PathBuf,
    /// Drawn at random for this process: its signs of life carry it.
    nonce: String,
    /// The sign of life this process last published.
    published: Mutex<Option<String>>,
    /// Claims already read, by commit (a commit never changes).
    records: Mutex<BTreeMap<String, Claim>>,
    /// How often other orchestrators say they are alive, by sign-of-life commit.
    paces: Mutex<BTreeMap<String, SignedDuration>>,
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
    /// Someone unknown: the claim's record cannot be read (a newer Clambake's format, or
    /// damage). Left alone, like a live one's.
    Unreadable,
}

/// The claims and signs of life on the remote, as read at one moment.
#[derive(Debug, Clone)]
pub struct ClaimsView {
    /// Each claimed issue's chain tip.
    claims: BTreeMap<u64, String>,
    /// Each orchestrator's sign-of-life commit.
    alive: BTreeMap<String, String>,
    /// When this machine first saw each of them as it is.
    sightings: Sightings,
}

impl ClaimLedger {
    /// The ledger of orchestrator `orchestrator` (as `orchestrator.id` names it) in
    /// `workspace`.
    pub fn new(workspace: &Workspace, orchestrator: String, max_silence: SignedDuration) -> Self {
        Self {
            repository: workspace.repository().clone(),
            orchestrator,
            configured: true,
            max_silence,
            sightings: workspace.state_dir().join(SIGHTINGS_FILE),
            state_dir: workspace.state_dir(),
            nonce: format!("{:016x}", rand::random::<u64>()),
            published: Mutex::default(),
            records: Mutex::default(),
            paces: Mutex::default(),
        }
    }

    /// The ledger of `workspace`'s orchestrator, as `config` names it.
    pub fn open(workspace: &Workspace, config: &Config) -> AppResult<Self> {
        let configured = &config.orchestrator.id;
        let id = orchestrator_id(workspace, configured)?;
        let silence = config.recovery.max_stuck_time_minutes.duration();
        Ok(Self {
            configured: !configured.is_empty(),
            ..Self::new(workspace, id, silence)
        })
    }

    /// How often this orchestrator says it is alive.
    pub fn heartbeat_every(&self) -> SignedDuration {
        heartbeat_interval(self.max_silence)
    }

    /// This orchestrator's id.
    pub fn orchestrator(&self) -> &str {
        &self.orchestrator
    }

    /// The claims and signs of life on the remote at `now`, each noted as seen.
    pub async fn view(&self, now: Timestamp) -> AppResult<ClaimsView> {
        let mut view = self.read_refs().await?;
        view.sightings = self.observe(&view, now)?;
        Ok(view)
    }

    /// The claims and signs of life on the remote, for what needs no liveness.
    async fn read_refs(&self) -> AppResult<ClaimsView> {
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
        Ok(ClaimsView {
            claims,
            alive,
            sightings: Sightings::default(),
        })
    }

    /// Notes `view`'s references as seen at `now` in [`SIGHTINGS_FILE`]. A file that cannot
    /// be read starts afresh: everything is seen from now on, so nobody looks silent early.
    fn observe(&self, view: &ClaimsView, now: Timestamp) -> AppResult<Sightings> {
        let mut sightings: Sightings = std::fs::read_to_string(&self.sightings)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let claims = view.claims.iter().map(|(n, tip)| (claim_ref(*n), tip));
        let alive = view
            .alive
            .iter()
            .map(|(id, tip)| (orchestrator_ref(id), tip));
        let references: Vec<(String, &String)> = claims.chain(alive).collect();
        let seen = references
            .iter()
            .map(|(name, tip)| (name.as_str(), tip.as_str()));
        if sightings.observe(seen, now) {
            let text = serde_json::to_string(&sightings).expect("sightings serialize");
            if let Some(dir) = self.sightings.parent() {
                std::fs::create_dir_all(dir).map_err(|source| AppError::Io {
                    action: "create",
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            write_atomically(&self.sightings, &text)?;
        }
        Ok(sightings)
    }

    /// The record of `issue`'s claim in `view`, if it has one Clambake can read.
    pub async fn record(&self, view: &ClaimsView, issue: u64) -> AppResult<Option<ClaimRecord>> {
        Ok(self
            .claim(view, issue)
            .await?
            .and_then(|claim| match claim {
                Claim::Record(record) => Some(record),
                Claim::Unreadable => None,
            }))
    }

    /// `issue`'s claim in `view`, if it has one.
    async fn claim(&self, view: &ClaimsView, issue: u64) -> AppResult<Option<Claim>> {
        let Some(tip) = view.claims.get(&issue) else {
            return Ok(None);
        };
        if let Some(known) = self.records.lock().expect("not poisoned").get(tip) {
            return Ok(Some(known.clone()));
        }
        let message = self.repository.remote.commit_message(tip).await?;
        let claim = Claim::read(&message);
        if claim == Claim::Unreadable {
            tracing::warn!(
                issue,
                reference = %claim_ref(issue),
                "the claim's record cannot be read (a newer Clambake's?): someone unknown holds the issue, and it is left alone"
            );
        }
        self.records
            .lock()
            .expect("not poisoned")
            .insert(tip.clone(), claim.clone());
        Ok(Some(claim))
    }

    /// Where `claim` (`issue`'s in `view`) stands for this orchestrator at `now`, its holder
    /// judged by the pace its own sign of life says.
    async fn standing_of<'a>(
        &self,
        view: &ClaimsView,
        issue: u64,
        claim: Option<&'a Claim>,
        now: Timestamp,
    ) -> AppResult<Standing<'a>> {
        let owner = claim
            .and_then(Claim::record)
            .filter(|r| r.state == ClaimState::Held && r.orchestrator != self.orchestrator);
        let owner_every = match owner.and_then(|r| view.alive.get(&r.orchestrator)) {
            Some(commit) => self.pace(commit).await?,
            None => HEARTBEAT_EVERY,
        };
        Ok(standing(
            claim,
            issue,
            &self.orchestrator,
            &view.sightings,
            now,
            self.max_silence,
            owner_every,
        ))
    }

    /// How often the orchestrator whose sign of life is `commit` says it is alive.
    async fn pace(&self, commit: &str) -> AppResult<SignedDuration> {
        if let Some(known) = self.paces.lock().expect("not poisoned").get(commit) {
            return Ok(*known);
        }
        let message = self.repository.remote.commit_message(commit).await?;
        let every = heartbeat_every(&message);
        self.paces
            .lock()
            .expect("not poisoned")
            .insert(commit.to_owned(), every);
        Ok(every)
    }

    /// Who holds `issue`'s claim in `view`, for this orchestrator at `now`.
    pub async fn holder(&self, view: &ClaimsView, issue: u64, now: Timestamp) -> AppResult<Holder> {
        let claim = self.claim(view, issue).await?;
        Ok(
            match self.standing_of(view, issue, claim.as_ref(), now).await? {
                Standing::Free => Holder::Free,
                Standing::Mine => Holder::Mine {
                    attempt: claim
                        .as_ref()
                        .and_then(Claim::record)
                        .map_or(0, |r| r.attempt),
                },
                Standing::Live { .. } => Holder::Live,
                Standing::Stale { .. } => Holder::Stale,
                Standing::Unreadable => Holder::Unreadable,
            },
        )
    }

    /// The orchestrator that `issue`'s claim on the remote names now, when it is not this
    /// one ("someone unknown" for a record that cannot be read): the issue is no longer this
    /// orchestrator's to dispose of. `None` when it is this one's, or unclaimed.
    pub async fn claimed_by_another(&self, issue: u64) -> AppResult<Option<String>> {
        let view = self.read_refs().await?;
        Ok(match self.claim(&view, issue).await? {
            None => None,
            Some(Claim::Unreadable) => Some("someone unknown".to_owned()),
            Some(Claim::Record(record)) => {
                (record.orchestrator != self.orchestrator).then_some(record.orchestrator)
            }
        })
    }

    /// The issues whose claims on the remote cannot be read: held by someone unknown.
    pub async fn unreadable(&self) -> AppResult<Vec<u64>> {
        let view = self.read_refs().await?;
        let mut found = Vec::new();
        for &issue in view.claims.keys() {
            if self.claim(&view, issue).await? == Some(Claim::Unreadable) {
                found.push(issue);
            }
        }
        Ok(found)
    }

    /// Whether another orchestrator (or someone unknown) holds `issue`'s claim in `view`,
    /// live or not.
    pub async fn held_elsewhere(&self, view: &ClaimsView, issue: u64) -> AppResult<bool> {
        Ok(match self.claim(view, issue).await? {
            None => false,
            Some(Claim::Unreadable) => true,
            Some(Claim::Record(r)) => {
                r.state == ClaimState::Held && r.orchestrator != self.orchestrator
            }
        })
    }

    /// The issues whose claims other orchestrators hold and are alive to work (or whose
    /// claims cannot be read): none of this orchestrator's business.
    pub async fn held_by_live_others(&self, now: Timestamp) -> AppResult<BTreeSet<u64>> {
        let view = self.view(now).await?;
        let mut held = BTreeSet::new();
        for &issue in view.claims.keys() {
            let claim = self.claim(&view, issue).await?;
            if let Standing::Live { .. } | Standing::Unreadable =
                self.standing_of(&view, issue, claim.as_ref(), now).await?
            {
                held.insert(issue);
            }
        }
        Ok(held)
    }

    /// Claims `issue` for this orchestrator's `agent` at `now`, if nobody else holds it or its
    /// holder has gone silent (a takeover): the claim reference moves from the tip read, or is
    /// made if there is none, so that of several orchestrators only one wins. Returns the new
    /// record, or `None` if another orchestrator (or someone unknown) holds the issue or won
    /// the race. Between this orchestrator's own slots the labels decide, as they always have
    /// ([`claim_issue`]).
    ///
    /// [`claim_issue`]: crate::app::queue::claim::claim_issue
    pub async fn take(
        &self,
        issue: u64,
        agent: &str,
        now: Timestamp,
    ) -> AppResult<Option<ClaimRecord>> {
        let view = self.view(now).await?;
        let tip = view.claims.get(&issue).cloned();
        let claim = self.claim(&view, issue).await?;
        match self.standing_of(&view, issue, claim.as_ref(), now).await? {
            Standing::Live { owner } => {
                tracing::debug!(issue, owner, "another orchestrator holds the issue");
                return Ok(None);
            }
            Standing::Unreadable => return Ok(None),
            Standing::Stale { owner } => {
                tracing::warn!(
                    issue,
                    owner,
                    "taking over the claim of a silent orchestrator"
                );
            }
            Standing::Mine => {
                if let Some(held) = claim.as_ref().and_then(Claim::record)
                    && held.agent == agent
                {
                    // This slot holds it already (its label edit failed after the claim was
                    // written, or this orchestrator restarted): the same attempt goes on, none
                    // is counted twice.
                    return Ok(Some(held.clone()));
                }
            }
            Standing::Free => {}
        }
        let previous = claim.as_ref().and_then(Claim::record);
        let record = ClaimRecord::claim(previous, &self.orchestrator, agent, issue, now);
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
        let view = self.read_refs().await?;
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
        let view = self.read_refs().await?;
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
                .insert(commit, Claim::Record(record.clone()));
        }
        Ok(moved)
    }
}

/// `issue`'s claim on the remote as it stands now: the commit its reference points at, which
/// is the claim's id (each claim and each release is a commit of its own, so an attempt
/// dispatched under one claim can tell whether that claim still stands), and what it says.
pub async fn current_claim(remote: &dyn Remote, issue: u64) -> AppResult<Option<(String, Claim)>> {
    let reference = claim_ref(issue);
    let Some(tip) = remote.fetch_refs(&reference).await?.remove(&reference) else {
        return Ok(None);
    };
    let message = remote.commit_message(&tip).await?;
    Ok(Some((tip, Claim::read(&message))))
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
