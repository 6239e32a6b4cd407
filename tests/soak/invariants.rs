//! What must hold once the soak has settled: every issue merged with its work on `main`, or
//! failed with its work kept (or, for agents that wrote nothing, its attempts recorded); no
//! slot holding a claim; and the journal agreeing with the forge and git.

use clambake::adapters::agents::simulated::simulated_file;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::open_journal;
use clambake::app::recovery::observe::registered_processes;
use clambake::app::recovery::repair::{Opened, diagnose};
use clambake::core::queue::labels::{self, agent_label};
use clambake::core::recovery::drift::ARCHIVE_PREFIX;
use clambake::ports::Clock;
use clambake::ports::forge::IssueState;
use clambake::ports::journal::{AttemptLog, Journal};

use crate::harness::{Soak, Tally, git};

/// How the issues ended.
#[derive(Debug, Default)]
pub struct Endings {
    pub merged: usize,
    pub failed: usize,
    /// Failed issues whose agent would have succeeded: the faults got them.
    pub failed_by_faults: usize,
    /// Attempts recorded over all issues.
    pub attempts: usize,
}

pub fn check(soak: &Soak, tally: &Tally) -> Endings {
    let root = &soak.root;
    let refs = git(
        root,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/",
            ARCHIVE_PREFIX,
        ],
    );
    soak.driver.block_on(async {
        let workspace = Workspace::discover(root).await.unwrap();
        let journal = open_journal(&workspace).unwrap();
        let mut endings = Endings::default();
        for (arrival, &number) in soak.arrivals.iter().zip(&tally.numbers) {
            let plan = arrival.plan;
            let issue = soak.forge.issue(number).await.unwrap();
            let work = simulated_file(number, &issue.title);
            let attempts = journal.attempts(number).unwrap();
            endings.attempts += attempts.len();
            if issue.state == IssueState::Closed {
                assert!(plan.can_succeed(), "#{number} ({plan:?}) was merged");
                assert!(has_file(soak, "main", &work), "#{number}: {work} is not on main");
                endings.merged += 1;
                continue;
            }
            assert_eq!(issue.labels, [labels::FAILED], "#{number} ({plan:?}) is neither merged nor failed");
            endings.failed += 1;
            if plan.can_succeed() {
                endings.failed_by_faults += 1;
            }
            assert!(!attempts.is_empty(), "#{number} ({plan:?}) failed with no attempt recorded");
            if plan.writes_work() {
                let kept = refs_of(&refs, number);
                assert!(
                    kept.iter().any(|r| has_file(soak, r, &work)),
                    "#{number} ({plan:?}) failed and its work is on none of {kept:?}; attempts: {attempts:#?}"
                );
            }
        }
        for slot in 1..=soak.scale.agents {
            let agent = agent_label(slot);
            let state = journal.current_state(&agent).unwrap();
            assert_eq!(state.claimed_issue(), None, "{agent} still holds a claim");
        }
        let opened = Opened::open(&workspace, registered_processes(&workspace).unwrap())
            .await
            .unwrap();
        let diagnosis = diagnose(&opened.world(&workspace), None, soak.clock.now())
            .await
            .unwrap();
        assert!(diagnosis.plans.is_empty(), "inconsistent at the end: {:#?}", diagnosis.plans);
        endings
    })
}

fn has_file(soak: &Soak, reference: &str, path: &str) -> bool {
    std::process::Command::new("git")
        .current_dir(&soak.root)
        .args(["cat-file", "-e", &format!("{reference}:{path}")])
        .status()
        .unwrap()
        .success()
}

/// The agent branches and archive references among `refs` that may hold the work on `issue`.
fn refs_of(refs: &str, issue: u64) -> Vec<&str> {
    refs.lines()
        .filter(|name| {
            let branch = name
                .strip_prefix(ARCHIVE_PREFIX)
                .or_else(|| name.strip_prefix("refs/heads/"))
                .unwrap_or(name);
            branch
                .split_once('/')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{issue}-")))
        })
        .collect()
}
