//! Claims shared by several orchestrators on one repository: a claim is a reference on the
//! remote, `refs/clambake/claims/<issue>`, moved only by compare and swap, whose commit carries
//! a [`ClaimRecord`] (who holds the issue, with which slot, at which attempt) and whose parent
//! is the record before it. Each orchestrator shows it is alive by moving its own reference
//! under `refs/clambake/orchestrators/`. This module formats and reads the records and decides
//! whether an orchestrator may take a claim.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};

use super::sightings::Sightings;

/// Where the claims live, one reference per issue.
pub const CLAIMS_PREFIX: &str = "refs/clambake/claims/";
/// Where each orchestrator's sign of life lives, one reference per orchestrator.
pub const ORCHESTRATORS_PREFIX: &str = "refs/clambake/orchestrators/";

/// The first line of every claim record's message.
const SUBJECT: &str = "clambake claim";

/// The reference that holds `issue`'s claim.
pub fn claim_ref(issue: u64) -> String {
    format!("{CLAIMS_PREFIX}{issue}")
}

/// The issue a claim reference is for, if `name` is one.
pub fn claimed_issue(name: &str) -> Option<u64> {
    let number = name.strip_prefix(CLAIMS_PREFIX)?;
    number
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| number.parse().ok())?
}

/// The reference an orchestrator moves to show it is alive.
pub fn orchestrator_ref(id: &str) -> String {
    format!("{ORCHESTRATORS_PREFIX}{id}")
}

/// The orchestrator a sign-of-life reference belongs to, if `name` is one.
pub fn orchestrator_of(name: &str) -> Option<&str> {
    name.strip_prefix(ORCHESTRATORS_PREFIX)
        .filter(|id| valid_orchestrator_id(id))
}

/// Whether `id` can name an orchestrator: it becomes one component of a reference name and one
/// line of a record, so letters, digits, `.`, `_` and `-`, not starting with `.` or `-`.
pub fn valid_orchestrator_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with(['.', '-'])
        && !id.ends_with('.')
        && !id.contains("..")
        && !id.ends_with(".lock")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An orchestrator's id made from this machine's `host` name and a random `suffix`: what the
/// host name has that an id cannot is replaced by `-`.
pub fn generated_orchestrator_id(host: &str, suffix: u32) -> String {
    let host: String = host
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let host = host.trim_matches('-');
    let host = if host.is_empty() { "clambake" } else { host };
    format!("{host}-{suffix:08x}")
}

/// Where a claim stands: held by its orchestrator, or given back and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    Held,
    /// The work landed.
    Landed,
    /// The attempt failed: it counts toward `agents.max_attempts`.
    Failed,
    /// Given back with no attempt counted (the agent could not run here, the claim was
    /// withdrawn).
    Returned,
}

impl ClaimState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Landed => "landed",
            Self::Failed => "failed",
            Self::Returned => "returned",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Held, Self::Landed, Self::Failed, Self::Returned]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One commit of an issue's claim chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    pub issue: u64,
    /// The orchestrator that wrote it.
    pub orchestrator: String,
    /// That orchestrator's slot on the issue.
    pub agent: String,
    /// The attempt the claim is for, counted over the whole chain: every orchestrator's.
    pub attempt: u32,
    /// The failed attempts of the whole chain so far, what `agents.max_attempts` counts.
    pub failures: u32,
    pub state: ClaimState,
    pub at: Timestamp,
}

impl ClaimRecord {
    /// The claim `orchestrator` makes for `agent` on `issue` after `previous` (the chain's tip,
    /// if any): the next attempt, the failures carried on.
    pub fn claim(
        previous: Option<&ClaimRecord>,
        orchestrator: &str,
        agent: &str,
        issue: u64,
        at: Timestamp,
    ) -> Self {
        Self {
            issue,
            orchestrator: orchestrator.to_owned(),
            agent: agent.to_owned(),
            attempt: previous.map_or(0, |p| p.attempt) + 1,
            failures: previous.map_or(0, |p| p.failures),
            state: ClaimState::Held,
            at,
        }
    }

