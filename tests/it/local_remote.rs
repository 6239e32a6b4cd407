//! The local forge's remote (the repository itself) on real repositories: a publish with a
//! stale lease is refused, the base tip is `refs/heads/<base>`, and deleting a remote branch
//! goes through the guarded deletion, and references outside the branches (claims) move by
//! compare and swap, listed by prefix.

use clambake::adapters::git::{Git, LocalRemote};
use clambake::core::recovery::drift::archive_ref;
use clambake::ports::git::{BranchDeletion, Fetched, GitError, MergeEngine, Remote};

use crate::support::TestRepo;

fn remote(repo: &TestRepo) -> LocalRemote {
    LocalRemote::new(Git::new(repo.path()))
}

#[tokio::test]
async fn a_publish_with_a_stale_lease_is_refused() {
    let repo = TestRepo::new();
    let remote = remote(&repo);
    let main = repo.git(&["rev-parse", "main"]);
    let first = repo.branch_with_file("elsewhere", "main", "a.txt", "a\n");
    let second = repo.branch_with_file("further", "main", "b.txt", "b\n");
    let branch = "agent001/1-work";

    assert!(remote.publish(branch, &main, None, "test").await.unwrap());
    assert!(
        !remote.publish(branch, &first, None, "test").await.unwrap(),
        "a branch that exists is not created again"
    );
    assert!(
        remote
            .publish(branch, &first, Some(&main), "test")
            .await
            .unwrap()
    );
    assert_eq!(repo.git(&["rev-parse", branch]), first);
    assert_eq!(
        repo.git(&["reflog", "--format=%gs", branch]).lines().next(),
        Some("test"),
        "the reflog says why the branch moved"
    );
    assert!(
        !remote
            .publish(branch, &second, Some(&main), "test")
            .await
            .unwrap(),
        "the lease names where the branch was, not where it is"
    );
    assert_eq!(repo.git(&["rev-parse", branch]), first, "nothing moved");
}

#[tokio::test]
async fn the_base_tip_is_the_repositorys_own_branch() {
    let repo = TestRepo::new();
    let remote = remote(&repo);
    let main = repo.git(&["rev-parse", "main"]);
    assert_eq!(remote.tip("main").await.unwrap(), Some(main.clone()));
    assert_eq!(remote.tip("no-such-base").await.unwrap(), None);
    repo.write("next.txt", "next\n");
    let moved = repo.commit_all("the base moves");
    assert_ne!(moved, main);
    assert_eq!(remote.tip("main").await.unwrap(), Some(moved));
    assert_eq!(remote.fetch().await.unwrap(), Fetched::SameRepository);
}

#[tokio::test]
async fn deleting_a_remote_branch_goes_through_the_guarded_deletion() {
    let repo = TestRepo::new();
    let remote = remote(&repo);
    let main = repo.git(&["rev-parse", "main"]);
    let person = repo.branch_with_file("feature/mine", "main", "a.txt", "mine\n");
    for (branch, tip) in [("main", &main), ("feature/mine", &person)] {
        let refused = remote.delete_branch(branch, tip, "main").await;
        assert!(
            matches!(refused, Err(GitError::DeletionRefused { .. })),
            "{branch}: {refused:?}"
        );
        assert_eq!(repo.git(&["rev-parse", branch]), *tip, "{branch} moved");
    }

    let unmerged = repo.branch_with_file("agent002/7-work", "main", "w.txt", "w\n");
    let moved = repo.branch_with_file("agent003/8-moved", "main", "m.txt", "m\n");
    assert_eq!(
        remote
            .delete_branch("agent003/8-moved", &main, "main")
            .await
            .unwrap(),
        BranchDeletion::Moved {
            found: moved.clone()
        }
    );
    let archive = archive_ref("agent002/7-work", &unmerged);
    assert_eq!(
        remote
            .delete_branch("agent002/7-work", &unmerged, "main")
            .await
            .unwrap(),
        BranchDeletion::Deleted {
            archived: Some(archive.clone())
        }
    );
    assert_eq!(repo.git(&["rev-parse", &archive]), unmerged);
    assert_eq!(remote.tip("agent002/7-work").await.unwrap(), None);
}

#[tokio::test]
async fn a_reference_outside_the_branches_is_published_with_a_lease_listed_and_read() {
    let repo = TestRepo::new();
    let remote = remote(&repo);
    let git = Git::new(repo.path());
    let tree = git.empty_tree().await.unwrap();
    let at = "2026-12-01T12:00:00Z".parse().unwrap();
    let first = git
        .write_commit(&tree, &[], "first\n\nbody", at)
        .await
        .unwrap();
    let second = git
        .write_commit(&tree, &[&first], "second", at)
        .await
        .unwrap();
    let claim = "refs/clambake/claims/12";

    assert!(
        remote
            .publish_ref(claim, &first, None, "claim")
            .await
            .unwrap()
    );
    assert!(
        !remote
            .publish_ref(claim, &second, None, "claim")
            .await
            .unwrap(),
        "an empty lease only creates"
    );
    assert!(
        !remote
            .publish_ref(claim, &second, Some(&second), "claim")
            .await
            .unwrap()
    );
    assert!(
        remote
            .publish_ref(claim, &second, Some(&first), "claim")
            .await
            .unwrap()
    );
    let listed = remote.fetch_refs("refs/clambake/claims/").await.unwrap();
    assert_eq!(
        listed.into_iter().collect::<Vec<_>>(),
        [(claim.to_owned(), second.clone())]
    );
    assert!(
        remote
            .fetch_refs("refs/clambake/orchestrators/")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        remote.commit_message(&first).await.unwrap(),
        "first\n\nbody"
    );
    assert_eq!(
        repo.git(&["ls-tree", &second]),
        "",
        "a record changes no file"
    );
}
