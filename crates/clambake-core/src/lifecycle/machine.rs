//! The agent-slot lifecycle: the single authority over what an agent slot is doing.
//!
//! A slot goes `Idle → Assigned → Working → Landed`; at `Landed` the slot is free again, and the
//! work it produced goes on as `Bundled → Merged`. The machine only decides: it has no entry or
//! exit actions (statig re-runs entry actions when a machine is resumed), so every side effect
//! belongs to the application layer, which acts on the [`Transition`] it gets back. An event the
//! current state does not accept is a [`TransitionError`], never silently dropped.

use std::fmt;

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use crate::branches::refname::{RefNameError, validate_branch_name};
use crate::queue::labels::agent_slot;

/// Something that happened to a slot, or that the orchestrator wants to happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Give the slot an issue to work on, on `branch`.
    Assign {
        agent_id: String,
        issue: u64,
        branch: String,
    },
    /// The agent process runs; `commits_ahead` is how far its branch is ahead of the base.
    /// Sent again while working, it updates the count.
    StartWork { commits_ahead: u32 },
    /// The branch is pushed and waits for a train: the slot is free again.
    CompleteWork,
    /// The landed work rides in bundle pull request `bundle_pr`.
    Bundle { bundle_pr: u64 },
    /// The bundle pull request merged.
    Merge,
    /// The attempt is given up; the branch is kept by the application.
    Abandon,
    /// Back to `Idle` whatever the state (the application archives the branch first).
    ForceReset,
}

/// The kind of an [`Event`], for errors and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    Assign,
    StartWork,
    CompleteWork,
    Bundle,
    Merge,
    Abandon,
    ForceReset,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Assign,
        EventKind::StartWork,
        EventKind::CompleteWork,
        EventKind::Bundle,
        EventKind::Merge,
        EventKind::Abandon,
        EventKind::ForceReset,
    ];
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Assign { .. } => EventKind::Assign,
            Event::StartWork { .. } => EventKind::StartWork,
            Event::CompleteWork => EventKind::CompleteWork,
            Event::Bundle { .. } => EventKind::Bundle,
            Event::Merge => EventKind::Merge,
            Event::Abandon => EventKind::Abandon,
            Event::ForceReset => EventKind::ForceReset,
        }
    }
}

/// The kind of a [`State`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateKind {
    Idle,
    Assigned,
    Working,
    Landed,
    Bundled,
    Merged,
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why a state refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the event does not apply in this state")]
    NotApplicable,
    #[error("the slot already holds issue #{issue}; it must be abandoned or reset first")]
    AlreadyAssigned { issue: u64 },
    #[error("issue numbers start at 1, not 0")]
    IssueNotPositive,
    #[error("`{agent_id}` is not an agent id (agent001, agent002, ...)")]
    InvalidAgent { agent_id: String },
    #[error("the assignment is for {agent_id}, but this is {slot}'s slot")]
    WrongSlot { slot: String, agent_id: String },
    #[error("branch `{branch}` is not a valid git branch name: {problem}")]
    InvalidBranch {
        branch: String,
        problem: RefNameError,
    },
    #[error("the branch has no commits ahead of the base, so there is no work to land")]
    NoCommitsAhead,
    #[error("pull request numbers start at 1, not 0")]
    PullRequestNotPositive,
}

impl Refusal {
    /// A short name for the refusal, as the metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NotApplicable => "not_applicable",
            Refusal::AlreadyAssigned { .. } => "already_assigned",
            Refusal::IssueNotPositive => "issue_not_positive",
            Refusal::InvalidAgent { .. } => "invalid_agent",
            Refusal::WrongSlot { .. } => "wrong_slot",
            Refusal::InvalidBranch { .. } => "invalid_branch",
            Refusal::NoCommitsAhead => "no_commits_ahead",
            Refusal::PullRequestNotPositive => "pull_request_not_positive",
        }
    }
}

/// An event a state refused: which state, which event, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic, Serialize)]
#[error("state {state} refused event {event}: {refusal}")]
#[diagnostic(
    code(clambake::lifecycle::refused),
    help("`clambake agent history --agent <id>` shows how the slot got here")
)]
pub struct TransitionError {
    pub state: StateKind,
    pub event: EventKind,
    pub refusal: Refusal,
}

/// A transition the machine accepted: the application acts on it and journals it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub event: Event,
}

/// statig's shared storage: which slot this is. Every other fact lives in the state.
#[derive(Debug, Clone)]
pub struct AgentSlot {
    agent_id: String,
}

