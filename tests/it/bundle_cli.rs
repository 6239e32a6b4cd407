//! `clambake bundle` end to end on both backends, and crash safety of the train.

use rstest::rstest;

use serde_json::Value;

use crate::backend::Backend;
use crate::support::TestRepo;

/// Five issues in review, each with its agent branch; #4 rewrites the file #3 rewrites.
pub fn five_landed(backend: Backend) -> TestRepo {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.write("shared.txt", "base\n");
    repo.commit_all("a file to fight over");
    repo.publish("main");
    for (title, branch, file, contents) in [
        ("One", "agent001/1-one", "one.txt", "1\n"),
        ("Two", "agent002/2-two", "two.txt", "2\n"),
        ("Three", "agent003/3-three", "shared.txt", "three\n"),
        ("Four", "agent001/4-four", "shared.txt", "four\n"),
        ("Five", "agent002/5-five", "five.txt", "5\n"),
    ] {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:review",
        ])
        .success();
        repo.branch_with_file(branch, "main", file, contents);
    }
    repo
}

/// [`five_landed`], with trains leaving only when forced: a `bundle` run that is only to
/// repair must not also depart because a slot of the default schedule began since the last
/// train (ten minutes apart, a boundary falls between two runs now and then).
pub fn five_landed_manual(backend: Backend) -> TestRepo {
    let repo = five_landed(backend);
    repo.configure(&[("bundling.trigger", "manual")]);
    repo
}

