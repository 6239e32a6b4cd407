//! `bundle`: the train. Finished branches (`route:review`) leave together in bundle pull
//! requests of at most `max_bundle_size` (as many as a departure needs); branches that conflict
//! get their own pull request, or wait. Every departure is journaled, whatever it carried.
//!
//! Every step can be repeated: the forge and git are read afresh each run, the bundle branch is
//! named after its departure and written with a compare and swap, pull requests are looked up
//! before they are opened, and comments carry a marker so they are written once. A run after a
//! crash at any step therefore converges on the same state, with no duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, TryLockError};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::app::lifecycle::transitions::open_journal;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::branches::name::parse_branch_name;
use crate::core::config::{BundleTrigger, BundlingConfig};
use crate::core::lifecycle::machine::{Event, State};
use crate::core::trains::dispatched::DepartedFrom;
use crate::core::trains::plan::{BundlePlan, Candidate};
use crate::core::trains::pull_request::{BundleRecord, is_lone_branch};
use crate::core::trains::schedule::{self, BUNDLE_BRANCH_PREFIX, Departure, Schedule};
use crate::ports::Forge;
use crate::ports::forge::{Number, PullRequest, PullRequestFilter, PullRequestState};
use crate::ports::git::Repository;
use crate::ports::journal::{DepartureRecord, Journal, TrainLog};

mod boarding;
mod closed;
mod departure;
mod orphans;
mod rebuild;
mod repair;
mod reviews;
mod status;
mod tips;
mod verification;

pub use orphans::LeftAlone;
pub use reviews::ReviewRework;
pub use verification::BundleVerification;

/// The lock file, under `.clambake/`, that keeps a second bundler out.
pub const LOCK_FILE: &str = "bundle.lock";

/// How many times, 50 ms apart, a busy lock is tried before giving up.
const LOCK_ATTEMPTS: u32 = 10;

/// The repository, forge and settings a train runs against.
pub struct Bundler<'a> {
    /// The repository's git ports.
    pub git: &'a Repository,
    pub forge: &'a dyn Forge,
    pub config: &'a BundlingConfig,
    /// Where the lifecycle of the agent slots that landed the work is recorded; `None` with
    /// `state_machine.enabled = false`.
    pub journal: Option<&'a dyn Journal>,
    /// Where departures and the records of bundles are kept, and read back from.
    pub train_log: &'a dyn TrainLog,
    /// `.clambake/`, where the lock lives.
    pub state_dir: PathBuf,
    /// Checks bundles before they are offered; `None` when bundles are not checked.
    pub verification: Option<&'a BundleVerification<'a>>,
    /// Sends reviewed work back to agents; `None` leaves reviews unread.
    pub rework: Option<&'a ReviewRework<'a>>,
}

/// Where a due departure is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departs {
    /// Here, recorded as made `from` there (here, or here instead of the workflow).
    Here(DepartedFrom),
    /// By the bundling workflow: a due departure with work to send is held, and returned for
    /// the caller to dispatch; one with nothing to send, or an interrupted train, leaves here.
    Elsewhere,
    /// Nowhere: the bundling workflow's run is out. Earlier trains are still repaired.
    Nowhere,
    /// Planned, and nothing changed.
    DryRun,
}

/// A departure held for the bundling workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Its slot, as a train here would name it.
    pub at: Timestamp,
    /// When the latest of the work it would carry landed.
    pub last_landing: Option<Timestamp>,
    /// The newest pull request there was: what the workflow's run opens is numbered after it.
    pub newest_pull_request: Option<Number>,
}