/// Why the handlers refused an event, if they did (statig handlers cannot return errors).
type Refused = Option<Refusal>;

fn refuse(context: &mut Refused, refusal: Refusal) -> Outcome<State> {
    *context = Some(refusal);
    Handled
}

#[state_machine(
    initial = "State::idle()",
    state(derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)),
    superstate(derive(Debug))
)]
impl AgentSlot {
    /// No issue, no work in flight.
    #[state(superstate = "free")]
    fn idle() -> Outcome<State> {
        Super
    }

    /// Holds an issue; the agent process has not reported yet.
    #[state(
        superstate = "busy",
        local_storage("agent_id: String", "issue: u64", "branch: String")
    )]
    fn assigned(agent_id: &str, issue: &u64, branch: &str, event: &Event) -> Outcome<State> {
        match event {
            Event::StartWork { commits_ahead } => Transition(State::working(
                agent_id.to_owned(),
                *issue,
                branch.to_owned(),
                *commits_ahead,
            )),
            _ => Super,
        }
    }

    /// The agent works on the branch.
    #[state(
        superstate = "busy",
        local_storage(
            "agent_id: String",
            "issue: u64",
            "branch: String",
            "commits_ahead: u32"
        )
    )]
    fn working(
        agent_id: &str,
        issue: &u64,
        branch: &str,
        commits_ahead: &u32,
        context: &mut Refused,
        event: &Event,
    ) -> Outcome<State> {
        match event {
            Event::StartWork { commits_ahead } => Transition(State::working(
                agent_id.to_owned(),
                *issue,
                branch.to_owned(),
                *commits_ahead,
            )),
            Event::CompleteWork if *commits_ahead == 0 => refuse(context, Refusal::NoCommitsAhead),
            Event::CompleteWork => Transition(State::landed(*issue)),
            _ => Super,
        }
    }

    /// The work landed; the slot is free for another issue.
    #[state(superstate = "free")]
    fn landed(issue: &u64, context: &mut Refused, event: &Event) -> Outcome<State> {
        match event {
            Event::Bundle { bundle_pr } => bundle(context, vec![*issue], *bundle_pr),
            _ => Super,
        }
    }

    /// The slot's work rides in a bundle pull request.
    #[state(
        superstate = "free",
        local_storage("issues: Vec<u64>", "bundle_pr: u64")
    )]
    fn bundled(
        issues: &[u64],
        bundle_pr: &u64,
        context: &mut Refused,
        event: &Event,
    ) -> Outcome<State> {
        match event {
            Event::Merge => Transition(State::merged(issues.to_vec())),
            // A later train re-bundles work whose bundle pull request closed unmerged.
            Event::Bundle { bundle_pr: next } if next != bundle_pr => {
                bundle(context, issues.to_vec(), *next)
            }
            _ => Super,
        }
    }

    /// The slot's work is on the base branch.
    #[state(superstate = "free", local_storage("issues: Vec<u64>"))]
    fn merged() -> Outcome<State> {
        Super
    }

    /// A slot with no work in flight accepts a new assignment.
    #[superstate]
    fn free(&self, context: &mut Refused, event: &Event) -> Outcome<State> {
        match event {
            Event::Assign { agent_id, .. } if *agent_id != self.agent_id => refuse(
                context,
                Refusal::WrongSlot {
                    slot: self.agent_id.clone(),
                    agent_id: agent_id.clone(),
                },
            ),
            Event::Assign {
                agent_id,
                issue,
                branch,
            } => match check_assignment(agent_id, *issue, branch) {
                Ok(()) => Transition(State::assigned(agent_id.clone(), *issue, branch.clone())),
                Err(refusal) => refuse(context, refusal),
            },
            Event::ForceReset => Transition(State::idle()),
            _ => refuse(context, Refusal::NotApplicable),
        }
    }

    /// A slot with work in flight refuses a second assignment.
    #[superstate]
    fn busy(issue: &u64, context: &mut Refused, event: &Event) -> Outcome<State> {
        match event {
            Event::Assign { .. } => refuse(context, Refusal::AlreadyAssigned { issue: *issue }),
            Event::Abandon | Event::ForceReset => Transition(State::idle()),
            _ => refuse(context, Refusal::NotApplicable),
        }
    }
}

fn bundle(context: &mut Refused, issues: Vec<u64>, bundle_pr: u64) -> Outcome<State> {
    if bundle_pr == 0 {
        return refuse(context, Refusal::PullRequestNotPositive);
    }
    Transition(State::bundled(issues, bundle_pr))
}

