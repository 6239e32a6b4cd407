//! The soak test: the real run loop over many simulated hours, on a real temporary repository
//! with the local forge, with simulated agents that succeed, conflict, crash, hang, commit
//! nothing or fail, a forge that refuses calls or loses their replies, and the orchestrator
//! killed and started again. Issues arrive over the hours; trains leave on their schedule; a
//! reviewer merges what they send. At the end every issue must be merged or failed with its
//! work, nothing held, the journal consistent with the forge and git; and the process's memory
//! must not grow once warmed up.
//!
//! A test target of its own, so that its global allocator counts this process's heap alone.
//! CI runs a reduced scale (8 simulated hours, 80 issues). The full scale (48 simulated hours,
//! 3000 issues; tens of minutes):
//!
//! ```text
//! CLAMBAKE_SOAK=full cargo test --test soak -- --nocapture
//! ```
//!
//! `CLAMBAKE_SOAK_SEED=<n>` draws another workload and fault schedule.

mod harness;
#[path = "../it/hooked_forge.rs"]
mod hooked_forge;
mod invariants;
mod memory;
mod workload;

use std::sync::atomic::Ordering;

use harness::Soak;
use memory::mib;
use workload::Scale;

#[global_allocator]
static HEAP: memory::Counting = memory::Counting;

/// Growth allowed from the second quarter's peak to the last quarter's, after the warm-up of
/// the first: a fraction of it, plus a constant for the allocator's and SQLite's caches.
const HEAP_GROWTH: f64 = 0.15;
const HEAP_SLACK: usize = 4 << 20;
const RSS_GROWTH: f64 = 0.25;
const RSS_SLACK: usize = 16 << 20;

#[test]
fn simulated_hours_of_faults_end_every_issue_merged_or_failed_in_flat_memory() {
    let scale = Scale::from_env();
    eprintln!("soak: {scale:?}");
    let soak = Soak::new(scale);
    let tally = soak.play();
    let endings = invariants::check(&soak, &tally);

    let hours = f64::from(scale.hours);
    let samples = &tally.samples;
    let second = samples.peaks(hours / 4.0, hours / 2.0);
    let last = samples.peaks(hours * 3.0 / 4.0, hours);
    let peak = samples.peaks(0.0, f64::INFINITY);
    let (first, end) = (samples.first(), samples.last());
    let faults = &soak.faults;
    eprintln!(
        "soak: {hours} simulated hours of arrivals, settled at hour {:.1}, in {:?} of wall time\n\
         soak: {} issues: {} merged, {} failed ({} of them by faults), {} attempts\n\
         soak: {} kills, {} restarts after an error, {} forge calls: {} refused, {} replies lost\n\
         soak: {} reviews merged {} pull requests, {} brought up to date by the reviewer\n\
         soak: heap {} at the start, {} peak in the second quarter, {} in the last, {} at the end, {} peak\n\
         soak: RSS  {} at the start, {} peak in the second quarter, {} in the last, {} at the end, {} peak",
        tally.settled_hour,
        tally.wall,
        soak.arrivals.len(),
        endings.merged,
        endings.failed,
        endings.failed_by_faults,
        endings.attempts,
        tally.kills,
        tally.restarts_after_error.len(),
        faults.calls.load(Ordering::Relaxed),
        faults.refused.load(Ordering::Relaxed),
        faults.replies_lost.load(Ordering::Relaxed),
        tally.reviews,
        tally.merged_pull_requests,
        tally.conflicts_resolved,
        mib(first.heap),
        mib(second.heap),
        mib(last.heap),
        mib(end.heap),
        mib(peak.heap),
        mib(first.rss),
        mib(second.rss),
        mib(last.rss),
        mib(end.rss),
        mib(peak.rss),
    );
    for error in &tally.restarts_after_error {
        eprintln!("soak: an orchestrator stopped: {error}");
    }

    assert_eq!(endings.merged + endings.failed, soak.arrivals.len());
    assert_eq!(tally.kills as usize, scale.kills.len());
    let bound =
        |peak: usize, growth: f64, slack: usize| (peak as f64 * (1.0 + growth)) as usize + slack;
    assert!(
        last.heap <= bound(second.heap, HEAP_GROWTH, HEAP_SLACK),
        "the heap grew: {} at most in the second quarter, {} in the last",
        mib(second.heap),
        mib(last.heap)
    );
    assert!(
        last.rss <= bound(second.rss, RSS_GROWTH, RSS_SLACK),
        "the resident set grew: {} at most in the second quarter, {} in the last",
        mib(second.rss),
        mib(last.rss)
    );
}