/// How a `route:review` issue stands with respect to the next train.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Standing {
    /// Ready to ride.
    Waiting { branch: String, head: String },
    /// No `agentNNN/<issue>-...` branch exists.
    NoBranch,
    /// Its branch has nothing the base lacks.
    NothingAhead { branch: String },
    /// Already carried by an open bundle pull request.
    InBundle { pull_request: Number },
    /// Already has a pull request of its own.
    OwnPullRequest { pull_request: Number },
    /// Its pull request of its own was closed without merging, and its branch has not moved
    /// since: a person turned it down, and no train opens it again.
    Declined {
        branch: String,
        pull_request: Number,
    },
    /// Its branch here and on the remote each have commits the other lacks: which to send is
    /// for a person to settle (merge one into the other), so it waits.
    Diverged { branch: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewIssue {
    pub issue: Number,
    pub title: String,
    /// `labels::priority_rank` of its labels.
    pub priority: u8,
    /// When the issue last changed on the forge: landing it (moving it to review) does.
    #[serde(skip)]
    pub updated_at: Timestamp,
    #[serde(flatten)]
    pub standing: Standing,
}

/// An open bundle pull request and what it carries.
#[derive(Debug, Clone, Serialize)]
pub struct OpenBundle {
    pub pull_request: Number,
    pub branch: String,
    pub members: Vec<Number>,
    /// What its checks did so far, as the journal has it: each bisection step, the verdict,
    /// the rebuilds.
    pub checks: Vec<crate::ports::journal::BundleCheckEntry>,
}

/// `bundle --status`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainStatus {
    pub trigger: crate::core::config::BundleTrigger,
    pub last_departure: Option<Timestamp>,
    pub next: Departure,
    pub waiting: Vec<ReviewIssue>,
    pub open_bundles: Vec<OpenBundle>,
}

/// A pull request the train opened (or found already open).
#[derive(Debug, Clone, Serialize)]
pub struct OpenedPullRequest {
    pub number: Number,
    pub head: String,
    pub issues: Vec<Number>,
    /// False when an earlier run had already opened it.
    pub created: bool,
    /// For a branch's own pull request, why it rides alone; `None` for a bundle.
    pub why: Option<String>,
}

/// A branch the train left waiting, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub issue: Number,
    pub why: String,
}

/// What one `bundle` run did, or (dry run) would do.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub dry_run: bool,
    /// Why the train left, or why it did not.
    pub departure: Departure,
    /// When the next one leaves, as this run leaves things.
    pub next: Departure,
    /// The plan of the departure's first bundle (what `--dry-run` shows).
    pub plan: Option<BundlePlan>,
    /// The departure's bundles, in merge order: as many as `max_bundle_size` requires.
    pub bundles: Vec<OpenedPullRequest>,
    pub individual: Vec<OpenedPullRequest>,
    /// Set aside and left for a later train.
    pub waiting: Vec<Waiting>,
    /// Repairs to earlier trains: finished steps, rebuilt bundles, cleaned-up branches.
    pub repairs: Vec<String>,
    /// Earlier trains' open pull requests the plan was made on top of, in merge order.
    pub pending: Vec<Number>,
    /// Earlier trains' open pull requests that no longer merge, left out of the plan.
    pub left_out: Vec<LeftOut>,
    /// Other orchestrators' bundle branches still waiting for their pull request.
    pub left_alone: Vec<LeftAlone>,
    /// Open bundles still waiting for their checks' results.
    pub checking: Vec<Number>,
}

/// An earlier train's open pull request the plan could not be made on top of.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    pub pull_request: Number,
    pub why: String,
}

/// `bundle --diagnose`: every `route:review` issue and why it is or is not in the next train.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub issue: Number,
    pub title: String,
    pub branch: Option<String>,
    pub in_next_train: bool,
    pub why: String,
}

/// After work lands: runs the train if `bundling` is on and its trigger says one is due
/// (`on_land` always is; `schedule` when a departure slot has passed). `None` when bundling is
/// off.
pub async fn train_after_landing(
    workspace: &Workspace,
    forge: &dyn Forge,
    now: Timestamp,
) -> AppResult<Option<TrainReport>> {
    let config = workspace.load_config()?.config;
    if !config.bundling.enabled {
        return Ok(None);
    }
    let journal = open_journal(workspace)?;
    let verification = BundleVerification::open(workspace, &config, &journal).await?;
    let rework = ReviewRework::new(&config, &journal);
    let bundler = Bundler {
        git: workspace.repository(),
        forge,
        config: &config.bundling,
        journal: config
            .state_machine
            .enabled
            .then_some(&journal as &dyn Journal),
        train_log: &journal,
        state_dir: workspace.state_dir(),
        verification: verification.as_ref(),
        rework: Some(&rework),
    };
    Ok(Some(bundler.run(now, false, false).await?))
}

