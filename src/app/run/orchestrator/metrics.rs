//! The run's metrics in the Prometheus text format, all instrumentation in one place: counters
//! the loop's events feed as they happen ([`RunMetrics::observe`], and drift as it is found and
//! repaired), and gauges read at each scrape from what Clambake already keeps: the journal's
//! transitions, the live view's agents, the process trees under them, the forge's usage.
//!
//! `prometheus-client` (the Prometheus project's own Rust client) over `metrics` with its
//! exporter: it keeps no global recorder, so each run (and each test) has its own registry.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::RunEvent;
use crate::app::forge_usage::UsageRecord;
use crate::app::trains::disposal::Disposition;
use crate::core::agents::agent_event::Usage;
use crate::core::lifecycle::machine::EventKind;
use crate::ports::journal::{AttemptRecord, JournalEntry};
use crate::ports::process_usage::ProcessUsage;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

fn label(name: &str, value: impl ToString) -> Labels {
    vec![(name.to_owned(), value.to_string())]
}

/// What the loop's events counted so far; cloned into each scrape's registry (the clones share
/// their values).
#[derive(Clone)]
pub struct RunMetrics {
    attempts: Family<Labels, Counter>,
    attempt_seconds: Histogram,
    cost_usd: FloatCounter,
    turns: Counter,
    /// Tokens of disposed attempts, by kind (input, output, cache reads and writes).
    tokens: Family<Labels, Counter>,
    recoveries: Family<Labels, Counter>,
    recovery_failures: Family<Labels, Counter>,
    inconsistencies: Family<Labels, Counter>,
    stuck_minutes: Histogram,
    trains: Counter,
    bundle_size: Histogram,
    bundled_fraction: FloatGauge,
    set_aside: Family<Labels, Counter>,
    /// When each attempt in flight was claimed, by agent and issue.
    claimed_at: Arc<Mutex<HashMap<(String, u64), Timestamp>>>,
}

impl Default for RunMetrics {
    fn default() -> Self {
        let metrics = Self {
            attempts: Family::default(),
            attempt_seconds: Histogram::new(exponential_buckets(1.0, 4.0, 8)),
            cost_usd: FloatCounter::default(),
            turns: Counter::default(),
            tokens: Family::default(),
            recoveries: Family::default(),
            recovery_failures: Family::default(),
            inconsistencies: Family::default(),
            stuck_minutes: Histogram::new(exponential_buckets(15.0, 2.0, 8)),
            trains: Counter::default(),
            bundle_size: Histogram::new(exponential_buckets(1.0, 2.0, 6)),
            bundled_fraction: FloatGauge::default(),
            set_aside: Family::default(),
            claimed_at: Arc::default(),
        };
        // The kinds known ahead show from the start, at zero.
        for kind in ["adopted", "resumed", "stuck_stopped", "force_reset"] {
            metrics.recoveries.get_or_create_owned(&label("kind", kind));
        }
        metrics
            .recovery_failures
            .get_or_create_owned(&label("kind", "force_reset"));
        for reason in ["refused", "parked", "waiting_for_merge"] {
            metrics
                .set_aside
                .get_or_create_owned(&label("reason", reason));
        }
        metrics
    }
}

/// A working agent, as the live view sees it.
pub struct AgentSample {
    pub agent: String,
    pub issue: u64,
    pub pid: Option<u32>,
    pub tokens: u64,
}

/// What a scrape reads besides the counters.
pub struct Scraped<'a> {
    /// Every transition the journal holds.
    pub transitions: &'a [JournalEntry],
    /// The transitions the journal kept as failed, by event and reason.
    pub transition_failures: &'a BTreeMap<(EventKind, String), u64>,
    pub agents: &'a [AgentSample],
    pub forge_usage: Option<&'a UsageRecord>,
    pub processes: &'a dyn ProcessUsage,
}

