//! The remote of a forge elsewhere, `origin`, on real repositories: a bare repository as
//! origin (file://) and a clone. Publishing takes a lease (fresh or stale), fetching prunes,
//! the tip is the remote's own, and deletion is the guarded one, on the remote.

use clambake::adapters::git::{Git, HttpAuth, OriginRemote};
use clambake::core::recovery::drift::archive_ref;
use clambake::ports::git::{BranchDeletion, Fetched, GitError, Remote};
use tempfile::TempDir;

use clambake::app::trains::trial::publish_head;

use crate::support::TestRepo;

/// A clone whose `origin` is a bare repository holding its `main`.
struct Clone {
    repo: TestRepo,
    origin: TempDir,
}

impl Clone {
    fn new() -> Self {
        let repo = TestRepo::new();
        let origin = tempfile::Builder::new()
            .prefix("clambake-origin-")
            .tempdir()
            .unwrap();
        let bare = origin.path().to_str().unwrap();
        repo.git(&["init", "-q", "--bare", "-b", "main", bare]);
        repo.git(&["remote", "add", "origin", &format!("file://{bare}")]);
        repo.git(&["push", "-q", "origin", "main"]);
        repo.git(&["fetch", "-q", "origin"]);
        Self { repo, origin }
    }

    /// The adapter, with a token that git never needs for a file:// remote.
    fn remote(&self) -> OriginRemote {
        let auth = HttpAuth::github_token("github.com", "ghp_notneededforfile0000");
        OriginRemote::new(Git::new(self.repo.path()), Some(auth))
    }

    /// The bare repository's own tip of `branch`.
    fn origin_tip(&self, branch: &str) -> Option<String> {
        let bare = self.origin.path().to_str().unwrap();
        let output = std::process::Command::new("git")
            .args(["-C", bare, "rev-parse", "--verify", "--quiet"])
            .arg(format!("refs/heads/{branch}"))
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

#[tokio::test]
async fn a_publish_takes_a_lease_and_a_stale_one_moves_nothing() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let remote = clone.remote();
    let main = repo.git(&["rev-parse", "main"]);
    let first = repo.branch_with_file("elsewhere", "main", "a.txt", "a\n");
    let second = repo.branch_with_file("further", "main", "b.txt", "b\n");
    let branch = "agent001/1-work";

    assert!(remote.publish(branch, &main, None, "test").await.unwrap());
    assert_eq!(clone.origin_tip(branch), Some(main.clone()));
    assert!(
        !remote.publish(branch, &main, None, "test").await.unwrap(),
        "already there, but the empty lease said it must not exist"
    );
    assert!(
        remote
            .publish(branch, &main, Some(&main), "test")
            .await
            .unwrap(),
        "already there, as the lease said"
    );
    assert!(
        !remote.publish(branch, &first, None, "test").await.unwrap(),
        "an empty lease: a branch that exists is not created again"
    );
    assert_eq!(clone.origin_tip(branch), Some(main.clone()));
    assert!(
        remote
            .publish(branch, &first, Some(&main), "test")
            .await
            .unwrap()
    );
    assert_eq!(clone.origin_tip(branch), Some(first.clone()));
    assert!(
        !remote
            .publish(branch, &second, Some(&main), "test")
            .await
            .unwrap(),
        "the lease names where the branch was, not where it is"
    );
    assert_eq!(clone.origin_tip(branch), Some(first), "nothing moved");
}

#[tokio::test]
async fn a_publish_the_remote_refuses_is_an_error_not_a_stale_lease() {
    let clone = Clone::new();
    let hook = clone.origin.path().join("hooks/pre-receive");
    crate::support::write_script(
        hook.parent().unwrap(),
        "pre-receive",
        "echo protected >&2\nexit 1\n",
    );
    let main = clone.repo.git(&["rev-parse", "main"]);
    let error = clone
        .remote()
        .publish("agent001/1-work", &main, None, "test")
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::Failed { .. }), "{error:?}");
}

#[tokio::test]
async fn a_fetch_brings_the_remote_branches_and_prunes_the_gone() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let remote = clone.remote();
    let work = repo.branch_with_file("agent001/1-x", "main", "x.txt", "x\n");
    // Pushed by someone else: this repository has no tracking reference for it yet.
    repo.git(&["push", "-q", "origin", "agent001/1-x", "--no-verify"]);
    repo.git(&["update-ref", "-d", "refs/remotes/origin/agent001/1-x"]);
    repo.git(&["update-ref", "refs/remotes/origin/gone", "main"]);

    assert_eq!(remote.fetch().await.unwrap(), Fetched::Remote);
    assert_eq!(
        repo.git(&["rev-parse", &remote.tracking_ref("agent001/1-x")]),
        work
    );
    assert_eq!(
        remote.tracking_ref("agent001/1-x"),
        "refs/remotes/origin/agent001/1-x"
    );
    let refs = repo.git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/remotes/origin/",
    ]);
    assert!(!refs.contains("refs/remotes/origin/gone"), "{refs}");
}