/// What the forge and git say about earlier trains.
struct Trains {
    bundles: Vec<(PullRequest, BundleRecord)>,
    /// This train's bundle branches with no pull request: a crash between writing one and
    /// opening its pull request.
    orphans: Vec<(String, String)>,
    /// Other orchestrators' bundle branches with no pull request yet, left to them.
    left_alone: Vec<LeftAlone>,
    /// The open pull requests trains made (bundles, and lone branches' own pull requests), by
    /// number: the next train's bundle is merged after them. Fallbacks are not among them: each
    /// was opened knowing it conflicts with its bundle or the base, and must be rebased anyway.
    open: Vec<(Number, String)>,
    /// The latest departure the journal or a bundle branch or pull request shows: a departure
    /// made elsewhere is seen in its bundles, one that sent no bundle in the journal.
    last_departure: Option<Timestamp>,
    /// The branches the trains read: the remote's, with this repository's where it is ahead.
    tips: tips::TrainTips,
    /// The highest pull request number the forge showed.
    newest_pull_request: Option<Number>,
}

impl Bundler<'_> {
    fn schedule(&self) -> Schedule {
        Schedule::new(
            self.config.trigger,
            NonZeroU32::new(self.config.schedule_minutes).unwrap_or(NonZeroU32::MIN),
        )
    }

    /// Holds the repository's bundler lock until dropped. A lock that is busy is tried again
    /// for a moment: a child process forked just then shares the lock until it execs.
    async fn lock(&self) -> AppResult<File> {
        let path = self.state_dir.join(LOCK_FILE);
        let io = |action, source| AppError::Io {
            action,
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.state_dir).map_err(|e| io("create", e))?;
        let file = File::create(&path).map_err(|e| io("create", e))?;
        for _ in 0..LOCK_ATTEMPTS {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(TryLockError::Error(e)) => return Err(io("lock", e)),
            }
        }
        Err(AppError::BundlerBusy { lock: path })
    }

    /// The trains the forge and git show at `now`. A bundle name stamped later than `now` (by
    /// more than [`FUTURE_SLACK`]: one departure's bundles are named a second apart) is not a
    /// train's: anyone can push such a branch, and believing it would hold every later
    /// departure back until then.
    async fn trains(&self, now: Timestamp) -> AppResult<Trains> {
        let latest = now + FUTURE_SLACK;
        let departure_of = |head: &str| schedule::departure_of(head).filter(|at| *at <= latest);
        let prs = self
            .forge
            .pull_requests(&PullRequestFilter::default())
            .await?;
        let tips = self.train_tips().await?;
        let base = self.forge.default_branch().await?;
        let mut departures: Vec<Timestamp> = Vec::new();
        let mut bundles = Vec::new();
        let mut named: BTreeSet<&str> = BTreeSet::new();
        let mut open = Vec::new();
        for pr in &prs {
            let bundle = departure_of(&pr.head);
            // A lone branch's pull request is one of Clambake's only if it carries an agent
            // branch: anyone can end a body with the marker.
            let lone = is_lone_branch(&pr.body) && parse_branch_name(&pr.head).is_some();
            if pr.state == PullRequestState::Open && (bundle.is_some() || lone) {
                open.push((pr.number, pr.head.clone()));
            }
            if let Some(at) = bundle {
                departures.push(at);
                named.insert(&pr.head);
                if let Some(record) = self.trusted_record(pr, &base)? {
                    bundles.push((pr.clone(), record));
                }
            }
        }
        let mut orphans = Vec::new();
        for (branch, tip) in tips.tips.range(BUNDLE_BRANCH_PREFIX.to_owned()..) {
            let Some(at) = departure_of(branch) else {
                if !branch.starts_with(BUNDLE_BRANCH_PREFIX) {
                    break;
                }
                continue;
            };
            departures.push(at);
            if !named.contains(branch.as_str()) {
                orphans.push((branch.clone(), tip.clone()));
            }
        }
        open.sort_unstable();
        let (orphans, left_alone) = self.own_orphans(orphans, now)?;
        // A departure recorded while the clock ran ahead counts no more than a name would.
        departures.extend(
            self.train_log
                .last_departure()?
                .map(|d| d.at)
                .filter(|at| *at <= latest),
        );
        Ok(Trains {
            bundles,
            orphans,
            left_alone,
            open,
            last_departure: departures.into_iter().max(),
            tips,
            newest_pull_request: prs.iter().map(|pr| pr.number).max(),
        })
    }

    async fn base(&self) -> AppResult<(String, String)> {
        let base = self.forge.default_branch().await?;
        let tip = self
            .git
            .remote
            .tip(&base)
            .await?
            .ok_or_else(|| crate::ports::forge::ForgeError::NoSuchBranch(base.clone()))?;
        Ok((base, tip))
    }

    fn max_size(&self) -> usize {
        usize::try_from(self.config.max_bundle_size).unwrap_or(usize::MAX)
    }

    /// Runs the train: repairs earlier ones, then departs if due (or forced), recording the
    /// departure whatever it carried.
    pub async fn run(&self, now: Timestamp, force: bool, dry_run: bool) -> AppResult<TrainReport> {
        let departs = if dry_run {
            Departs::DryRun
        } else {
            Departs::Here(DepartedFrom::Here)
        };
        Ok(self.run_as(now, force, departs).await?.0)
    }

    /// [`Self::run`], departing as `departs` says. A departure held for the bundling workflow
    /// is returned with the report.
    pub async fn run_as(
        &self,
        now: Timestamp,
        force: bool,
        departs: Departs,
    ) -> AppResult<(TrainReport, Option<Held>)> {
        let dry_run = departs == Departs::DryRun;
        let _lock = if dry_run {
            None
        } else {
            Some(self.lock().await?)
        };
        // The branches the trains read are the remote's.
        let fetched = self.git.remote.fetch().await?;
        tracing::debug!(?fetched, "fetched the remote");
        let mut repairs = Vec::new();
        let (mut rebuild, mut checking) = (false, Vec::new());
        let trains = self.trains(now).await?;
        if !dry_run {
            rebuild = self.repair(&trains, &mut repairs, now).await?;
            self.act_on_reviews(now, &mut repairs).await?;
            checking = self.verify_bundles(now, &mut repairs).await?;
        }
        let trains = self.trains(now).await?;
        let (base, base_tip) = self.base().await?;
        // The review issues cost git processes each: read only when the trigger needs their
        // landing times, or when the train leaves.
        let mut review = None;
        let orphan = trains.orphans.first().cloned();
        let departure = match &orphan {
            Some((branch, _)) => Departure::Due {
                at: schedule::departure_of(branch).expect("orphans are bundle branches"),
            },
            None if force || rebuild => Departure::Due {
                at: schedule::fresh_departure(now, trains.last_departure),
            },
            None => {
                let last_landing = if self.config.trigger == BundleTrigger::OnLand {
                    let issues = self.review_issues(&base_tip, &trains).await?;
                    let found = self.candidates(&issues).await?;
                    let last = last_landing(&issues, &found);
                    review = Some((issues, found));
                    last
                } else {
                    None
                };
                self.schedule()
                    .decide(now, trains.last_departure, last_landing)
            }
        };
        let mut report = TrainReport {
            dry_run,
            departure,
            next: departure,
            plan: None,
            bundles: Vec::new(),
            individual: Vec::new(),
            waiting: Vec::new(),
            repairs,
            pending: Vec::new(),
            left_out: Vec::new(),
            left_alone: trains.left_alone.clone(),
            checking,
        };
        let Departure::Due { at } = departure else {
            return Ok((report, None));
        };
        if departs == Departs::Nowhere {
            return Ok((report, None));
        }
        let (review, candidates) = match review {
            Some(read) => read,
            None => {
                let issues = self.review_issues(&base_tip, &trains).await?;
                let found = self.candidates(&issues).await?;
                (issues, found)
            }
        };
        // Only work to send is worth a workflow run; an interrupted train is finished here.
        if departs == Departs::Elsewhere && orphan.is_none() && !candidates.is_empty() {
            let last_landing = last_landing(&review, &candidates);
            let held = Held {
                at,
                last_landing,
                newest_pull_request: trains.newest_pull_request,
            };
            return Ok((report, Some(held)));
        }
        let made_by = match departs {
            Departs::Here(made_by) => made_by,
            _ => DepartedFrom::Here,
        };
        report.waiting.extend(status::diverged(&review));
        let leaving = departure::Leaving {
            at,
            base: &base,
            base_tip: &base_tip,
            orphan,
            now,
        };
        self.depart(leaving, &trains, candidates, &mut report)
            .await?;
        let sent: Vec<Number> = report
            .bundles
            .iter()
            .chain(&report.individual)
            .map(|pr| pr.number)
            .collect();
        // Under `on_land` a departure waits for new landings; one that sent nothing (its work
        // waits behind open pull requests) must not make the waiting work wait for more.
        // A departure made instead of the workflow's is kept whatever it sent: it says why.
        let counts = !sent.is_empty()
            || self.config.trigger != BundleTrigger::OnLand
            || matches!(made_by, DepartedFrom::Fallback { .. });
        if !dry_run && counts {
            self.train_log.record_departure(&DepartureRecord {
                at,
                pull_requests: sent,
                made_by,
            })?;
            report.next = self.schedule().decide(now, Some(at), None);
        }
        Ok((report, None))
    }
}