    /// This claim given back as `state` (not [`ClaimState::Held`]) at `at`; a failure counts.
    pub fn released(&self, state: ClaimState, at: Timestamp) -> Self {
        let failed = u32::from(state == ClaimState::Failed);
        Self {
            state,
            failures: self.failures + failed,
            at,
            ..self.clone()
        }
    }

    /// The record as a commit message: a subject a person can read, then one `key: value` line
    /// per field.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Reads a record written by [`ClaimRecord::message`], by key: keys it does not know (a
    /// newer Clambake's) are passed over, so such a record still reads. `None` for any other
    /// text, a record missing a key or giving one twice.
    pub fn parse(message: &str) -> Option<Self> {
        let mut lines = message.lines();
        if !lines.next()?.starts_with(SUBJECT) {
            return None;
        }
        let mut fields = BTreeMap::new();
        for (key, value) in lines.filter_map(|line| line.split_once(": ")) {
            if fields.insert(key, value).is_some() {
                return None;
            }
        }
        let field = |key: &str| fields.get(key).copied();
        let orchestrator = field("orchestrator").filter(|id| valid_orchestrator_id(id))?;
        let agent = field("agent").filter(|a| crate::queue::labels::agent_slot(a).is_some())?;
        Some(Self {
            issue: field("issue")?.parse().ok()?,
            orchestrator: orchestrator.to_owned(),
            agent: agent.to_owned(),
            attempt: field("attempt")?.parse().ok()?,
            failures: field("failures")?.parse().ok()?,
            state: ClaimState::parse(field("state")?)?,
            at: field("at")?.parse().ok()?,
        })
    }
}

/// An issue's claim as its reference's tip says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Record(ClaimRecord),
    /// A commit that is no record this Clambake can read (a newer one's format, or damage):
    /// held by someone unknown, so never free and never taken over.
    Unreadable,
}

impl Claim {
    /// What the tip's `message` says.
    pub fn read(message: &str) -> Self {
        ClaimRecord::parse(message).map_or(Self::Unreadable, Self::Record)
    }

    /// The record, if it can be read.
    pub fn record(&self) -> Option<&ClaimRecord> {
        match self {
            Self::Record(record) => Some(record),
            Self::Unreadable => None,
        }
    }
}

impl fmt::Display for ClaimRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{SUBJECT}: issue #{} {} by {} ({}), attempt {}",
            self.issue,
            self.state.as_str(),
            self.orchestrator,
            self.agent,
            self.attempt
        )?;
        writeln!(f)?;
        writeln!(f, "orchestrator: {}", self.orchestrator)?;
        writeln!(f, "agent: {}", self.agent)?;
        writeln!(f, "issue: {}", self.issue)?;
        writeln!(f, "attempt: {}", self.attempt)?;
        writeln!(f, "failures: {}", self.failures)?;
        writeln!(f, "state: {}", self.state.as_str())?;
        writeln!(f, "at: {}", self.at)
    }
}