#[tokio::test]
async fn the_tip_is_the_remote_s_even_before_a_fetch() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let remote = clone.remote();
    let main = repo.git(&["rev-parse", "main"]);
    assert_eq!(remote.tip("main").await.unwrap(), Some(main));
    assert_eq!(remote.tip("no-such-base").await.unwrap(), None);

    // The remote's main moves, pushed from another clone: its commit is not here yet.
    let other = TestRepo::new();
    let bare = clone.origin.path().to_str().unwrap();
    other.git(&["fetch", "-q", bare, "main"]);
    other.git(&["reset", "-q", "--hard", "FETCH_HEAD"]);
    other.write("next.txt", "next\n");
    let moved = other.commit_all("the base moves");
    other.git(&["push", "-q", bare, "main"]);

    assert_eq!(remote.tip("main").await.unwrap(), Some(moved.clone()));
    assert_eq!(
        repo.git(&["rev-parse", &remote.tracking_ref("main")]),
        moved,
        "the tip is here to count against"
    );
}

#[tokio::test]
async fn deleting_a_remote_branch_is_the_guarded_deletion() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let remote = clone.remote();
    let main = repo.git(&["rev-parse", "main"]);
    let work = repo.branch_with_file("agent001/1-x", "main", "x.txt", "x\n");
    let other = repo.branch_with_file("elsewhere", "main", "y.txt", "y\n");
    let branch = "agent001/1-x";
    assert!(remote.publish(branch, &work, None, "test").await.unwrap());

    let refused = remote
        .delete_branch("main", &main, "main")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GitError::DeletionRefused { .. }),
        "{refused:?}"
    );
    assert!(remote.publish("keep", &main, None, "test").await.unwrap());
    let refused = remote
        .delete_branch("keep", &main, "main")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GitError::DeletionRefused { .. }),
        "{refused:?}"
    );
    assert_eq!(clone.origin_tip("keep"), Some(main.clone()));

    assert_eq!(
        remote.delete_branch(branch, &other, "main").await.unwrap(),
        BranchDeletion::Moved {
            found: work.clone()
        },
        "a branch that moved is kept"
    );
    assert_eq!(clone.origin_tip(branch), Some(work.clone()));

    let archive = archive_ref(branch, &work);
    assert_eq!(
        remote.delete_branch(branch, &work, "main").await.unwrap(),
        BranchDeletion::Deleted {
            archived: Some(archive.clone())
        },
        "work the base lacks is archived here first"
    );
    assert_eq!(clone.origin_tip(branch), None);
    assert_eq!(repo.git(&["rev-parse", &archive]), work);
    assert_eq!(
        remote.delete_branch(branch, &work, "main").await.unwrap(),
        BranchDeletion::Absent
    );

    // Work already in the base needs no archive.
    let merged = "agent002/2-y";
    assert!(remote.publish(merged, &main, None, "test").await.unwrap());
    assert_eq!(
        remote.delete_branch(merged, &main, "main").await.unwrap(),
        BranchDeletion::Deleted { archived: None }
    );
}