/// When work last landed among the waiting issues: the latest move of one to review (its
/// forge `updated_at`) or commit on its branch. The commit alone would not do: an agent that
/// committed before a train left (one a killed run left for the next) may land after it.
fn last_landing(review: &[ReviewIssue], candidates: &[Candidate]) -> Option<Timestamp> {
    let moved = review
        .iter()
        .filter(|entry| matches!(entry.standing, Standing::Waiting { .. }))
        .map(|entry| entry.updated_at);
    candidates.iter().map(|c| c.landed_at).chain(moved).max()
}

/// A train's step in an agent slot's lifecycle, with the bundle pull request's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LifecycleStep {
    Bundle(Number),
    Merge(Number),
}

impl LifecycleStep {
    /// The event to record for `issue` on a slot in `state`, or `None` when the slot is not
    /// (or no longer) where this step applies, or already past it.
    fn event_from(self, state: &State, issue: Number) -> Option<Event> {
        match (self, state) {
            (Self::Bundle(bundle_pr), State::Landed { issue: landed }) if *landed == issue => {
                Some(Event::Bundle { bundle_pr })
            }
            (
                Self::Bundle(bundle_pr),
                State::Bundled {
                    issues,
                    bundle_pr: current,
                },
            ) if issues.contains(&issue) && *current != bundle_pr => {
                Some(Event::Bundle { bundle_pr })
            }
            (Self::Merge(merged), State::Bundled { issues, bundle_pr })
                if issues.contains(&issue) && *bundle_pr == merged =>
            {
                Some(Event::Merge)
            }
            _ => None,
        }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a.canonicalize().ok() == b.canonicalize().ok()
}

/// How far past now a bundle's name may be stamped and still be a train's: the bundles of one
/// departure are named a second apart.
const FUTURE_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// The agent branch for `issue`: `agentNNN/<issue>-<slug>`; the last in name order if several.
fn issue_branch(tips: &BTreeMap<String, String>, issue: Number) -> Option<(&String, &String)> {
    tips.iter()
        .rfind(|(name, _)| parse_branch_name(name).is_some_and(|owner| owner.issue == issue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_steps_apply_only_where_the_slot_still_is() {
        let landed = State::Landed { issue: 4 };
        let bundled = State::Bundled {
            issues: vec![4],
            bundle_pr: 9,
        };
        let bundle = LifecycleStep::Bundle(9);
        assert_eq!(
            bundle.event_from(&landed, 4),
            Some(Event::Bundle { bundle_pr: 9 })
        );
        assert_eq!(bundle.event_from(&landed, 5), None);
        assert_eq!(
            bundle.event_from(&bundled, 4),
            None,
            "already bundled there"
        );
        assert_eq!(
            LifecycleStep::Bundle(12).event_from(&bundled, 4),
            Some(Event::Bundle { bundle_pr: 12 })
        );
        assert_eq!(
            LifecycleStep::Merge(9).event_from(&bundled, 4),
            Some(Event::Merge)
        );
        assert_eq!(LifecycleStep::Merge(12).event_from(&bundled, 4), None);
        assert_eq!(LifecycleStep::Merge(9).event_from(&landed, 4), None);
        assert_eq!(bundle.event_from(&State::Idle {}, 4), None);
    }

    #[test]
    fn agent_branches_are_found_by_issue_number() {
        let tips: BTreeMap<String, String> = [
            ("agent001/4-parser", "a"),
            ("agent002/42-other", "b"),
            ("agent003/4x-not-a-branch", "c"),
            ("feature/4-manual", "d"),
            ("agent01/4-short-slot", "e"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            issue_branch(&tips, 4).map(|(b, _)| b.as_str()),
            Some("agent001/4-parser")
        );
        assert_eq!(
            issue_branch(&tips, 42).map(|(b, _)| b.as_str()),
            Some("agent002/42-other")
        );
        assert_eq!(issue_branch(&tips, 5), None);
    }
}
