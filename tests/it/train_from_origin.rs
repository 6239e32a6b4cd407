//! A train on one machine carries what another orchestrator landed: on the GitHub backend the
//! bundler reads origin's branches (fetched first), with this clone's tip where it is ahead of
//! origin's, and leaves out, saying so, a branch whose tip here and on origin have diverged.
//! Two clones of one origin, as two machines have.

use clambake_github_fake::IssueState;

use crate::github_support::{GithubRepo, init_command};
use crate::support::{CliOutput, TestRepo, clambake_in_env};

/// A second clone of `github`'s origin, initialised for the same GitHub repository.
struct OtherMachine {
    repo: TestRepo,
    token: String,
}

impl OtherMachine {
    fn of(github: &GithubRepo) -> Self {
        let repo = TestRepo::new();
        repo.git(&["remote", "add", "origin", &github.fake().origin_url()]);
        repo.git(&["fetch", "-q", "origin"]);
        repo.git(&["reset", "-q", "--hard", "origin/main"]);
        repo.write("clambake.toml", "[github]\nmutation_interval_ms = 0\n");
        let machine = Self {
            repo,
            token: github.fake().token(),
        };
        let init = init_command(github.fake(), 2);
        machine
            .clambake(&init.iter().map(String::as_str).collect::<Vec<_>>())
            .success();
        machine
    }