/// Where an issue's claim stands for one orchestrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing<'a> {
    /// Nobody holds it.
    Free,
    /// This orchestrator holds it.
    Mine,
    /// Another orchestrator holds it and has been heard from lately: hands off.
    Live { owner: &'a str },
    /// Another orchestrator holds it but has been silent too long: it may be taken over.
    Stale { owner: &'a str },
    /// Its record cannot be read: someone unknown holds it, hands off.
    Unreadable,
}

/// How often, at most, an orchestrator says it is alive: the interval assumed for a sign of
/// life that does not say its own (an older Clambake's).
pub const HEARTBEAT_EVERY: SignedDuration = SignedDuration::from_mins(1);

/// How many of its heartbeat intervals a live orchestrator may stay silent, at most, before it
/// looks gone: its beats are that much more frequent than its silence limit.
const BEATS_PER_SILENCE: i32 = 4;

/// How often an orchestrator says it is alive when silence past `max_silence` makes its claims
/// stale: once a minute, or often enough that a live one never looks silent to the others
/// between two signs of life (a quarter of the limit, for a short one).
pub fn heartbeat_interval(max_silence: SignedDuration) -> SignedDuration {
    HEARTBEAT_EVERY.min(max_silence / BEATS_PER_SILENCE)
}

/// The silence after which an orchestrator that says it is alive every `owner_every` looks
/// gone to one whose own limit is `max_silence`: that limit, but never less than a few of the
/// owner's intervals, since its owner paces its signs of life by its own limit, not this one.
pub fn tolerated_silence(
    max_silence: SignedDuration,
    owner_every: SignedDuration,
) -> SignedDuration {
    max_silence.max(owner_every * BEATS_PER_SILENCE)
}

/// Where `issue`'s claim `tip` (its reference's tip, if any) stands for orchestrator `me` at
/// `now`. Its holder is heard from when the claim or the holder's sign of life moves, as this
/// machine saw them move (`sightings`, by this machine's clock: another machine's may be
/// wrong); silent longer than `max_silence` (`recovery.max_stuck_time_minutes`), it is stale.
/// The holder says it is alive every `owner_every` ([`heartbeat_every`] of its sign of life),
/// so it is never judged silent sooner than [`tolerated_silence`] allows. A reference absent
/// from `sightings` is no sign of life, but a claim none of whose references was ever seen is
/// taken as moving now.
pub fn standing<'a>(
    tip: Option<&'a Claim>,
    issue: u64,
    me: &str,
    sightings: &Sightings,
    now: Timestamp,
    max_silence: SignedDuration,
    owner_every: SignedDuration,
) -> Standing<'a> {
    let tip = match tip {
        None => return Standing::Free,
        Some(Claim::Unreadable) => return Standing::Unreadable,
        Some(Claim::Record(record)) => record,
    };
    if tip.state != ClaimState::Held {
        return Standing::Free;
    }
    let owner = tip.orchestrator.as_str();
    if owner == me {
        return Standing::Mine;
    }
    let last = [claim_ref(issue), orchestrator_ref(owner)]
        .iter()
        .filter_map(|reference| sightings.since(reference))
        .max()
        .unwrap_or(now);
    if now.duration_since(last) > tolerated_silence(max_silence, owner_every) {
        Standing::Stale { owner }
    } else {
        Standing::Live { owner }
    }
}

/// The message of an orchestrator's sign of life: its id; `nonce`, a value its process drew at
/// random, by which it tells its own signs from those of another process with its id; and
/// `every`, how often it says it is alive, by which the others judge its silence.
pub fn heartbeat_message(orchestrator: &str, nonce: &str, every: SignedDuration) -> String {
    let millis = every.as_millis();
    format!("clambake orchestrator {orchestrator} alive\n\nnonce: {nonce}\nevery-ms: {millis}\n")
}

/// The message of an orchestrator's last sign of life, as its process ends in order: a process
/// starting under its id next need not wait to see whether it still lives.
pub fn sign_off_message(orchestrator: &str, nonce: &str) -> String {
    format!("clambake orchestrator {orchestrator} stopped\n\nnonce: {nonce}\nstate: stopped\n")
}

/// Whether a sign of life's `message` is the last of a process that ended in order.
pub fn signed_off(message: &str) -> bool {
    message.lines().any(|line| line == "state: stopped")
}

/// How long a process starting under an id watches a sign of life its predecessor left, whose
/// message says it comes every `every`, before it takes that predecessor for gone: two of its
/// intervals, one for the beat and one for a slow pass of its loop.
pub fn life_watch(every: SignedDuration) -> SignedDuration {
    every * 2
}

/// How often the orchestrator whose sign of life has `message` says it is alive, by its
/// `every-ms` key: [`HEARTBEAT_EVERY`] (the longest) when it says none (an older Clambake's)
/// or more, so that no sign of life keeps its claims from ever looking stale.
pub fn heartbeat_every(message: &str) -> SignedDuration {
    message
        .lines()
        .find_map(|line| line.strip_prefix("every-ms: "))
        .and_then(|millis| millis.parse::<u32>().ok())
        .map_or(HEARTBEAT_EVERY, |millis| {
            SignedDuration::from_millis(i64::from(millis)).min(HEARTBEAT_EVERY)
        })
}

/// The nonce a sign of life's `message` carries, if any.
pub fn heartbeat_nonce(message: &str) -> Option<&str> {
    message
        .lines()
        .find_map(|line| line.strip_prefix("nonce: "))
}

