//! Trains on real git repositories: trial merges in memory, the bundle as real merge commits.

use clambake::adapters::git::{Git, LocalRemote};
use clambake::app::trains::trial::{
    BranchWrite, OpenTrainPullRequest, PendingTip, pending_tip, plan_on_git, write_bundle_branch,
    write_chain,
};
use clambake::core::trains::plan::{BundlePlan, Candidate, ConflictsWith, SetAsideReason};
use clambake::ports::git::{MergeEngine, MergeSpec, Refs, TrialMerge};
use jiff::Timestamp;

use crate::support::TestRepo;

fn candidate(repo: &TestRepo, issue: u64, branch: &str) -> Candidate {
    Candidate {
        issue,
        title: format!("issue {issue}"),
        branch: branch.to_owned(),
        head: repo.git(&["rev-parse", branch]),
        priority: 2,
        landed_at: Timestamp::from_second(1_800_000_000 + issue as i64).unwrap(),
    }
}

fn departure() -> Timestamp {
    "2026-11-21T06:10:00Z".parse().unwrap()
}

/// Six branches off `main`, overlapping on purpose:
/// 1 and 3 both rewrite `shared/a.txt` differently; 2 and 5 both rewrite `b.txt` differently;
/// 6 makes exactly the edit 1 makes; 4 touches a file of its own in two commits.
fn six_branches(repo: &TestRepo) -> Vec<Candidate> {
    repo.write("shared/a.txt", "base a\n");
    repo.write("b.txt", "base b\n");
    repo.commit_all("files to fight over");
    repo.branch_with_file("agent001/1-a", "main", "shared/a.txt", "one\n");
    repo.branch_with_file("agent002/2-b", "main", "b.txt", "two\n");
    repo.branch_with_file("agent003/3-a-again", "main", "shared/a.txt", "three\n");
    repo.branch_with_file("agent001/4-c", "main", "c.txt", "four\n");
    repo.branch_with_file("agent001/4-c", "agent001/4-c", "c2.txt", "four, again\n");
    repo.branch_with_file("agent002/5-b-again", "main", "b.txt", "five\n");
    repo.branch_with_file("agent003/6-same-as-1", "main", "shared/a.txt", "one\n");
    [
        (1, "agent001/1-a"),
        (2, "agent002/2-b"),
        (3, "agent003/3-a-again"),
        (4, "agent001/4-c"),
        (5, "agent002/5-b-again"),
        (6, "agent003/6-same-as-1"),
    ]
    .into_iter()
    .map(|(issue, branch)| candidate(repo, issue, branch))
    .collect()
}

fn members(plan: &BundlePlan) -> Vec<u64> {
    plan.members.iter().map(|m| m.candidate.issue).collect()
}

fn conflict_of(plan: &BundlePlan, issue: u64) -> (Vec<String>, ConflictsWith) {
    let set_aside = plan
        .set_aside
        .iter()
        .find(|s| s.candidate.issue == issue)
        .unwrap_or_else(|| panic!("#{issue} was not set aside"));
    match &set_aside.reason {
        SetAsideReason::Conflict { paths, with } => (paths.clone(), with.clone()),
        other => panic!("#{issue} set aside for {other:?}"),
    }
}

/// Everything a trial merge must leave alone: HEAD, the index, and the files on disk.
fn checkout_state(repo: &TestRepo) -> (String, String, String, String) {
    (
        repo.git(&["symbolic-ref", "HEAD"]),
        repo.git(&["rev-parse", "HEAD"]),
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        repo.git(&["ls-files", "--stage"]),
    )
}