/// The numbers in a JSON array.
pub fn numbers(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// The issues a train left waiting (its `waiting` entries).
pub fn waiting_issues(train: &Value) -> Vec<u64> {
    train["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["issue"].as_u64().unwrap())
        .collect()
}

#[rstest]
fn one_train_carries_the_clean_branches_and_the_conflicting_one_gets_its_own(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed(backend);
    let status = repo
        .clambake(&["bundle", "--status", "--json"])
        .success()
        .json();
    assert_eq!(status["waiting"].as_array().unwrap().len(), 5);
    assert_eq!(status["next"]["decision"], "due");

    let dry = repo
        .clambake(&["bundle", "--dry-run", "--json"])
        .success()
        .json();
    let riders: Vec<u64> = dry["plan"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["candidate"]["issue"].as_u64().unwrap())
        .collect();
    assert_eq!(riders, vec![1, 2, 3, 5]);
    assert!(repo.forge_branches("clambake/").is_empty());
    assert!(
        repo.pull_requests().is_empty(),
        "a dry run opened something"
    );

    let diagnosis = repo
        .clambake(&["bundle", "--diagnose", "--json"])
        .success()
        .json();
    let four = diagnosis
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["issue"] == 4)
        .unwrap();
    assert_eq!(four["in_next_train"], false);
    assert_eq!(
        four["why"],
        "conflicts with #3 (`agent003/3-three`) in shared.txt"
    );

    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert_eq!(numbers(&train["bundles"][0]["issues"]), vec![1, 2, 3, 5]);
    assert_eq!(train["individual"].as_array().unwrap().len(), 1);
    assert_eq!(numbers(&train["individual"][0]["issues"]), vec![4]);

    let prs = repo.pull_requests();
    assert_eq!(prs.len(), 2);
    let bundle = prs
        .iter()
        .find(|pr| pr["head"].as_str().unwrap().starts_with("clambake/bundle-"))
        .unwrap();
    let title = bundle["title"].as_str().unwrap();
    assert!(title.starts_with("Bundle "), "{title}");
    assert!(title.ends_with(": 4 issues (#1, #2, #3, #5)"), "{title}");
    let body = bundle["body"].as_str().unwrap();
    for closes in ["Closes #1", "Closes #2", "Closes #3", "Closes #5"] {
        assert!(body.contains(closes), "{body}");
    }
    assert!(body.contains("<!-- clambake:bundle {"), "{body}");
    let own = prs
        .iter()
        .find(|pr| pr["head"] == "agent001/4-four")
        .unwrap();
    let own_body = own["body"].as_str().unwrap();
    assert!(own_body.contains("Closes #4"));
    assert!(own_body.contains("shared.txt") && own_body.contains("#3"));
    for issue in [1, 2, 3, 5] {
        assert_eq!(repo.labels_of(issue), ["route:bundled"], "#{issue}");
    }
    assert_eq!(repo.labels_of(4), ["route:review"]);

    // Again, and forced: nothing new is opened.
    repo.clambake(&["bundle", "--json"]).success();
    let forced = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert!(forced["bundles"].as_array().unwrap().is_empty());
    assert_eq!(repo.pull_requests().len(), 2);
    let status = repo
        .clambake(&["bundle", "--status", "--json"])
        .success()
        .json();
    assert_eq!(status["open_bundles"].as_array().unwrap().len(), 1);
    assert!(status["waiting"].as_array().unwrap().is_empty());

    // Merging the bundle closes its issues; the next run removes the merged branches, and the
    // agent worktree one of them is still checked out in.
    let worktree = repo.path().join(".clambake/worktrees/five");
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        worktree.to_str().unwrap(),
        "agent002/5-five",
    ]);
    let number = bundle["number"].as_u64().unwrap().to_string();
    let merged = repo
        .clambake(&["pr", "merge", &number, "--json"])
        .success()
        .json();
    assert_eq!(numbers(&merged["closed_issues"]), vec![1, 2, 3, 5]);
    let open: Vec<u64> = repo
        .clambake(&["issue", "list", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(open, vec![4]);
    // Someone looks at a merged member in the main checkout: deleting that branch would leave
    // their checkout on an unborn HEAD, so it stays.
    repo.git(&["checkout", "--quiet", "agent001/1-one"]);
    let after = repo.clambake(&["bundle", "--json"]).success().json();
    // Three of the four member branches and the bundle branch.
    assert_eq!(after["repairs"].as_array().unwrap().len(), 4, "{after}");
    assert_eq!(repo.git(&["branch", "--show-current"]), "agent001/1-one");
    repo.git(&["rev-parse", "--verify", "HEAD"]);
    repo.git(&["checkout", "--quiet", "main"]);
    let again = repo.clambake(&["bundle", "--json"]).success().json();
    assert_eq!(again["repairs"].as_array().unwrap().len(), 1, "{again}");
    assert!(repo.forge_branches("clambake/").is_empty());
    for branch in ["agent001/1-one", "agent003/3-three", "agent002/5-five"] {
        assert_eq!(repo.forge_tip(branch), None, "{branch} was kept");
    }
    assert!(repo.forge_tip("agent001/4-four").is_some());
    assert!(!worktree.exists(), "the merged member's worktree was kept");

    // The same name made again later (the issue reopened and worked again) is new work: the
    // merged bundle's clean-up leaves it alone.
    repo.git(&["branch", "--force", "agent003/3-three", "agent001/4-four"]);
    repo.publish("agent003/3-three");
    repo.clambake(&["bundle", "--json"]).success();
    assert!(
        repo.forge_tip("agent003/3-three").is_some(),
        "later work under a merged member's name was deleted"
    );
}

#[rstest]
fn a_lone_branch_gets_an_ordinary_pull_request(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Solo",
        "--label",
        "route:review",
    ])
    .success();
    repo.branch_with_file("agent001/1-solo", "main", "solo.txt", "solo\n");

    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();

    assert!(train["bundles"].as_array().unwrap().is_empty());
    let prs = repo.pull_requests();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["head"], "agent001/1-solo");
    assert!(prs[0]["body"].as_str().unwrap().contains("Closes #1"));
    assert!(repo.forge_branches("clambake/").is_empty());

    // A person turns it down: later trains do not open it again while the branch stays put.
    let number = prs[0]["number"].as_u64().unwrap().to_string();
    repo.clambake(&["pr", "close", &number]).success();
    repo.clambake(&["bundle", "--force", "--json"]).success();
    assert_eq!(repo.pull_requests().len(), 1, "reopened after being closed");
    let diagnosis = repo
        .clambake(&["bundle", "--diagnose", "--json"])
        .success()
        .json();
    assert_eq!(
        diagnosis[0]["why"],
        format!(
            "its pull request #{number} was closed without merging; new commits on its branch \
             put it back in the trains"
        )
    );
    // New work on the branch is a new proposal.
    repo.branch_with_file("agent001/1-solo", "agent001/1-solo", "more.txt", "more\n");
    repo.clambake(&["bundle", "--force", "--json"]).success();
    assert_eq!(repo.pull_requests().len(), 2);
}

