//! How long a lifecycle transition takes: decided in memory, and decided then journaled to a
//! real SQLite file (WAL) the way every command does it.

use clambake::adapters::journal::SqliteJournal;
use clambake::app::lifecycle::transitions::transition;
use clambake::core::lifecycle::machine::{Event, Lifecycle, State};
use divan::Bencher;
use jiff::Timestamp;

fn main() {
    divan::main();
}

fn working() -> State {
    State::Working {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
        commits_ahead: 1,
    }
}

/// Assigned → Working: the state machine alone.
#[divan::bench]
fn transition_in_memory(bencher: Bencher) {
    let assigned = State::Assigned {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
    };
    let event = Event::StartWork { commits_ahead: 3 };
    bencher
        .with_inputs(|| Lifecycle::resume("agent001", assigned.clone()))
        .bench_local_refs(|slot| slot.apply(&event).unwrap());
}

/// A refused event, which builds its typed error.
#[divan::bench]
fn refusal_in_memory(bencher: Bencher) {
    let event = Event::CompleteWork;
    bencher
        .with_inputs(|| Lifecycle::new("agent001"))
        .bench_local_refs(|slot| slot.apply(&event).unwrap_err());
}

/// Working → Working (a progress update): resume from the journal, decide, and record.
#[divan::bench]
fn transition_with_journal_write(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
    let at: Timestamp = "2026-11-21T06:00:00Z".parse().unwrap();
    let assign = Event::Assign {
        agent_id: "agent001".into(),
        issue: 12,
        branch: "agent001/12-fix-login".into(),
    };
    transition(&journal, "agent001", &assign, "bench", at).unwrap();
    let progress = Event::StartWork { commits_ahead: 1 };
    transition(&journal, "agent001", &progress, "bench", at).unwrap();
    assert_eq!(
        clambake::ports::journal::Journal::current_state(&journal, "agent001").unwrap(),
        working()
    );
    bencher.bench_local(|| transition(&journal, "agent001", &progress, "bench", at).unwrap());
}

/// `detect` and `plan` over 200 issues, 50 agent branches, 10 slots and their processes:
/// the pure part of `agent diagnose --all`.
#[divan::bench]
fn diagnose_200_issues_50_branches(bencher: Bencher) {
    use std::collections::BTreeMap;

    use clambake::core::recovery::drift::{
        IssueFacts, Limits, ProcessFacts, RefFacts, Snapshot, WorktreeFacts, detect,
    };
    use clambake::core::recovery::plans::{Policy, plan};

    let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
    let agent = |n: u64| format!("agent{:03}", n % 10 + 1);
    let issues = (1..=200)
        .map(|n| IssueFacts {
            number: n,
            open: n % 7 != 0,
            labels: match n % 4 {
                0 => vec![agent(n)],
                1 => vec!["route:review".to_owned()],
                _ => vec!["route:ready".to_owned()],
            },
        })
        .collect();
    let branches: Vec<RefFacts> = (1..=50)
        .map(|n| RefFacts {
            name: format!("{}/{}-change-{n}", agent(n * 4), n * 4),
            tip: format!("{n:040x}"),
            commits_ahead: (n % 3) as u32,
        })
        .collect();
    let snapshot = Snapshot {
        issues,
        pull_requests: vec![],
        worktrees: branches
            .iter()
            .take(10)
            .map(|b| WorktreeFacts {
                path: format!("/w/{}", b.name).into(),
                head: b.tip.clone(),
                branch: Some(b.name.clone()),
                dirty: false,
            })
            .collect(),
        branches,
        archives: vec![],
        processes: (1..=10)
            .map(|n| ProcessFacts {
                agent: agent(n),
                issue: n * 4,
                attempt: Some(1),
                alive: n % 2 == 0,
                last_activity: now,
            })
            .collect(),
        last_attempts: vec![],
    };
    let believed: BTreeMap<String, State> = (1..=10)
        .map(|n| {
            let issue = n * 4;
            let state = State::Working {
                agent_id: agent(issue),
                issue,
                branch: format!("{}/{issue}-change-{n}", agent(issue)),
                commits_ahead: 1,
            };
            (agent(issue), state)
        })
        .collect();
    let limits = Limits {
        now,
        max_stuck: jiff::SignedDuration::from_mins(90),
    };
    let policy = Policy {
        cleanup_abandoned_branches: true,
    };
    assert!(!detect(&snapshot, &believed, limits).is_empty());
    bencher.bench(|| {
        detect(&snapshot, &believed, limits)
            .iter()
            .map(|found| plan(found, policy))
            .collect::<Vec<_>>()
    });
}