/// Whether another process runs under this orchestrator's id: its sign of life was moved, since
/// this process last moved it to `published`, to `current` with a nonce not `mine`.
pub fn another_process_with_my_id(
    published: Option<&str>,
    current: Option<(&str, &str)>,
    mine: &str,
) -> bool {
    match (published, current) {
        (Some(published), Some((commit, message))) => {
            commit != published && heartbeat_nonce(message) != Some(mine)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn held(orchestrator: &str, when: &str) -> ClaimRecord {
        ClaimRecord::claim(None, orchestrator, "agent001", 12, at(when))
    }

    #[test]
    fn a_live_orchestrator_says_so_well_within_the_silence_that_makes_it_stale() {
        let minutes = SignedDuration::from_mins;
        assert_eq!(heartbeat_interval(minutes(90)), minutes(1));
        assert_eq!(
            heartbeat_interval(minutes(1)),
            SignedDuration::from_secs(15)
        );
    }

    #[test]
    fn a_short_limit_here_never_judges_an_owner_by_less_than_its_own_pace() {
        // This machine's limit is 15 s; the other's is the default, so it beats once a minute.
        let limit = SignedDuration::from_secs(15);
        let now = at("2026-12-01T12:00:00Z");
        let claim = Claim::Record(held("b", "2026-12-01T11:00:00Z"));
        let beat = |seconds_ago: i64| {
            let heard = now - SignedDuration::from_secs(seconds_ago);
            seen("b", "2026-12-01T11:00:00Z", "h1", &heard.to_string())
        };
        let default_pace = heartbeat_every(&heartbeat_message("b", "n", HEARTBEAT_EVERY));
        assert_eq!(default_pace, HEARTBEAT_EVERY);
        let older = heartbeat_every("clambake orchestrator b alive\n\nnonce: n\n");
        assert_eq!(older, HEARTBEAT_EVERY, "no interval said: the longest");
        let judge = |seconds_ago, every| {
            standing(Some(&claim), 12, "a", &beat(seconds_ago), now, limit, every)
        };
        assert_eq!(
            judge(45, default_pace),
            Standing::Live { owner: "b" },
            "45 s between two of its once-a-minute beats"
        );
        assert_eq!(judge(241, default_pace), Standing::Stale { owner: "b" });
        let quick = heartbeat_every(&heartbeat_message("b", "n", heartbeat_interval(limit)));
        assert_eq!(quick, SignedDuration::from_millis(3750));
        assert_eq!(
            judge(16, quick),
            Standing::Stale { owner: "b" },
            "as quick as this one"
        );
        let boastful = heartbeat_every("clambake orchestrator b alive\n\nevery-ms: 3600000\n");
        assert_eq!(boastful, HEARTBEAT_EVERY, "never slower than once a minute");
    }

    #[test]
    fn a_record_reads_back_and_names_what_it_says() {
        let record = held("build-1-0000abcd", "2026-12-01T12:00:00Z");
        let message = record.message();
        assert!(message.starts_with("clambake claim: issue #12 held by build-1-0000abcd"));
        assert_eq!(ClaimRecord::parse(&message), Some(record));
        assert_eq!(ClaimRecord::parse("Merge branch 'x'"), None);
        let forged = message.replace("agent: agent001", "agent: somebody");
        assert_eq!(ClaimRecord::parse(&forged), None);
    }

    #[test]
    fn the_chain_counts_attempts_and_failures_across_orchestrators() {
        let first = held("a", "2026-12-01T12:00:00Z");
        let failed = first.released(ClaimState::Failed, at("2026-12-01T12:10:00Z"));
        let second = ClaimRecord::claim(Some(&failed), "b", "agent003", 12, failed.at);
        assert_eq!((second.attempt, second.failures), (2, 1));
        let returned = second.released(ClaimState::Returned, second.at);
        assert_eq!(returned.failures, 1, "a claim given back counts no failure");
        let third = ClaimRecord::claim(Some(&returned), "a", "agent001", 12, second.at);
        assert_eq!((third.attempt, third.failures), (3, 1));
    }

    /// What this machine saw of `owner`'s claim on #12 and sign of life: the claim since
    /// `claimed`, the sign of life at `commit` since `heard`.
    fn seen(owner: &str, claimed: &str, commit: &str, heard: &str) -> Sightings {
        let mut sightings = Sightings::default();
        let (claim, alive) = (claim_ref(12), orchestrator_ref(owner));
        sightings.observe([(claim.as_str(), "c1")], at(claimed));
        sightings.observe(
            [(claim.as_str(), "c1"), (alive.as_str(), commit)],
            at(heard),
        );
        sightings
    }

    #[test]
    fn another_orchestrators_claim_is_kept_while_it_lives() {
        let silence = SignedDuration::from_mins(90);
        let now = at("2026-12-01T12:00:00Z");
        let claim = Claim::Record(held("b", "2026-12-01T11:00:00Z"));
        let none = Sightings::default();
        let standing_of = |claim: &Claim, me: &str, sightings: &Sightings| match standing(
            Some(claim),
            12,
            me,
            sightings,
            now,
            silence,
            HEARTBEAT_EVERY,
        ) {
            Standing::Free => "free".to_owned(),
            Standing::Mine => "mine".to_owned(),
            Standing::Live { owner } => format!("live, {owner}"),
            Standing::Stale { owner } => format!("stale, {owner}"),
            Standing::Unreadable => "unreadable".to_owned(),
        };
        assert_eq!(
            standing(None, 12, "a", &none, now, silence, HEARTBEAT_EVERY),
            Standing::Free
        );
        let released = Claim::Record(claim.record().unwrap().released(ClaimState::Landed, now));
        assert_eq!(standing_of(&released, "a", &none), "free");
        assert_eq!(standing_of(&claim, "b", &none), "mine");
        assert_eq!(
            standing_of(&claim, "a", &none),
            "live, b",
            "never seen: as if now"
        );
        let heard = seen("b", "2026-12-01T09:00:00Z", "h1", "2026-12-01T11:59:00Z");
        assert_eq!(
            standing_of(&claim, "a", &heard),
            "live, b",
            "an orchestrator heard from lately keeps an old claim"
        );
        let long_ago = seen("b", "2026-12-01T09:00:00Z", "h1", "2026-12-01T10:00:00Z");
        assert_eq!(standing_of(&claim, "a", &long_ago), "stale, b");
        let mut no_sign_of_life = Sightings::default();
        let claimed = claim_ref(12);
        no_sign_of_life.observe([(claimed.as_str(), "c1")], at("2026-12-01T10:00:00Z"));
        assert_eq!(
            standing_of(&claim, "a", &no_sign_of_life),
            "stale, b",
            "an orchestrator with no sign of life is heard from by its claim alone"
        );
    }

    #[test]
    fn liveness_goes_by_this_machines_clock_whatever_the_time_the_commits_claim() {
        let silence = SignedDuration::from_mins(90);
        let now = at("2026-12-01T12:00:00Z");
        // The other machine's clock is years off either way: only when its references
        // moved here counts.
        for written in ["1990-01-01T00:00:00Z", "2090-01-01T00:00:00Z"] {
            let claim = Claim::Record(held("b", written));
            let moving = seen("b", "2026-12-01T11:00:00Z", "h9", "2026-12-01T11:30:00Z");
            let live = standing(
                Some(&claim),
                12,
                "a",
                &moving,
                now,
                silence,
                HEARTBEAT_EVERY,
            );
            assert_eq!(live, Standing::Live { owner: "b" }, "{written}");
            let still = seen("b", "2026-12-01T09:00:00Z", "h1", "2026-12-01T09:00:00Z");
            let stale = standing(Some(&claim), 12, "a", &still, now, silence, HEARTBEAT_EVERY);
            assert_eq!(stale, Standing::Stale { owner: "b" }, "{written}");
        }
    }

    #[test]
    fn an_unreadable_claim_is_held_by_someone_unknown() {
        let silence = SignedDuration::from_mins(90);
        let now = at("2026-12-01T12:00:00Z");
        let unreadable = Claim::read("clambake claim: issue #12 held, in a format from 2030");
        assert_eq!(unreadable, Claim::Unreadable);
        let long_ago = seen("b", "2000-01-01T00:00:00Z", "h1", "2000-01-01T00:00:00Z");
        let standing = standing(
            Some(&unreadable),
            12,
            "a",
            &long_ago,
            now,
            silence,
            HEARTBEAT_EVERY,
        );
        assert_eq!(standing, Standing::Unreadable, "never free, never stale");
    }

    #[test]
    fn a_newer_writers_record_reads_by_its_keys() {
        let record = held("b", "2026-12-01T12:00:00Z");
        let message = record.message();
        let (head, tail) = message.split_once("state:").unwrap();
        let newer = format!("{head}lease: 42\npriority: high\nstate:{tail}written-by: 9.0\n");
        assert_eq!(ClaimRecord::parse(&newer), Some(record.clone()));
        let reordered: String = {
            let mut lines: Vec<&str> = message.lines().collect();
            lines[2..].reverse();
            lines.join("\n")
        };
        assert_eq!(ClaimRecord::parse(&reordered), Some(record));
        let missing = message.replace("failures: 0\n", "");
        assert_eq!(ClaimRecord::parse(&missing), None);
        let twice = format!("{message}orchestrator: c\n");
        assert_eq!(ClaimRecord::parse(&twice), None, "which one holds it?");
    }

    #[test]
    fn another_process_under_my_id_is_told_by_its_nonce() {
        let mine = heartbeat_message("a", "n1", HEARTBEAT_EVERY);
        let theirs = heartbeat_message("a", "n2", HEARTBEAT_EVERY);
        assert_eq!(heartbeat_nonce(&mine), Some("n1"));
        assert!(!signed_off(&mine));
        let last = sign_off_message("a", "n1");
        assert_eq!(
            (heartbeat_nonce(&last), signed_off(&last)),
            (Some("n1"), true)
        );
        let check = another_process_with_my_id;
        assert!(
            !check(None, Some(("h0", &theirs)), "n1"),
            "a predecessor's, at start"
        );
        assert!(!check(Some("h1"), Some(("h1", &mine)), "n1"), "as left");
        assert!(
            !check(Some("h1"), Some(("h2", &mine)), "n1"),
            "mine, moved by me"
        );
        assert!(check(Some("h1"), Some(("h2", &theirs)), "n1"));
        let old = "clambake orchestrator a alive\n";
        assert!(
            check(Some("h1"), Some(("h2", old)), "n1"),
            "no nonce: not mine"
        );
        assert!(!check(Some("h1"), None, "n1"));
    }

    #[test]
    fn reference_names_read_back() {
        assert_eq!(claimed_issue(&claim_ref(42)), Some(42));
        assert_eq!(claimed_issue("refs/clambake/claims/4x"), None);
        assert_eq!(orchestrator_of(&orchestrator_ref("host-1")), Some("host-1"));
        assert_eq!(orchestrator_of("refs/clambake/orchestrators/../x"), None);
    }

    #[test]
    fn generated_ids_are_valid() {
        for host in ["build.example.org", "", "ünïcode box", "-x-", "a..b"] {
            let id = generated_orchestrator_id(host, 0xdead_beef);
            assert!(valid_orchestrator_id(&id), "{id}");
        }
        assert_eq!(generated_orchestrator_id("box", 1), "box-00000001");
    }

    fn arbitrary_record() -> impl Strategy<Value = ClaimRecord> {
        let state = prop_oneof![
            Just(ClaimState::Held),
            Just(ClaimState::Landed),
            Just(ClaimState::Failed),
            Just(ClaimState::Returned),
        ];
        (
            any::<u64>(),
            "[A-Za-z0-9_][A-Za-z0-9_-]{0,30}",
            1u32..1000,
            any::<u32>(),
            any::<u32>(),
            state,
            0i64..4_000_000_000,
        )
            .prop_map(
                |(issue, orchestrator, slot, attempt, failures, state, seconds)| ClaimRecord {
                    issue,
                    orchestrator,
                    agent: format!("agent{slot:03}"),
                    attempt,
                    failures,
                    state,
                    at: Timestamp::from_second(seconds).unwrap(),
                },
            )
    }

    proptest! {
        #[test]
        fn every_record_reads_back(record in arbitrary_record()) {
            prop_assert_eq!(ClaimRecord::parse(&record.message()), Some(record));
        }
    }
}
