//! Property: a consistent real world (repository, local forge, journal, child processes),
//! randomly perturbed, is consistent again after one recovery, and every commit reachable
//! before the perturbation is still reachable from a branch or an archive reference.
//!
//! Branch deletions target branches whose commits are kept elsewhere (a landed branch, archived
//! when it landed; an empty branch, at the base's commit): deleting the only reference to a
//! commit is beyond any recovery, and not something Clambake does.

use clambake::app::recovery::repair::{diagnose, recover};
use clambake::core::lifecycle::machine::Event;
use clambake::core::recovery::drift::archive_ref;
use clambake::ports::forge::NewPullRequest;
use jiff::Timestamp;
use proptest::prelude::*;

use crate::recovery_world::TestWorld;

#[derive(Debug, Clone, Copy)]
enum Perturbation {
    /// 0: the empty branch of agent002 (working); 1: the landed branch of agent003.
    DeleteBranch(usize),
    /// 0: agent001's label; 1: `route:review` of the landed issue; 2: `route:bundled`.
    DropLabel(usize),
    /// 0: agent005 beside agent001; 1: agent001 on the ready issue too.
    SecondAgentLabel(usize),
    /// 0: agent001 (has commits); 1: agent002 (has none).
    KillProcess(usize),
    RemoveWorktree,
    CloseBundle,
}

fn any_perturbation() -> impl Strategy<Value = Perturbation> {
    prop_oneof![
        (0..2usize).prop_map(Perturbation::DeleteBranch),
        (0..3usize).prop_map(Perturbation::DropLabel),
        (0..2usize).prop_map(Perturbation::SecondAgentLabel),
        (0..2usize).prop_map(Perturbation::KillProcess),
        Just(Perturbation::RemoveWorktree),
        Just(Perturbation::CloseBundle),
    ]
}

/// The issues of the consistent world.
struct Issues {
    working: u64,
    empty: u64,
    landed: u64,
    bundled: u64,
    ready: u64,
    bundle_pr: u64,
}

/// agent001 works on an issue (2 commits, a worktree, a live process); agent002 has just
/// started another (no commits yet, a live process); agent003 landed one (archived when it
/// landed); agent004's work rides in an open bundle pull request; one issue waits, ready.
async fn consistent_world(world: &TestWorld) -> Issues {
    let now = Timestamp::now();
    let working = world.issue(&["agent001"]).await;
    let branch = world.branch("agent001", working, 2);
    world.working("agent001", working, &branch, 2);
    world.worktree("agent001", working, &branch);
    world.processes.spawn("agent001", working, now);

    let empty = world.issue(&["agent002"]).await;
    let branch = world.branch("agent002", empty, 0);
    world.working("agent002", empty, &branch, 0);
    world.processes.spawn("agent002", empty, now);

    let landed = world.issue(&["route:review"]).await;
    let branch = world.branch("agent003", landed, 1);
    let tip = world.tip(&branch);
    world
        .repo
        .git(&["update-ref", &archive_ref(&branch, &tip), &tip]);
    world.working("agent003", landed, &branch, 1);
    world.journal_event("agent003", Event::CompleteWork);

    let bundled = world.issue(&["route:bundled"]).await;
    let branch = world.branch("agent004", bundled, 1);
    world.repo.git(&["branch", "clambake/bundle-1", &branch]);
    let bundle_pr = world
        .forge
        .create_pull_request(&NewPullRequest {
            title: "Bundle".into(),
            body: format!("Closes #{bundled}"),
            head: "clambake/bundle-1".into(),
            base: None,
        })
        .await
        .unwrap()
        .number;
    world.working("agent004", bundled, &branch, 1);
    world.journal_event("agent004", Event::CompleteWork);
    world.journal_event("agent004", Event::Bundle { bundle_pr });

    let ready = world.issue(&["route:ready"]).await;
    Issues {
        working,
        empty,
        landed,
        bundled,
        ready,
        bundle_pr,
    }
}

async fn perturb(world: &TestWorld, issues: &Issues, perturbation: Perturbation) {
    let edit = |issue: u64, add: &[&str], remove: &[&str]| {
        let add: Vec<String> = add.iter().map(|l| (*l).to_owned()).collect();
        let remove: Vec<String> = remove.iter().map(|l| (*l).to_owned()).collect();
        async move { world.forge.edit_labels(issue, &add, &remove).await.unwrap() }
    };
    match perturbation {
        Perturbation::DeleteBranch(which) => {
            let branch = match which {
                0 => format!("agent002/{}-fix", issues.empty),
                _ => format!("agent003/{}-fix", issues.landed),
            };
            world
                .repo
                .git(&["update-ref", "-d", &format!("refs/heads/{branch}")]);
        }
        Perturbation::DropLabel(which) => {
            let _ = match which {
                0 => edit(issues.working, &[], &["agent001"]).await,
                1 => edit(issues.landed, &[], &["route:review"]).await,
                _ => edit(issues.bundled, &[], &["route:bundled"]).await,
            };
        }
        Perturbation::SecondAgentLabel(which) => {
            let _ = match which {
                0 => edit(issues.working, &["agent005"], &[]).await,
                _ => edit(issues.ready, &["agent001"], &[]).await,
            };
        }
        Perturbation::KillProcess(which) => {
            world
                .processes
                .kill(if which == 0 { "agent001" } else { "agent002" });
        }
        Perturbation::RemoveWorktree => {
            let path = world
                .workspace
                .state_dir()
                .join("worktrees")
                .join(format!("agent001-{}", issues.working));
            if path.exists() {
                std::fs::remove_dir_all(path).unwrap();
            }
        }
        Perturbation::CloseBundle => {
            if world
                .forge
                .pull_request(issues.bundle_pr)
                .await
                .unwrap()
                .state
                == clambake::ports::forge::PullRequestState::Open
            {
                world
                    .forge
                    .close_pull_request(issues.bundle_pr)
                    .await
                    .unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn one_recovery_after_any_perturbation_ends_consistent_and_loses_no_commit(
        perturbations in prop::collection::vec(any_perturbation(), 1..4),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let world = TestWorld::new().await;
            let issues = consistent_world(&world).await;
            let now = Timestamp::now();
            assert_eq!(world.found(now).await, [], "the world starts consistent");
            let before = world.reachable();
            for perturbation in &perturbations {
                perturb(&world, &issues, *perturbation).await;
            }
            let report = recover(&world.world(), None, now).await.unwrap();
            assert!(report.executed.iter().all(|p| !p.failed()), "{perturbations:?}: {:#?}", report.executed);
            let left = diagnose(&world.world(), None, now).await.unwrap().plans;
            assert!(left.is_empty(), "{perturbations:?} left {left:#?}");
            let after = world.reachable();
            let lost: Vec<&String> = before.difference(&after).collect();
            assert!(lost.is_empty(), "{perturbations:?} lost {lost:?}");
        });
    }
}