    fn clambake(&self, args: &[&str]) -> CliOutput {
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        let run = || clambake_in_env(self.repo.path(), args, &[("GH_TOKEN", &self.token)]);
        if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_train_carries_what_another_machine_landed_and_the_work_ahead_here() {
    let alpha = GithubRepo::start(2);
    let beta = OtherMachine::of(&alpha);
    let issue = |title: &str| {
        alpha
            .clambake(&[
                "issue",
                "create",
                "--title",
                title,
                "--label",
                "route:review",
                "--json",
            ])
            .success()
            .json()["number"]
            .as_u64()
            .unwrap()
    };
    let (one, two, three, four) = (issue("One"), issue("Two"), issue("Three"), issue("Four"));
    let branch = |n: u64, slot: &str, slug: &str| format!("{slot}/{n}-{slug}");
    let (b1, b2, b3, b4) = (
        branch(one, "agent001", "one"),
        branch(two, "agent002", "two"),
        branch(three, "agent001", "three"),
        branch(four, "agent002", "four"),
    );
    // #1 landed on alpha and pushed: beta has no branch of it.
    let landed_elsewhere = alpha.repo.branch_with_file(&b1, "main", "one.txt", "1\n");
    alpha.repo.git(&["push", "-q", "origin", &b1]);
    // #2 landed on beta, and beta has a commit on it origin lacks yet.
    beta.repo.branch_with_file(&b2, "main", "two.txt", "2\n");
    beta.repo.git(&["push", "-q", "origin", &b2]);
    let ahead_here = beta.repo.branch_with_file(&b2, &b2, "two.txt", "2, more\n");
    // #3: a commit on alpha's branch and another on beta's, neither with the other's.
    alpha.repo.branch_with_file(&b3, "main", "three.txt", "3\n");
    alpha.repo.git(&["push", "-q", "origin", &b3]);
    let diverged_here = beta
        .repo
        .branch_with_file(&b3, "main", "three.txt", "three\n");
    // #4: beta has an older tip; alpha went on with it and pushed.
    let older = beta.repo.branch_with_file(&b4, "main", "four.txt", "4\n");
    beta.repo.git(&["push", "-q", "origin", &b4]);
    alpha.repo.git(&["fetch", "-q", "origin"]);
    alpha
        .repo
        .git(&["branch", "-f", &b4, &format!("origin/{b4}")]);
    let went_on = alpha
        .repo
        .branch_with_file(&b4, &b4, "four.txt", "4, more\n");
    alpha.repo.git(&["push", "-q", "origin", &b4]);

    let train = beta
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();

    let bundles = train["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{train}");
    assert_eq!(
        bundles[0]["issues"],
        serde_json::json!([one, two, four]),
        "{train}"
    );
    let waiting = &train["waiting"];
    assert_eq!(waiting[0]["issue"], three, "{train}");
    assert!(
        waiting[0]["why"]
            .as_str()
            .unwrap()
            .contains("each have commits the other lacks"),
        "{train}"
    );
    let head = bundles[0]["head"].as_str().unwrap();
    let bundle = alpha.origin_git(&["rev-parse", &format!("refs/heads/{head}")]);
    for carried in [&landed_elsewhere, &ahead_here, &went_on] {
        alpha.origin_git(&["merge-base", "--is-ancestor", carried, &bundle]);
    }
    assert_ne!(older, went_on);
    for issue in [one, two, four] {
        assert_eq!(alpha.fake().issue(issue).unwrap().labels, ["route:bundled"]);
    }
    assert_eq!(alpha.fake().issue(three).unwrap().labels, ["route:review"]);
    // Nothing of either side was lost or moved: beta's diverged work is where it was.
    assert_eq!(beta.repo.git(&["rev-parse", &b3]), diverged_here);
    let diagnosis = beta
        .clambake(&["bundle", "--diagnose", "--json"])
        .success()
        .json();
    let of_three = diagnosis
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["issue"] == three)
        .unwrap();
    assert_eq!(of_three["in_next_train"], false, "{diagnosis}");
    assert_eq!(of_three["branch"], b3.as_str());
    // What beta sent is on origin as its bundle recorded it, so alpha's next train finds the
    // bundle as it was, rather than taking it apart for a member that moved.
    assert_eq!(
        alpha.origin_git(&["rev-parse", &format!("refs/heads/{b2}")]),
        ahead_here
    );
    alpha
        .clambake(&["config", "set", "bundling.trigger", "manual"])
        .success();
    let again = alpha.clambake(&["bundle", "--json"]).success().json();
    assert_eq!(again["repairs"], serde_json::json!([]), "{again}");
    let number = bundles[0]["number"].as_u64().unwrap();
    let bundle_pr = alpha.fake().issue(number).unwrap();
    assert_eq!(bundle_pr.state, IssueState::Open, "{again}");
    alpha.assert_no_violations();
}

/// Another machine's bundle branch, pushed a minute ago for the departure slot then, whose pull
/// request it is about to open: `(branch, tip)`.
fn in_flight_bundle(beta: &OtherMachine, carried: &str) -> (String, String) {
    let slot = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    let branch = clambake::core::trains::schedule::bundle_branch(slot);
    beta.repo.git(&["fetch", "-q", "origin"]);
    beta.repo
        .git(&["branch", "-f", &branch, &format!("origin/{carried}")]);
    let tip = beta
        .repo
        .branch_with_file(&branch, &branch, "bundle.txt", "beta's\n");
    beta.repo.git(&["push", "-q", "origin", &branch]);
    (branch, tip)
}

/// Creates an issue in review on `github` with its branch pushed: `(number, branch)`.
fn landed(github: &GithubRepo, title: &str, slot: &str) -> (u64, String) {
    let number = github
        .clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:review",
            "--json",
        ])
        .success()
        .json()["number"]
        .as_u64()
        .unwrap();
    let branch = format!("{slot}/{number}-{}", title.to_lowercase());
    let file = format!("{}.txt", title.to_lowercase());
    github
        .repo
        .branch_with_file(&branch, "main", &file, "work\n");
    github.repo.git(&["push", "-q", "origin", &branch]);
    (number, branch)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_train_leaves_another_machines_bundle_branch_alone_before_its_pull_request() {
    let alpha = GithubRepo::start(2);
    let beta = OtherMachine::of(&alpha);
    let (one, b1) = landed(&alpha, "One", "agent001");
    let (two, _) = landed(&alpha, "Two", "agent002");
    let (theirs, tip) = in_flight_bundle(&beta, &b1);

    let train = alpha
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();

    // Beta's branch is where beta put it, for beta's pull request; alpha's bundle has its own.
    assert_eq!(
        alpha.origin_git(&["rev-parse", &format!("refs/heads/{theirs}")]),
        tip,
        "{train}"
    );
    assert_eq!(train["left_alone"][0]["branch"], theirs.as_str(), "{train}");
    let bundles = train["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{train}");
    assert_ne!(bundles[0]["head"], theirs.as_str(), "{train}");
    assert_eq!(
        bundles[0]["issues"],
        serde_json::json!([one, two]),
        "{train}"
    );
    alpha.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_machines_bundle_branch_is_deleted_only_after_it_sat_with_no_pull_request() {
    let alpha = GithubRepo::start(2);
    let beta = OtherMachine::of(&alpha);
    let (one, b1) = landed(&alpha, "One", "agent001");
    let (theirs, tip) = in_flight_bundle(&beta, &b1);

    let train = alpha
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(
        alpha.origin_git(&["rev-parse", &format!("refs/heads/{theirs}")]),
        tip,
        "{train}"
    );
    assert_eq!(train["left_alone"][0]["branch"], theirs.as_str(), "{train}");
    assert_eq!(train["individual"][0]["issues"], serde_json::json!([one]));

    // Alpha first saw it eleven minutes ago, by alpha's clock: beta is not opening its pull
    // request any more, and the branch is alpha's to clean up.
    let sightings = alpha.repo.path().join(".clambake/bundle-sightings.json");
    let mut seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sightings).unwrap()).unwrap();
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(11);
    seen[&theirs]["since"] = serde_json::json!(long_ago.to_string());
    std::fs::write(&sightings, seen.to_string()).unwrap();
    let later = alpha
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(later["left_alone"], serde_json::json!([]), "{later}");
    assert_eq!(
        later["repairs"],
        serde_json::json!([format!("removed `{theirs}`: nothing left to bundle")]),
        "{later}"
    );
    let left = alpha.origin_git(&["for-each-ref", &format!("refs/heads/{theirs}")]);
    assert_eq!(left, "", "{later}");
}