#[rstest]
fn skip_conflicts_leaves_the_conflicting_branch_waiting(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed(backend);
    repo.clambake(&[
        "config",
        "set",
        "bundling.conflict_strategy",
        "skip_conflicts",
    ])
    .success();

    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();

    assert_eq!(waiting_issues(&train), vec![4]);
    assert!(train["individual"].as_array().unwrap().is_empty());
    assert_eq!(repo.pull_requests().len(), 1);
}

#[rstest]
fn a_manual_trigger_waits_for_force(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let repo = five_landed(backend);
    repo.clambake(&["config", "set", "bundling.trigger", "manual"])
        .success();

    let train = repo.clambake(&["bundle", "--json"]).success().json();

    assert_eq!(train["departure"]["decision"], "manual");
    assert!(repo.pull_requests().is_empty());
    let text = repo.clambake(&["bundle", "--status"]).success().stdout;
    assert!(text.contains("--force"), "{text}");
}

#[rstest]
fn a_member_that_moves_gets_its_bundle_rebuilt(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed(backend);
    let first = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let old = first["bundles"][0]["number"].as_u64().unwrap();
    // The agent pushes one more commit to #2 after it was bundled.
    let moved = repo.branch_with_file("agent002/2-two", "agent002/2-two", "two-more.txt", "+\n");

    let rebuilt = repo.clambake(&["bundle", "--json"]).success().json();

    let repairs = rebuilt["repairs"].to_string();
    assert!(
        repairs.contains(&format!("closed #{old} to rebuild it: #2 moved")),
        "{repairs}"
    );
    let new = rebuilt["bundles"][0]["number"].as_u64().unwrap();
    assert_ne!(new, old);
    // #2 landed again just now: it boards last, or in its place if that was the same second.
    let mut riders = numbers(&rebuilt["bundles"][0]["issues"]);
    riders.sort_unstable();
    assert_eq!(riders, vec![1, 2, 3, 5]);
    let head = rebuilt["bundles"][0]["head"].as_str().unwrap();
    let head = repo.forge_tip(head).expect("the rebuilt bundle's branch");
    repo.git(&["merge-base", "--is-ancestor", &moved, &head]);
    let states: Vec<(u64, String)> = repo
        .pull_requests()
        .iter()
        .map(|pr| {
            (
                pr["number"].as_u64().unwrap(),
                pr["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(states.contains(&(old, "closed".to_owned())), "{states:?}");
    assert!(states.contains(&(new, "open".to_owned())), "{states:?}");
    // #4 kept its single fallback pull request.
    assert_eq!(
        repo.pull_requests()
            .iter()
            .filter(|pr| pr["head"] == "agent001/4-four")
            .count(),
        1
    );
}

#[rstest]
fn a_bundle_closed_unmerged_sends_its_issues_back_to_review(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed_manual(backend);
    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let number = train["bundles"][0]["number"].as_u64().unwrap().to_string();
    repo.clambake(&["pr", "close", &number]).success();

    let after = repo.clambake(&["bundle", "--json"]).success().json();

    assert!(
        after["repairs"].to_string().contains("closed unmerged"),
        "{after}"
    );
    for issue in [1, 2, 3, 5] {
        let labels = repo.labels_of(issue);
        assert!(labels.contains(&"route:review".to_owned()), "{labels:?}");
        assert!(!labels.contains(&"route:bundled".to_owned()), "{labels:?}");
    }
}

/// The tip of a removed branch is archived here, on either backend: a fix pushed onto a closed
/// bundle's branch is kept.
#[rstest]
fn a_bundle_closed_unmerged_has_its_branch_removed_and_its_tip_archived(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed_manual(backend);
    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let first = train["bundles"][0]["head"].as_str().unwrap().to_owned();
    let number = train["bundles"][0]["number"].as_u64().unwrap().to_string();
    repo.clambake(&["pr", "close", &number]).success();

    let after = repo.clambake(&["bundle", "--json"]).success().json();

    let branches = repo.forge_branches("clambake/");
    assert!(!branches.contains(&first), "{branches:?}");
    let kept = format!("refs/clambake/archive/{first}/");
    assert!(after["repairs"].to_string().contains(&kept), "{after}");

    // A person pushes a fix onto the next bundle, then closes it: the fix is kept.
    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let second = train["bundles"][0]["head"].as_str().unwrap().to_owned();
    let number = train["bundles"][0]["number"].as_u64().unwrap().to_string();
    repo.fetch(&second);
    let fix = repo.branch_with_file(&second, &second, "fix.txt", "fixed\n");
    repo.clambake(&["pr", "close", &number]).success();

    let after = repo.clambake(&["bundle", "--json"]).success().json();

    let archive = format!("refs/clambake/archive/{second}/{fix}");
    assert!(after["repairs"].to_string().contains(&archive), "{after}");
    assert_eq!(repo.git(&["rev-parse", &archive]), fix);
    let branches = repo.forge_branches("clambake/");
    assert!(!branches.contains(&second), "{branches:?}");
    // The agent branches the bundles carried are all still there.
    for branch in ["agent001/1-one", "agent002/2-two", "agent002/5-five"] {
        assert!(repo.forge_tip(branch).is_some(), "{branch} was removed");
    }
}

#[rstest]
fn only_one_bundler_runs_at_a_time(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let repo = five_landed(backend);
    let lock = std::fs::File::create(repo.path().join(".clambake/bundle.lock")).unwrap();
    lock.try_lock().unwrap();

    let out = repo.clambake(&["bundle", "--force"]);

    assert_eq!(out.code, 4);
    assert!(
        out.stderr.contains("another bundler is running"),
        "{}",
        out.stderr
    );
    assert!(repo.pull_requests().is_empty());
    drop(lock);
    repo.clambake(&["bundle", "--force"]).success();
    assert_eq!(repo.pull_requests().len(), 2);
}

#[rstest]
fn a_bundle_rebuilt_after_a_member_was_rewritten_keeps_the_old_head_archived(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed(backend);
    let train = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    let old = train["bundles"][0]["head"].as_str().unwrap().to_owned();
    let old_head = repo.git(&["rev-parse", "agent001/1-one"]);
    // The member's branch is rewritten: its bundled head is now only in the bundle.
    repo.branch_with_file("agent001/1-one", "main", "one.txt", "one, again\n");

    // The first run closes the bundle to rebuild it; the next one cleans up its branch.
    repo.clambake(&["bundle", "--json"]).success();
    let after = repo.clambake(&["bundle", "--json"]).success().json();

    let archived = repo.git(&[
        "for-each-ref",
        "--format=%(objectname)",
        &format!("refs/clambake/archive/{old}/"),
    ]);
    assert_eq!(archived.lines().count(), 1, "{archived}");
    assert!(
        after["repairs"].to_string().contains("is kept under"),
        "{after}"
    );
    // `git` fails the test unless the old head is in the archived history.
    repo.git(&["merge-base", "--is-ancestor", &old_head, &archived]);
    let branches = repo.forge_branches("clambake/");
    assert!(!branches.contains(&old), "{branches:?}");
}

#[rstest]
fn a_departure_that_sent_one_branch_alone_still_uses_up_its_slot(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Solo",
        "--label",
        "route:review",
    ])
    .success();
    repo.branch_with_file("agent001/1-solo", "main", "solo.txt", "solo\n");

    let train = repo.clambake(&["bundle", "--json"]).success().json();
    assert_eq!(train["departure"]["decision"], "due", "{train}");
    assert_eq!(train["individual"].as_array().unwrap().len(), 1, "{train}");
    assert_eq!(
        train["individual"][0]["why"],
        "it was the only branch left waiting, with none to share a bundle with"
    );

    // No bundle branch shows that departure; the journal does.
    let status = repo
        .clambake(&["bundle", "--status", "--json"])
        .success()
        .json();
    assert_eq!(
        status["last_departure"], train["departure"]["at"],
        "{status}"
    );
    // Waiting for the next slot (or, if the clock crossed into it just now, due for that one).
    let next = &status["next"];
    assert!(
        next["decision"] == "wait"
            || (next["decision"] == "due" && next["at"] != train["departure"]["at"]),
        "{status}"
    );
}