impl RunMetrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts `event`, which happened at `now`; `attempt` is the journal's record of a disposed
    /// attempt, when it has one.
    pub fn observe(&self, event: &RunEvent, attempt: Option<&AttemptRecord>, now: Timestamp) {
        let mut claimed_at = self.claimed_at.lock().expect("never poisoned");
        match event {
            RunEvent::Claimed { agent, issue, .. } => {
                claimed_at.insert((agent.clone(), *issue), now);
            }
            RunEvent::Disposed {
                agent,
                issue,
                outcome,
                disposition,
                ..
            } => {
                self.attempts
                    .get_or_create(&label("outcome", outcome))
                    .inc();
                if let Disposition::Refused { .. } = disposition {
                    self.set_aside
                        .get_or_create(&label("reason", "refused"))
                        .inc();
                }
                if let Some(claimed) = claimed_at.remove(&(agent.clone(), *issue)) {
                    let took = attempt
                        .map_or(now, |r| r.finished_at)
                        .duration_since(claimed);
                    self.attempt_seconds.observe(took.as_secs_f64().max(0.0));
                }
                if let Some(record) = attempt {
                    self.cost_usd.inc_by(record.cost_usd.unwrap_or(0.0));
                    self.turns.inc_by(u64::from(record.turns));
                }
            }
            RunEvent::Adopted { agent, issue, .. } | RunEvent::Resumed { agent, issue, .. } => {
                claimed_at.insert((agent.clone(), *issue), now);
                let kind = if matches!(event, RunEvent::Adopted { .. }) {
                    "adopted"
                } else {
                    "resumed"
                };
                self.recovered(kind);
            }
            RunEvent::Parked { .. } => {
                self.set_aside
                    .get_or_create(&label("reason", "parked"))
                    .inc();
            }
            RunEvent::StuckStopped { idle_minutes, .. } => {
                self.stuck_minutes.observe(*idle_minutes as f64);
                self.recovered("stuck_stopped");
            }
            RunEvent::ForceReset {
                idle_minutes,
                failed,
                ..
            } => {
                self.stuck_minutes.observe(*idle_minutes as f64);
                if *failed {
                    self.recovery_failed("force_reset");
                } else {
                    self.recovered("force_reset");
                }
            }
            RunEvent::TrainDeparted {
                bundles,
                individual,
                waiting,
            } => {
                self.trains.inc();
                let bundled: usize = bundles.iter().map(|b| b.issues.len()).sum();
                let alone: usize = individual.iter().map(|p| p.issues.len()).sum();
                for bundle in bundles {
                    self.bundle_size.observe(bundle.issues.len() as f64);
                }
                if bundled + alone > 0 {
                    self.bundled_fraction
                        .set(bundled as f64 / (bundled + alone) as f64);
                }
                for _ in waiting {
                    self.set_aside
                        .get_or_create(&label("reason", "waiting_for_merge"))
                        .inc();
                }
            }
            RunEvent::Broken { agent, issue, .. }
            | RunEvent::Interrupted { agent, issue }
            | RunEvent::ClaimLost { agent, issue, .. } => {
                claimed_at.remove(&(agent.clone(), *issue));
            }
            RunEvent::RateLimited { .. }
            | RunEvent::DependencyCycle { .. }
            | RunEvent::ClaimingPaused { .. }
            | RunEvent::ClaimingResumed
            | RunEvent::BudgetReached { .. }
            | RunEvent::BudgetRenewed { .. } => {}
        }
    }

    /// The tokens a disposed attempt used.
    pub fn disposed_tokens(&self, usage: &Usage) {
        for (kind, count) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_input_tokens),
            ("cache_creation", usage.cache_creation_input_tokens),
        ] {
            self.tokens
                .get_or_create(&label("kind", kind))
                .inc_by(count);
        }
    }

    /// An inconsistency of `kind` found between the journal and the world.
    pub fn inconsistency(&self, kind: &str) {
        self.inconsistencies
            .get_or_create(&label("kind", kind))
            .inc();
    }

    /// An automatic recovery of `kind` that worked.
    pub fn recovered(&self, kind: &str) {
        self.recoveries.get_or_create(&label("kind", kind)).inc();
    }

    /// An automatic recovery of `kind` that failed.
    pub fn recovery_failed(&self, kind: &str) {
        self.recovery_failures
            .get_or_create(&label("kind", kind))
            .inc();
    }

    /// The text of one scrape.
    pub fn render(&self, scraped: &Scraped<'_>) -> String {
        let mut registry = Registry::with_prefix("clambake");
        let me = self.clone();
        registry.register("attempts", "Attempts disposed of, by outcome", me.attempts);
        registry.register(
            "attempt_duration_seconds",
            "How long attempts took, claim to disposal",
            me.attempt_seconds,
        );
        registry.register("cost_usd", "What finished attempts cost", me.cost_usd);
        registry.register("turns", "Turns of finished attempts", me.turns);
        registry.register("tokens", "Tokens of finished attempts, by kind", me.tokens);
        registry.register(
            "recoveries",
            "Automatic recoveries that worked, by kind",
            me.recoveries,
        );
        registry.register(
            "recovery_failures",
            "Automatic recoveries that failed, by kind",
            me.recovery_failures,
        );
        registry.register(
            "inconsistencies_detected",
            "Inconsistencies found between the journal and the world, by kind",
            me.inconsistencies,
        );
        registry.register(
            "stuck_agent_minutes",
            "How long agents were silent when stopped or reset",
            me.stuck_minutes,
        );
        registry.register("trains", "Trains departed", me.trains);
        registry.register("bundle_size", "Issues per bundle", me.bundle_size);
        registry.register(
            "bundled_fraction",
            "Of the issues the last train carried, the fraction in bundles",
            me.bundled_fraction,
        );
        registry.register(
            "set_aside",
            "Work set aside for later, by reason",
            me.set_aside,
        );

        let transitions = Family::<Labels, Counter>::default();
        for entry in scraped.transitions {
            transitions
                .get_or_create(&label("event", entry.event.kind()))
                .inc();
        }
        registry.register(
            "transitions",
            "Slot transitions the journal holds, by event",
            transitions,
        );
        let failures = Family::<Labels, Counter>::default();
        for ((event, reason), count) in scraped.transition_failures {
            failures
                .get_or_create(&vec![
                    ("event".to_owned(), event.to_string()),
                    ("reason".to_owned(), reason.clone()),
                ])
                .inc_by(*count);
        }
        registry.register(
            "transition_failures",
            "Slot transitions refused by the state machine or stale in the journal, by event and reason",
            failures,
        );

        let active = Gauge::<i64>::default();
        active.set(scraped.agents.len() as i64);
        registry.register("agents_active", "Agents working now", active);
        let tokens = Family::<Labels, Gauge>::default();
        let cpu = Family::<Labels, FloatGauge>::default();
        let memory = Family::<Labels, Gauge>::default();
        let files = Family::<Labels, Gauge>::default();
        let processes = Family::<Labels, Gauge>::default();
        for agent in scraped.agents {
            let who = vec![
                ("agent".to_owned(), agent.agent.clone()),
                ("issue".to_owned(), agent.issue.to_string()),
            ];
            tokens.get_or_create(&who).set(agent.tokens as i64);
            let Some(tree) = agent.pid.and_then(|pid| scraped.processes.tree(pid)) else {
                continue;
            };
            cpu.get_or_create(&who).set(tree.cpu_seconds);
            memory.get_or_create(&who).set(tree.memory_bytes as i64);
            files.get_or_create(&who).set(tree.open_files as i64);
            processes.get_or_create(&who).set(i64::from(tree.processes));
        }
        registry.register("agent_tokens", "Tokens a working agent used so far", tokens);
        registry.register(
            "agent_cpu_seconds",
            "CPU time of a working agent's process tree",
            cpu,
        );
        registry.register(
            "agent_memory_bytes",
            "Resident memory of a working agent's process tree",
            memory,
        );
        registry.register(
            "agent_open_files",
            "Open file handles of a working agent's process tree",
            files,
        );
        registry.register(
            "agent_processes",
            "Processes in a working agent's tree",
            processes,
        );

        let requests = Family::<Labels, Gauge>::default();
        let usage = scraped.forge_usage.map(|r| &r.usage);
        for (kind, count) in [
            ("fresh_read", usage.map_or(0, |u| u.fresh_reads)),
            ("not_modified", usage.map_or(0, |u| u.not_modified)),
            ("mutation", usage.map_or(0, |u| u.mutations)),
        ] {
            requests
                .get_or_create(&label("kind", kind))
                .set(count as i64);
        }
        registry.register(
            "forge_requests",
            "Forge requests this run made, by kind",
            requests,
        );
        if let Some(limit) = usage.and_then(|u| u.rate_limit.as_ref()) {
            let remaining = Gauge::<i64>::default();
            remaining.set(limit.remaining as i64);
            registry.register(
                "forge_rate_limit_remaining",
                "Requests the forge's rate limit has left",
                remaining,
            );
        }
        let mut text = String::new();
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::run::orchestrator::PullRequestOpened;
    use crate::app::trains::bundle::Waiting;

    struct NoProcesses;

    impl ProcessUsage for NoProcesses {
        fn tree(&self, _pid: u32) -> Option<crate::ports::process_usage::TreeUsage> {
            None
        }
    }

    #[test]
    fn stuck_agents_recoveries_drift_and_trains_are_counted_by_kind() {
        let metrics = RunMetrics::new();
        let now: Timestamp = "2026-12-01T20:00:00Z".parse().unwrap();
        let agent = || "agent001".to_owned();
        for event in [
            RunEvent::StuckStopped {
                agent: agent(),
                issue: 1,
                idle_minutes: 200,
            },
            RunEvent::ForceReset {
                agent: agent(),
                issue: 2,
                idle_minutes: 40,
                failed: true,
            },
            RunEvent::Parked {
                agent: agent(),
                issue: 3,
                error: "x".to_owned(),
            },
            RunEvent::TrainDeparted {
                bundles: vec![PullRequestOpened {
                    number: 9,
                    issues: vec![4, 5, 6],
                    why: None,
                }],
                individual: vec![PullRequestOpened {
                    number: 10,
                    issues: vec![7],
                    why: None,
                }],
                waiting: vec![Waiting {
                    issue: 8,
                    why: "waits for #3".to_owned(),
                }],
            },
        ] {
            metrics.observe(&event, None, now);
        }
        metrics.inconsistency("StaleClaim");
        metrics.inconsistency("StaleClaim");
        metrics.recovered("StaleClaim");
        let usage = Usage {
            input_tokens: 7,
            output_tokens: 3,
            ..Usage::default()
        };
        metrics.disposed_tokens(&usage);
        metrics.disposed_tokens(&usage);
        let failures = BTreeMap::from([((EventKind::CompleteWork, "stale".to_owned()), 2)]);
        let text = metrics.render(&Scraped {
            transitions: &[],
            transition_failures: &failures,
            agents: &[],
            forge_usage: None,
            processes: &NoProcesses,
        });
        for line in [
            "clambake_stuck_agent_minutes_count 2",
            "clambake_stuck_agent_minutes_sum 240.0",
            "clambake_recoveries_total{kind=\"stuck_stopped\"} 1",
            "clambake_recoveries_total{kind=\"StaleClaim\"} 1",
            "clambake_recovery_failures_total{kind=\"force_reset\"} 1",
            "clambake_inconsistencies_detected_total{kind=\"StaleClaim\"} 2",
            "clambake_set_aside_total{reason=\"parked\"} 1",
            "clambake_set_aside_total{reason=\"waiting_for_merge\"} 1",
            "clambake_trains_total 1",
            "clambake_bundle_size_count 1",
            "clambake_bundle_size_sum 3.0",
            "clambake_bundled_fraction 0.75",
            "clambake_agents_active 0",
            "clambake_tokens_total{kind=\"input\"} 14",
            "clambake_tokens_total{kind=\"output\"} 6",
            "clambake_transition_failures_total{event=\"CompleteWork\",reason=\"stale\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