#[tokio::test]
async fn the_plan_is_maximal_and_the_bundle_carries_every_member_commit() {
    let repo = TestRepo::new();
    let candidates = six_branches(&repo);
    // A dirty working tree that must survive untouched.
    repo.write("README.md", "# edited, not committed\n");
    repo.write("scratch.txt", "untracked\n");
    let before = checkout_state(&repo);
    let git = Git::new(repo.path());
    let base = repo.git(&["rev-parse", "main"]);

    let plan = plan_on_git(&git, &base, &PendingTip::default(), candidates.clone(), 8)
        .await
        .unwrap();

    assert_eq!(members(&plan), vec![1, 2, 4, 6]);
    assert_eq!(
        conflict_of(&plan, 3),
        (
            vec!["shared/a.txt".to_owned()],
            ConflictsWith::Member {
                issue: 1,
                branch: "agent001/1-a".to_owned()
            }
        )
    );
    assert_eq!(
        conflict_of(&plan, 5),
        (
            vec!["b.txt".to_owned()],
            ConflictsWith::Member {
                issue: 2,
                branch: "agent002/2-b".to_owned()
            }
        )
    );
    assert_eq!(checkout_state(&repo), before, "the checkout was touched");
    assert_eq!(repo.read("README.md"), "# edited, not committed\n");

    // Planning wrote no commit or reference; writing the chain does, still outside any checkout.
    assert!(
        repo.git(&["for-each-ref", "refs/heads/clambake"])
            .is_empty(),
        "planning wrote a branch"
    );
    let tip = write_chain(&git, &plan, departure()).await.unwrap();
    let tip = tip.as_str();
    assert_eq!(checkout_state(&repo), before, "the checkout was touched");
    // Maximal: every set-aside branch conflicts with the finished bundle.
    for set_aside in &plan.set_aside {
        assert!(matches!(
            git.trial_merge(tip, &set_aside.candidate.head)
                .await
                .unwrap(),
            TrialMerge::Conflict(_)
        ));
    }
    // Every member merges cleanly on its own, and every one of its commits is in the bundle
    // unchanged (same SHA, so same author).
    let mut previous = base.clone();
    for member in &plan.members {
        let head = &member.candidate.head;
        assert!(matches!(
            git.trial_merge(&base, head).await.unwrap(),
            TrialMerge::Clean(_)
        ));
        for commit in repo.git(&["rev-list", &format!("{base}..{head}")]).lines() {
            assert!(git.is_ancestor(commit, tip).await.unwrap());
            assert_eq!(
                repo.git(&["log", "-1", "--format=%an", commit]),
                "Test Author"
            );
        }
        previous = head.clone();
    }
    // A chain of real merge commits: the previous tip first, each member's head second, each
    // with the tree the plan merged.
    let chain: Vec<String> = repo
        .git(&[
            "rev-list",
            "--first-parent",
            "--reverse",
            &format!("{base}..{tip}"),
        ])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(chain.len(), plan.members.len());
    let mut parent = base.clone();
    for (commit, member) in chain.iter().zip(&plan.members) {
        let parents = repo.git(&["rev-list", "--parents", "-n", "1", commit]);
        assert_eq!(
            parents,
            format!("{commit} {parent} {}", member.candidate.head)
        );
        assert_eq!(
            repo.git(&["rev-parse", &format!("{commit}^{{tree}}")]),
            member.tip
        );
        assert_eq!(repo.git(&["log", "-1", "--format=%cn", commit]), "Clambake");
        parent = commit.clone();
    }
    assert_eq!(previous, plan.members.last().unwrap().candidate.head);
    assert_eq!(repo.git(&["show", &format!("{tip}:shared/a.txt")]), "one");
    assert_eq!(repo.git(&["show", &format!("{tip}:c2.txt")]), "four, again");

    // Planning and writing again for the same departure gives the same commits.
    let again = plan_on_git(&git, &base, &PendingTip::default(), candidates, 8)
        .await
        .unwrap();
    assert_eq!(write_chain(&git, &again, departure()).await.unwrap(), tip);
}

#[tokio::test]
async fn a_base_that_moved_since_the_branches_started_is_merged_into_and_blamed() {
    let repo = TestRepo::new();
    let candidates = six_branches(&repo);
    // main moves on after the branches were cut: it rewrites b.txt itself.
    repo.write("b.txt", "main moved\n");
    repo.write("d.txt", "new on main\n");
    let moved = repo.commit_all("main moves on");
    let git = Git::new(repo.path());

    let plan = plan_on_git(&git, &moved, &PendingTip::default(), candidates, 8)
        .await
        .unwrap();
    let tip = write_chain(&git, &plan, departure()).await.unwrap();

    assert_eq!(members(&plan), vec![1, 4, 6]);
    for issue in [2, 5] {
        assert_eq!(
            conflict_of(&plan, issue),
            (vec!["b.txt".to_owned()], ConflictsWith::Base)
        );
    }
    assert!(git.is_ancestor(&moved, &tip).await.unwrap());
    assert_eq!(repo.git(&["show", &format!("{tip}:d.txt")]), "new on main");
}

#[tokio::test]
async fn a_full_bundle_leaves_the_rest_waiting() {
    let repo = TestRepo::new();
    let candidates = six_branches(&repo);
    let git = Git::new(repo.path());
    let base = repo.git(&["rev-parse", "main"]);

    let plan = plan_on_git(&git, &base, &PendingTip::default(), candidates, 2)
        .await
        .unwrap();

    assert_eq!(members(&plan), vec![1, 2]);
    let full: Vec<u64> = plan
        .set_aside
        .iter()
        .filter(|s| s.reason == SetAsideReason::BundleFull)
        .map(|s| s.candidate.issue)
        .collect();
    assert_eq!(full, vec![3, 4, 5, 6]);
}

