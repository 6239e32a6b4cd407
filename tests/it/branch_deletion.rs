//! The one guarded branch deletion (`Refs::delete_branch`) on real repositories: never the
//! base, never a branch outside Clambake's namespaces, an archive first for unmerged work, and
//! a compare and swap on the tip.

use clambake::adapters::git::Git;
use clambake::ports::git::{BranchDeletion, GitError, Refs};

use crate::support::TestRepo;

#[tokio::test]
async fn the_base_and_other_peoples_branches_are_refused() {
    let repo = TestRepo::new();
    let main = repo.git(&["rev-parse", "main"]);
    let person = repo.branch_with_file("feature/mine", "main", "a.txt", "mine\n");
    let bare = repo.branch_with_file("agentish", "main", "b.txt", "b\n");
    let git = Git::new(repo.path());
    for (branch, tip, base) in [
        ("main", &main, "main"),
        ("feature/mine", &person, "main"),
        ("agentish", &bare, "main"),
        ("agent001/1-x", &main, "agent001/1-x"),
    ] {
        if branch == "agent001/1-x" {
            repo.git(&["branch", branch, "main"]);
        }
        let refused = git.delete_branch(branch, tip, base).await;
        assert!(
            matches!(refused, Err(GitError::DeletionRefused { .. })),
            "{branch}: {refused:?}"
        );
        assert_eq!(repo.git(&["rev-parse", branch]), *tip, "{branch} moved");
    }
}

#[tokio::test]
async fn unmerged_work_is_archived_before_its_branch_goes() {
    let repo = TestRepo::new();
    let unmerged = repo.branch_with_file("agent002/7-work", "main", "w.txt", "work\n");
    let git = Git::new(repo.path());
    let deleted = git
        .delete_branch("agent002/7-work", &unmerged, "main")
        .await
        .unwrap();
    let archive = format!("refs/clambake/archive/agent002/7-work/{unmerged}");
    assert_eq!(
        deleted,
        BranchDeletion::Deleted {
            archived: Some(archive.clone())
        }
    );
    assert_eq!(repo.git(&["rev-parse", &archive]), unmerged);
    assert_eq!(git.branch_tip("agent002/7-work").await.unwrap(), None);
    assert_eq!(
        git.delete_branch("agent002/7-work", &unmerged, "main")
            .await
            .unwrap(),
        BranchDeletion::Absent
    );
}

#[tokio::test]
async fn merged_work_needs_no_archive_and_a_moved_branch_stays() {
    let repo = TestRepo::new();
    let main = repo.git(&["rev-parse", "main"]);
    repo.git(&["branch", "clambake/bundle-20261121T0610Z", "main"]);
    let git = Git::new(repo.path());
    assert_eq!(
        git.delete_branch("clambake/bundle-20261121T0610Z", &main, "main")
            .await
            .unwrap(),
        BranchDeletion::Deleted { archived: None }
    );
    assert!(
        repo.git(&["for-each-ref", "refs/clambake/archive"])
            .is_empty()
    );

    let moved = repo.branch_with_file("agent001/3-moved", "main", "m.txt", "m\n");
    let deleted = git
        .delete_branch("agent001/3-moved", &main, "main")
        .await
        .unwrap();
    assert_eq!(
        deleted,
        BranchDeletion::Moved {
            found: moved.clone()
        }
    );
    assert_eq!(repo.git(&["rev-parse", "agent001/3-moved"]), moved);
}