/// The guards of `Assign`: a real agent id, an issue number, and a valid branch name.
fn check_assignment(agent_id: &str, issue: u64, branch: &str) -> Result<(), Refusal> {
    if agent_slot(agent_id).is_none() {
        return Err(Refusal::InvalidAgent {
            agent_id: agent_id.to_owned(),
        });
    }
    if issue == 0 {
        return Err(Refusal::IssueNotPositive);
    }
    validate_branch_name(branch).map_err(|problem| Refusal::InvalidBranch {
        branch: branch.to_owned(),
        problem,
    })
}

impl State {
    pub fn kind(&self) -> StateKind {
        match self {
            State::Idle {} => StateKind::Idle,
            State::Assigned { .. } => StateKind::Assigned,
            State::Working { .. } => StateKind::Working,
            State::Landed { .. } => StateKind::Landed,
            State::Bundled { .. } => StateKind::Bundled,
            State::Merged { .. } => StateKind::Merged,
        }
    }

    /// The issue the slot holds, while it holds one.
    pub fn claimed_issue(&self) -> Option<u64> {
        match self {
            State::Assigned { issue, .. } | State::Working { issue, .. } => Some(*issue),
            _ => None,
        }
    }

    /// Whether the state could have been reached through the guards: what the property tests
    /// check after every event, and what a journal entry must satisfy to be resumed from.
    pub fn is_valid(&self) -> bool {
        match self {
            State::Idle {} => true,
            State::Assigned {
                agent_id,
                issue,
                branch,
            }
            | State::Working {
                agent_id,
                issue,
                branch,
                ..
            } => check_assignment(agent_id, *issue, branch).is_ok(),
            State::Landed { issue } => *issue > 0,
            State::Bundled { issues, bundle_pr } => {
                *bundle_pr > 0 && !issues.is_empty() && issues.iter().all(|i| *i > 0)
            }
            State::Merged { issues } => !issues.is_empty() && issues.iter().all(|i| *i > 0),
        }
    }
}

/// One agent slot's machine.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    machine: InitializedStateMachine<AgentSlot>,
}

impl Lifecycle {
    /// Slot `agent_id` in `Idle`.
    pub fn new(agent_id: &str) -> Self {
        Self {
            machine: AgentSlot {
                agent_id: agent_id.to_owned(),
            }
            .uninitialized_state_machine()
            .init_with_context(&mut None),
        }
    }

    /// Slot `agent_id` resumed in `state`, as read back from the journal.
    pub fn resume(agent_id: &str, state: State) -> Self {
        let mut machine = AgentSlot {
            agent_id: agent_id.to_owned(),
        }
        .uninitialized_state_machine();
        *machine.state_mut() = state;
        Self {
            machine: machine.init_with_context(&mut None),
        }
    }

    pub fn agent_id(&self) -> &str {
        &self.machine.inner().agent_id
    }

    pub fn state(&self) -> &State {
        self.machine.state()
    }