#[tokio::test]
async fn references_outside_the_branches_are_published_and_fetched_by_their_remote_names() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let remote = clone.remote();
    let main = repo.git(&["rev-parse", "main"]);
    let claim = "refs/clambake/claims/7";
    assert!(
        remote
            .publish_ref(claim, &main, None, "claim")
            .await
            .unwrap()
    );
    assert!(
        !remote
            .publish_ref(claim, &main, None, "claim")
            .await
            .unwrap(),
        "an empty lease: a claim that exists is not made again"
    );

    // Another orchestrator's claim, a commit this repository has never seen.
    let other = TestRepo::new();
    let bare = clone.origin.path().to_str().unwrap();
    let theirs = other.git(&[
        "commit-tree",
        "-m",
        "claimed by elsewhere",
        &other.git(&["write-tree"]),
    ]);
    other.git(&[
        "push",
        "-q",
        bare,
        &format!("{theirs}:refs/clambake/claims/8"),
    ]);

    let fetched = remote.fetch_refs("refs/clambake/claims/").await.unwrap();
    assert_eq!(
        fetched.into_iter().collect::<Vec<_>>(),
        vec![
            (claim.to_owned(), main.clone()),
            ("refs/clambake/claims/8".to_owned(), theirs.clone()),
        ]
    );
    assert_eq!(
        remote.commit_message(&theirs).await.unwrap().trim(),
        "claimed by elsewhere"
    );
    assert!(
        repo.git(&["for-each-ref", "refs/clambake/claims/"])
            .is_empty(),
        "fetching keeps the remote's references apart from this repository's own"
    );

    other.git(&["push", "-q", bare, ":refs/clambake/claims/8"]);
    let fetched = remote.fetch_refs("refs/clambake/claims/").await.unwrap();
    assert_eq!(
        fetched.keys().collect::<Vec<_>>(),
        vec![claim],
        "the gone is pruned"
    );
    assert!(
        remote
            .fetch_refs("refs/clambake/nothing-here/")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_reference_outside_the_branches_is_created_once_and_mirrored_back_with_its_commit() {
    let first = Clone::new();
    let bare = first.origin.path().to_str().unwrap();
    let second = TestRepo::new();
    second.git(&["remote", "add", "origin", &format!("file://{bare}")]);
    let claim = "refs/clambake/claims/7";
    let ours = claim_commit(&first.repo, "claim by one");
    let theirs = claim_commit(&second, "claim by two");
    let (one, two) = (
        first.remote(),
        OriginRemote::new(Git::new(second.path()), None),
    );

    assert!(one.publish_ref(claim, &ours, None, "claim").await.unwrap());
    assert!(
        !two.publish_ref(claim, &theirs, None, "claim")
            .await
            .unwrap(),
        "a reference that exists is not created again"
    );
    let seen = two.fetch_refs("refs/clambake/claims/").await.unwrap();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [(claim.to_owned(), ours.clone())]
    );
    assert_eq!(
        two.commit_message(&ours).await.unwrap().trim(),
        "claim by one"
    );
    assert!(
        second.git(&["branch", "-r"]).is_empty(),
        "the mirror is not taken for branches"
    );

    assert!(
        two.publish_ref(claim, &theirs, Some(&ours), "take over")
            .await
            .unwrap()
    );
    assert!(
        !one.publish_ref(claim, &ours, Some(&ours), "stale")
            .await
            .unwrap()
    );
    first
        .repo
        .git(&["push", "-q", "origin", &format!(":{claim}")]);
    assert!(
        two.fetch_refs("refs/clambake/claims/")
            .await
            .unwrap()
            .is_empty(),
        "a reference the remote deleted is pruned from the mirror"
    );
}

/// A commit of the empty tree, as a claim is, with `message`.
fn claim_commit(repo: &TestRepo, message: &str) -> String {
    let empty_tree = repo.git(&["hash-object", "-t", "tree", "-w", "/dev/null"]);
    repo.git(&["commit-tree", &empty_tree, "-m", message])
}

#[tokio::test]
async fn a_head_published_for_review_never_overwrites_work_the_remote_has_and_it_lacks() {
    let clone = Clone::new();
    let repo = &clone.repo;
    let ours = repo.branch_with_file("agent001/1-one", "main", "ours.txt", "ours\n");
    let elsewhere = TestRepo::new();
    let bare = clone.origin.path().to_str().unwrap();
    elsewhere.git(&["remote", "add", "origin", &format!("file://{bare}")]);
    elsewhere.git(&["fetch", "-q", "origin"]);
    elsewhere.git(&["checkout", "-q", "-B", "main", "origin/main"]);
    let theirs = elsewhere.branch_with_file("agent001/1-one", "main", "theirs.txt", "theirs\n");
    elsewhere.git(&["push", "-q", "origin", "agent001/1-one"]);
    let git = clambake::app::compose::origin_repository(repo.path(), "https://github.com", None);

    publish_head(&git, "agent001/1-one").await.unwrap();
    assert_eq!(
        clone.origin_tip("agent001/1-one").as_deref(),
        Some(theirs.as_str()),
        "the remote's work is kept"
    );

    repo.git(&["fetch", "-q", "origin", "agent001/1-one"]);
    repo.git(&["branch", "-f", "agent001/1-one", &theirs]);
    let later = repo.branch_with_file("agent001/1-one", "agent001/1-one", "more.txt", "more\n");
    publish_head(&git, "agent001/1-one").await.unwrap();
    assert_eq!(
        clone.origin_tip("agent001/1-one").as_deref(),
        Some(later.as_str()),
        "a tip that holds the remote's is published"
    );
    assert_ne!(ours, later);
}