#[tokio::test]
async fn batched_trial_merges_agree_with_single_ones() {
    let repo = TestRepo::new();
    let candidates = six_branches(&repo);
    let git = Git::new(repo.path());
    let one = repo.git(&["rev-parse", "agent001/1-a"]);
    let main = repo.git(&["rev-parse", "main"]);
    let mut merges: Vec<MergeSpec> = candidates
        .iter()
        .map(|c| MergeSpec {
            base: None,
            ours: &one,
            theirs: &c.head,
        })
        .collect();
    // With an explicit merge base, trees merge too.
    let tree = repo.git(&["rev-parse", "agent001/1-a^{tree}"]);
    merges.push(MergeSpec {
        base: Some(&main),
        ours: &tree,
        theirs: &candidates[2].head,
    });

    let batched = git.trial_merges(&merges).await.unwrap();

    assert_eq!(batched.len(), merges.len());
    for (merge, answer) in merges.iter().zip(&batched) {
        let single = match merge.base {
            Some(base) => git.trial_merge_onto(base, merge.ours, merge.theirs).await,
            None => git.trial_merge(merge.ours, merge.theirs).await,
        };
        assert_eq!(&single.unwrap(), answer);
    }
    assert_eq!(batched[6], batched[2]);
    assert!(matches!(&batched[2], TrialMerge::Conflict(paths) if paths == &["shared/a.txt"]));
    assert!(git.trial_merges(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_bundle_branch_is_written_once() {
    let repo = TestRepo::new();
    let git = LocalRemote::new(Git::new(repo.path()));
    let main = repo.git(&["rev-parse", "main"]);
    let other = repo.branch_with_file("elsewhere", "main", "x.txt", "x\n");
    let branch = "clambake/bundle-20261121T0610Z";

    assert_eq!(
        write_bundle_branch(&git, branch, &main).await.unwrap(),
        BranchWrite::Created
    );
    assert_eq!(
        write_bundle_branch(&git, branch, &main).await.unwrap(),
        BranchWrite::AlreadyThere
    );
    assert_eq!(
        write_bundle_branch(&git, branch, &other).await.unwrap(),
        BranchWrite::Elsewhere {
            found: main.clone()
        }
    );
    assert_eq!(repo.git(&["rev-parse", branch]), main);
    assert_eq!(repo.git(&["symbolic-ref", "--short", "HEAD"]), "main");
}

#[tokio::test]
async fn a_branch_with_no_history_in_common_is_set_aside_and_the_rest_still_rides() {
    let repo = TestRepo::new();
    repo.branch_with_file("agent001/1-a", "main", "a.txt", "a\n");
    let tree = repo.git(&["rev-parse", "main^{tree}"]);
    let orphan = repo.git(&["commit-tree", &tree, "-m", "unrelated"]);
    repo.git(&["update-ref", "refs/heads/agent002/2-b", &orphan]);
    let git = Git::new(repo.path());
    let base = repo.git(&["rev-parse", "main"]);
    let candidates = vec![
        candidate(&repo, 1, "agent001/1-a"),
        candidate(&repo, 2, "agent002/2-b"),
    ];
    let plan = plan_on_git(&git, &base, &PendingTip::default(), candidates, 8)
        .await
        .unwrap();
    assert_eq!(plan.members.len(), 1);
    assert_eq!(plan.members[0].candidate.issue, 1);
    assert_eq!(plan.set_aside.len(), 1);
    assert_eq!(plan.set_aside[0].reason, SetAsideReason::NoCommonHistory);
}

#[tokio::test]
async fn open_pull_requests_are_merged_in_order_and_those_that_no_longer_fit_are_left_out() {
    let repo = TestRepo::new();
    let candidates = six_branches(&repo);
    // Open pull requests: #20 rewrites `shared/a.txt` as #1 does; #21 as #3 does, so not after
    // #20; #22 adds a file; #23 rewrites `b.txt`, which the base then rewrites too.
    let open = [
        (20, "agent001/1-a"),
        (21, "agent003/3-a-again"),
        (22, "agent001/4-c"),
        (23, "agent002/2-b"),
    ]
    .map(|(number, branch)| OpenTrainPullRequest {
        number,
        head: repo.git(&["rev-parse", branch]),
    });
    repo.write("b.txt", "moved\n");
    repo.commit_all("the base moves");
    let before = checkout_state(&repo);
    let git = Git::new(repo.path());
    let base = repo.git(&["rev-parse", "main"]);

    let pending = pending_tip(&git, &base, &open).await.unwrap();

    assert_eq!(pending.pull_requests, vec![20, 22]);
    assert_eq!(
        pending.left_out,
        vec![
            (21, "it conflicts with #20 in shared/a.txt".to_owned()),
            (23, "it conflicts with the base in b.txt".to_owned()),
        ]
    );
    // #1 and #4 are what is open; #6 makes #20's edit again and rides; #3 waits for #20; #2
    // and #5 clash with the moved base.
    let rest: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| ![1, 4].contains(&c.issue))
        .collect();
    let plan = plan_on_git(&git, &base, &pending, rest, 8).await.unwrap();
    assert_eq!(members(&plan), vec![6]);
    let reasons: Vec<(u64, String)> = plan
        .set_aside
        .iter()
        .map(|s| (s.candidate.issue, s.reason.describe()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (2, "conflicts with the base branch in b.txt".to_owned()),
            (
                3,
                "waits for #20 to merge: conflicts with it in shared/a.txt".to_owned()
            ),
            (5, "conflicts with the base branch in b.txt".to_owned()),
        ]
    );
    assert_eq!(checkout_state(&repo), before);
}