/// `agent diagnose --all` without the printing: observation (the local forge's 200 issues and
/// pull requests, one `git for-each-ref` over 50 agent branches, `git worktree list`, the
/// `/proc` scan for agent processes, the journal) then detection and planning, on a real
/// repository.
#[divan::bench(sample_count = 20)]
fn diagnose_observed_200_issues_50_branches(bencher: Bencher) {
    use std::process::Command;
    use std::sync::Arc;

    use clambake::app::Workspace;
    use clambake::app::lifecycle::transitions::open_journal;
    use clambake::app::recovery::repair::{World, diagnose};
    use clambake::app::setup::init::init;
    use clambake::core::config::ForgeBackend;
    use clambake::ports::forge::NewIssue;
    use clambake::ports::{Forge, SystemClock};

    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .current_dir(dir.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@localhost")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@localhost")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "base"]);
    let base = git(&["rev-parse", "HEAD"]);
    let tree = git(&["rev-parse", "HEAD^{tree}"]);
    let one = git(&["commit-tree", &tree, "-p", &base, "-m", "one"]);
    let two = git(&["commit-tree", &tree, "-p", &one, "-m", "two"]);
    let agent = |n: u64| format!("agent{:03}", n % 10 + 1);
    for n in 1..=50u64 {
        let tip = [&base, &one, &two][(n % 3) as usize];
        let name = format!("refs/heads/{}/{}-change-{n}", agent(n * 4), n * 4);
        git(&["update-ref", &name, tip]);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (workspace, forge, journal) = runtime.block_on(async {
        let workspace = Workspace::discover(dir.path()).await.unwrap();
        init(&workspace, ForgeBackend::Local, Some(10))
            .await
            .unwrap();
        let forge = workspace
            .open_local_forge(Arc::new(SystemClock))
            .await
            .unwrap();
        for n in 1..=200u64 {
            let labels = match n % 4 {
                0 => vec![agent(n)],
                1 => vec!["route:review".to_owned()],
                _ => vec!["route:ready".to_owned()],
            };
            let new = NewIssue {
                title: format!("Issue {n}"),
                labels,
                ..NewIssue::default()
            };
            forge.create_issue(&new).await.unwrap();
        }
        let journal = open_journal(&workspace).unwrap();
        let at: Timestamp = "2026-11-21T06:00:00Z".parse().unwrap();
        // Five slots hold issues (4, 8, ... 20 belong to five different agents).
        for n in 1..=5u64 {
            let issue = n * 4;
            let assign = Event::Assign {
                agent_id: agent(issue),
                issue,
                branch: format!("{}/{issue}-change-{n}", agent(issue)),
            };
            transition(&journal, &agent(issue), &assign, "bench", at).unwrap();
        }
        (workspace, forge, journal)
    });
    let config = workspace.load_config().unwrap().config;
    let processes = clambake::app::recovery::observe::registered_processes(&workspace).unwrap();
    let world = World::new(
        &workspace,
        &forge,
        &journal,
        processes.as_ref(),
        "main".to_owned(),
        &config,
    );
    let now = Timestamp::now();
    let first = runtime.block_on(diagnose(&world, None, now)).unwrap();
    assert_eq!(first.snapshot.issues.len(), 200);
    assert_eq!(first.snapshot.branches.len(), 51);
    assert!(!first.plans.is_empty());
    bencher.bench_local(|| runtime.block_on(diagnose(&world, None, now)).unwrap());
}