    /// Applies `event`: the transition taken, or the state's refusal (the state is then
    /// unchanged).
    pub fn apply(&mut self, event: &Event) -> Result<Transition, TransitionError> {
        let from = self.machine.state().clone();
        let mut refused: Refused = None;
        self.machine.handle_with_context(event, &mut refused);
        match refused {
            Some(refusal) => Err(TransitionError {
                state: from.kind(),
                event: event.kind(),
                refusal,
            }),
            None => Ok(Transition {
                from,
                to: self.machine.state().clone(),
                event: event.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn assigned() -> State {
        State::assigned("agent001".into(), 12, "agent001/12-fix-login".into())
    }

    fn working(commits_ahead: u32) -> State {
        State::working(
            "agent001".into(),
            12,
            "agent001/12-fix-login".into(),
            commits_ahead,
        )
    }

    fn samples() -> [State; 6] {
        [
            State::idle(),
            assigned(),
            working(3),
            State::landed(12),
            State::bundled(vec![12], 40),
            State::merged(vec![12]),
        ]
    }

    /// One well-formed event of each kind.
    fn event(kind: EventKind) -> Event {
        match kind {
            EventKind::Assign => Event::Assign {
                agent_id: "agent001".into(),
                issue: 13,
                branch: "agent001/13-next".into(),
            },
            EventKind::StartWork => Event::StartWork { commits_ahead: 2 },
            EventKind::CompleteWork => Event::CompleteWork,
            EventKind::Bundle => Event::Bundle { bundle_pr: 41 },
            EventKind::Merge => Event::Merge,
            EventKind::Abandon => Event::Abandon,
            EventKind::ForceReset => Event::ForceReset,
        }
    }

    /// What every (state, event) pair must do, well-formed events only.
    fn expected(state: &State, kind: EventKind) -> Result<State, Refusal> {
        use EventKind as E;
        use Refusal::*;
        let next_assignment = || State::assigned("agent001".into(), 13, "agent001/13-next".into());
        match (state.kind(), kind) {
            (_, E::ForceReset) => Ok(State::idle()),
            (
                StateKind::Idle | StateKind::Landed | StateKind::Bundled | StateKind::Merged,
                E::Assign,
            ) => Ok(next_assignment()),
            (StateKind::Assigned | StateKind::Working, E::Assign) => {
                Err(AlreadyAssigned { issue: 12 })
            }
            (StateKind::Assigned | StateKind::Working, E::StartWork) => Ok(working(2)),
            (StateKind::Assigned | StateKind::Working, E::Abandon) => Ok(State::idle()),
            (StateKind::Working, E::CompleteWork) => Ok(State::landed(12)),
            (StateKind::Landed | StateKind::Bundled, E::Bundle) => Ok(State::bundled(vec![12], 41)),
            (StateKind::Bundled, E::Merge) => Ok(State::merged(vec![12])),
            _ => Err(NotApplicable),
        }
    }

    #[test]
    fn every_state_event_pair_does_what_the_table_says() {
        let mut pairs = 0;
        for state in samples() {
            for kind in EventKind::ALL {
                let mut slot = Lifecycle::resume("agent001", state.clone());
                let outcome = slot.apply(&event(kind));
                match expected(&state, kind) {
                    Ok(to) => {
                        let transition = outcome.unwrap_or_else(|e| panic!("{state:?}: {e}"));
                        assert_eq!(transition.from, state);
                        assert_eq!(transition.to, to, "{state:?} + {kind}");
                        assert_eq!(slot.state(), &to);
                    }
                    Err(refusal) => {
                        let error = outcome.expect_err(&format!("{state:?} + {kind} must fail"));
                        assert_eq!(
                            error,
                            TransitionError {
                                state: state.kind(),
                                event: kind,
                                refusal
                            }
                        );
                        assert_eq!(slot.state(), &state, "a refusal leaves the state alone");
                    }
                }
                pairs += 1;
            }
        }
        assert_eq!(pairs, 6 * 7);
    }

    #[test]
    fn the_error_names_the_state_and_the_event() {
        let error = Lifecycle::new("agent001").apply(&Event::Merge).unwrap_err();
        assert_eq!(
            error.to_string(),
            "state Idle refused event Merge: the event does not apply in this state"
        );
    }

    #[test]
    fn assign_guards_refuse_bad_input_in_every_free_state() {
        let free = [
            State::idle(),
            State::landed(12),
            State::bundled(vec![12], 40),
            State::merged(vec![12]),
        ];
        let assign = |agent_id: &str, issue, branch: &str| Event::Assign {
            agent_id: agent_id.into(),
            issue,
            branch: branch.into(),
        };
        for state in free {
            let cases = [
                (
                    assign("agent001", 0, "agent001/0-x"),
                    Refusal::IssueNotPositive,
                ),
                (
                    assign("agent002", 5, "agent002/5-x"),
                    Refusal::WrongSlot {
                        slot: "agent001".into(),
                        agent_id: "agent002".into(),
                    },
                ),
                (
                    assign("agent001", 5, "agent001/5 x"),
                    Refusal::InvalidBranch {
                        branch: "agent001/5 x".into(),
                        problem: RefNameError::ForbiddenCharacter(' '),
                    },
                ),
                (
                    assign("agent001", 5, "agent001/5..x"),
                    Refusal::InvalidBranch {
                        branch: "agent001/5..x".into(),
                        problem: RefNameError::DoubleDot,
                    },
                ),
            ];
            for (event, refusal) in cases {
                let mut slot = Lifecycle::resume("agent001", state.clone());
                let error = slot.apply(&event).unwrap_err();
                assert_eq!(error.refusal, refusal, "{state:?} {event:?}");
                assert_eq!(slot.state(), &state);
            }
        }
    }

    #[test]
    fn a_slot_with_a_bad_id_takes_no_assignment() {
        let mut slot = Lifecycle::new("robot");
        let error = slot
            .apply(&Event::Assign {
                agent_id: "robot".into(),
                issue: 5,
                branch: "robot/5-x".into(),
            })
            .unwrap_err();
        assert_eq!(
            error.refusal,
            Refusal::InvalidAgent {
                agent_id: "robot".into()
            }
        );
        assert_eq!(slot.agent_id(), "robot");
    }

    #[test]
    fn complete_work_needs_commits_ahead() {
        let mut slot = Lifecycle::resume("agent001", working(0));
        let error = slot.apply(&Event::CompleteWork).unwrap_err();
        assert_eq!(error.refusal, Refusal::NoCommitsAhead);
        slot.apply(&Event::StartWork { commits_ahead: 1 }).unwrap();
        assert_eq!(
            slot.apply(&Event::CompleteWork).unwrap().to,
            State::landed(12)
        );
    }

    #[test]
    fn bundle_pull_requests_start_at_one_and_rebundling_needs_a_new_one() {
        let mut landed = Lifecycle::resume("agent001", State::landed(12));
        let error = landed.apply(&Event::Bundle { bundle_pr: 0 }).unwrap_err();
        assert_eq!(error.refusal, Refusal::PullRequestNotPositive);
        let mut bundled = Lifecycle::resume("agent001", State::bundled(vec![12], 40));
        let error = bundled.apply(&Event::Bundle { bundle_pr: 40 }).unwrap_err();
        assert_eq!(error.refusal, Refusal::NotApplicable);
        let error = bundled.apply(&Event::Bundle { bundle_pr: 0 }).unwrap_err();
        assert_eq!(error.refusal, Refusal::PullRequestNotPositive);
    }

    #[test]
    fn a_whole_life_from_idle_to_merged() {
        let mut slot = Lifecycle::new("agent001");
        let events = [
            event(EventKind::Assign),
            Event::StartWork { commits_ahead: 0 },
            Event::StartWork { commits_ahead: 4 },
            Event::CompleteWork,
            Event::Bundle { bundle_pr: 7 },
            Event::Merge,
        ];
        let kinds: Vec<StateKind> = events
            .iter()
            .map(|e| slot.apply(e).unwrap().to.kind())
            .collect();
        use StateKind::*;
        assert_eq!(kinds, [Assigned, Working, Working, Landed, Bundled, Merged]);
        assert_eq!(slot.state(), &State::merged(vec![13]));
    }

    #[test]
    fn states_and_events_round_trip_through_json() {
        for state in samples() {
            let text = serde_json::to_string(&state).unwrap();
            assert_eq!(serde_json::from_str::<State>(&text).unwrap(), state);
        }
        for kind in EventKind::ALL {
            let text = serde_json::to_string(&event(kind)).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event(kind));
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let agent = prop_oneof![Just("agent001"), Just("agent002"), Just("robot"), Just("")];
        let branch = prop_oneof![
            Just("agent001/3-x"),
            Just("agent002/4-y"),
            Just("bad..name"),
            Just("-x"),
            Just("a b"),
        ];
        prop_oneof![
            (agent, 0..5u64, branch).prop_map(|(a, issue, b)| Event::Assign {
                agent_id: a.into(),
                issue,
                branch: b.into(),
            }),
            (0..3u32).prop_map(|commits_ahead| Event::StartWork { commits_ahead }),
            Just(Event::CompleteWork),
            (0..3u64).prop_map(|bundle_pr| Event::Bundle { bundle_pr }),
            Just(Event::Merge),
            Just(Event::Abandon),
            Just(Event::ForceReset),
        ]
    }

    proptest! {
        #[test]
        fn random_event_sequences_keep_the_state_valid(
            events in proptest::collection::vec(any_event(), 0..40)
        ) {
            let mut slot = Lifecycle::new("agent001");
            for event in &events {
                let before = slot.state().clone();
                match slot.apply(event) {
                    Ok(transition) => {
                        prop_assert_eq!(&transition.from, &before);
                        prop_assert_eq!(&transition.to, slot.state());
                    }
                    Err(error) => {
                        prop_assert_eq!(slot.state(), &before);
                        prop_assert_eq!(error.state, before.kind());
                        prop_assert_eq!(error.event, event.kind());
                    }
                }
                prop_assert!(slot.state().is_valid(), "{:?}", slot.state());
                let resumed = Lifecycle::resume("agent001", slot.state().clone());
                prop_assert_eq!(resumed.state(), slot.state());
            }
        }
    }
}
