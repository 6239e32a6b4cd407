//! A locked issue on GitHub: an app's token may still edit its labels, but GitHub refuses its
//! comments ("Unable to create comment because issue is locked."). Finished work on such an
//! issue still lands, its comment left out and said in the log, rather than failing disposal
//! on every pass with the attempt parked and the claim held.

use clambake::ports::Forge;
use clambake::ports::forge::ForgeError;
use clambake_github_fake::Options;

use crate::github_forge::{github, github_with, new_issue};
use crate::support::TestRepo;

/// As on GitHub: a locked issue takes comments from the repository's owner, not from an app's
/// token, and its labels still change for both.
#[tokio::test]
async fn a_locked_issue_refuses_an_apps_comment_and_takes_an_owners() {
    let app = github_with(|options| {
        options.installation = true;
        options.login = "clambake-app[bot]".to_owned();
        options.association = "MEMBER".to_owned();
    })
    .await;
    let issue = app
        .forge
        .create_issue(&new_issue("Locked", &[]))
        .await
        .unwrap();
    app.fake.lock_issue(issue.number);
    let refused = app.forge.create_comment(issue.number, "From the app").await;
    assert!(
        matches!(refused, Err(ForgeError::Locked(n)) if n == issue.number),
        "{refused:?}"
    );
    let labelled = (app.forge)
        .edit_labels(issue.number, &["route:review".to_owned()], &[])
        .await
        .unwrap();
    assert_eq!(labelled.labels, ["route:review"]);
    app.finish();

    let owner = github().await;
    let issue = owner
        .forge
        .create_issue(&new_issue("Locked", &[]))
        .await
        .unwrap();
    owner.fake.lock_issue(issue.number);
    owner
        .forge
        .create_comment(issue.number, "From the owner")
        .await
        .unwrap();
    owner.finish();
}

#[test]
fn finished_work_on_a_locked_issue_lands_without_its_comment() {
    let repo = TestRepo::on_github_with(|bare| {
        let mut options = Options::new(bare);
        options.installation = true;
        options.token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a".to_owned();
        options.login = "clambake-app[bot]".to_owned();
        options.association = "MEMBER".to_owned();
        options
    });
    repo.init(&["--agents", "1"]).success();
    for (key, value) in [
        ("agents.runtime", "simulated"),
        ("forge.poll_interval_seconds", "1"),
    ] {
        repo.clambake(&["config", "set", key, value]).success();
    }
    let created = repo
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Locked",
            "--label",
            "route:ready",
            "--json",
        ])
        .success()
        .json();
    let number = created["number"].as_u64().unwrap();
    let fake = &repo.github().unwrap().fake;
    fake.lock_issue(number);

    let run = repo
        .clambake(&["run", "--until-idle", "--no-view", "--json"])
        .success();

    let summary = run.json();
    let landed = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "landed");
    assert!(landed, "{summary}\n{}", run.stderr);
    assert_eq!(fake.issue(number).unwrap().labels, ["route:review"]);
    let comments: Vec<_> = (fake.comments().into_iter())
        .filter(|c| c.issue == number)
        .collect();
    assert!(comments.is_empty(), "{comments:?}");
    assert!(
        run.stderr.contains(&format!("#{number} is locked")),
        "{}",
        run.stderr
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}
