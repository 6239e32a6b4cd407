//! Pull requests against the real bare repository: creation, live heads, mergeability and
//! merging.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Harness, git};

#[tokio::test]
async fn a_second_open_pull_request_for_one_head_is_refused() {
    let harness = Harness::start().await;
    harness.push_branch("feature", "a.txt", "a\n");
    harness.create_pull("feature", "").await;
    let body = json!({ "title": "again", "head": "clambake:feature", "base": "main" });
    let refused = harness
        .expect(Method::POST, &harness.repo("/pulls"), body, 422)
        .await;
    assert_eq!(
        refused["errors"][0]["message"],
        "A pull request already exists for clambake:feature."
    );
    assert_eq!(harness.fake.pulls().len(), 1);

    let body = json!({ "title": "ghost", "head": "missing", "base": "main" });
    let refused = harness
        .expect(Method::POST, &harness.repo("/pulls"), body, 422)
        .await;
    assert_eq!(refused["errors"][0]["field"], "head");
}

#[tokio::test]
async fn the_head_is_read_live_and_mergeable_is_null_at_first() {
    let harness = Harness::start().await;
    harness.create_issue("a plain issue, not listed", &[]).await;
    let first = harness.push_branch("feature", "a.txt", "a\n");
    let created = harness.create_pull("feature", "").await;
    assert_eq!(created["head"]["sha"], first.as_str());
    let path = harness.repo("/pulls/2");
    let pull: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(
        pull["mergeable"], true,
        "computed since creation answered null"
    );

    let second = harness.commit("a.txt", "b\n", "more");
    git(
        &harness.work,
        &["push", "--quiet", "origin", "HEAD:feature"],
    );
    let moved: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(moved["head"]["sha"], second.as_str());
    assert_eq!(moved["mergeable"], Value::Null);
    assert_eq!(moved["mergeable_state"], "unknown");
    let computed: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(computed["mergeable"], true);
    assert_eq!(computed["commits"], 2);

    let listed: Value = harness
        .get(&harness.repo("/pulls?head=clambake:feature&base=main"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["head"]["sha"], second.as_str());
    let other: Value = harness
        .get(&harness.repo("/pulls?head=clambake:other"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!([]));
    let all: Value = harness
        .get(&harness.repo("/pulls?state=all"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "pull requests only");
}

#[tokio::test]
async fn merging_writes_a_merge_commit_and_closes_the_issues_named() {
    let harness = Harness::start().await;
    let fixed = harness.create_issue("to fix", &[]).await;
    let resolved = harness.create_issue("to resolve", &[]).await;
    let mentioned = harness.create_issue("only mentioned", &[]).await;
    let by_commit = harness
        .create_issue("closed by a commit message", &[])
        .await;
    harness.push_branch("feature", "a.txt", "a\n");
    let head = harness.commit("b.txt", "b\n", &format!("Closes #{by_commit}"));
    git(
        &harness.work,
        &["push", "--quiet", "origin", "HEAD:feature"],
    );
    let body = format!("Fixes #{fixed}\nresolves: #{resolved}, see #{mentioned}");
    let pull = harness.create_pull("feature", &body).await;
    let number = pull["number"].as_u64().unwrap();
    let base = git(&harness.work, &["rev-parse", "origin/main"]);

    let path = harness.repo(&format!("/pulls/{number}/merge"));
    let request = json!({ "sha": head, "merge_method": "merge", "commit_title": "Land it", "commit_message": "why" });
    let merged = harness.expect(Method::PUT, &path, request, 200).await;
    assert_eq!(merged["merged"], true);
    let sha = merged["sha"].as_str().unwrap().to_string();

    git(&harness.work, &["fetch", "--quiet", "origin"]);
    assert_eq!(git(&harness.work, &["rev-parse", "origin/main"]), sha);
    assert_eq!(
        git(&harness.work, &["log", "-1", "--format=%P", &sha]),
        format!("{base} {head}")
    );
    assert_eq!(
        git(&harness.work, &["log", "-1", "--format=%B", &sha]),
        "Land it\n\nwhy"
    );

    let state = |n| harness.fake.issue(n).unwrap().state.as_str();
    assert_eq!(
        (
            state(fixed),
            state(resolved),
            state(mentioned),
            state(by_commit)
        ),
        ("closed", "closed", "open", "closed")
    );
    assert_eq!(
        harness.fake.issue(fixed).unwrap().state_reason.as_deref(),
        Some("completed")
    );
    let pull: Value = harness
        .get(&harness.repo(&format!("/pulls/{number}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (pull["merged"].clone(), pull["state"].clone()),
        (json!(true), json!("closed"))
    );
    assert_eq!(pull["merge_commit_sha"], sha.as_str());
    assert_eq!(
        pull["head"]["sha"],
        head.as_str(),
        "a merged pull request keeps its head"
    );
    let again = harness.expect(Method::PUT, &path, json!({}), 405).await;
    assert_eq!(again["message"], "Pull Request is not mergeable");
}

#[tokio::test]
async fn merging_with_a_stale_head_answers_409() {
    let harness = Harness::start().await;
    let stale = harness.push_branch("feature", "a.txt", "a\n");
    let number = harness.create_pull("feature", "closes #1").await["number"]
        .as_u64()
        .unwrap();
    harness.commit("a.txt", "b\n", "moved");
    git(
        &harness.work,
        &["push", "--quiet", "origin", "HEAD:feature"],
    );
    let path = harness.repo(&format!("/pulls/{number}/merge"));
    let refused = harness
        .expect(Method::PUT, &path, json!({ "sha": stale }), 409)
        .await;
    assert_eq!(
        refused["message"],
        "Head branch was modified. Review and try the merge again."
    );
    assert_eq!(harness.fake.issue(number).unwrap().state.as_str(), "open");
    let main_before = git(&harness.work, &["rev-parse", "origin/main"]);
    git(&harness.work, &["fetch", "--quiet", "origin"]);
    assert_eq!(
        git(&harness.work, &["rev-parse", "origin/main"]),
        main_before
    );
}

#[tokio::test]
async fn a_conflicting_pull_request_is_not_mergeable() {
    let harness = Harness::start().await;
    harness.push_branch("left", "README", "left\n");
    harness.push_branch("right", "README", "right\n");
    let left = harness.create_pull("left", "").await["number"]
        .as_u64()
        .unwrap();
    let right = harness.create_pull("right", "").await["number"]
        .as_u64()
        .unwrap();
    harness
        .expect(
            Method::PUT,
            &harness.repo(&format!("/pulls/{left}/merge")),
            json!({}),
            200,
        )
        .await;
    let path = harness.repo(&format!("/pulls/{right}"));
    let first: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(first["mergeable"], Value::Null, "the base moved");
    let second: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(
        (
            second["mergeable"].clone(),
            second["mergeable_state"].clone()
        ),
        (json!(false), json!("dirty"))
    );
    harness
        .expect(Method::PUT, &format!("{path}/merge"), json!({}), 405)
        .await;

    let closed = harness
        .expect(Method::PATCH, &path, json!({ "state": "closed" }), 200)
        .await;
    assert_eq!(closed["state"], "closed");
    let listed: Value = harness
        .get(&harness.repo("/pulls?state=closed"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_push_of_the_head_into_the_base_merges_the_pull_request() {
    let harness = Harness::start().await;
    let issue = harness.create_issue("to fix", &[]).await;
    let head = harness.push_branch("feature", "a.txt", "a\n");
    let number = harness
        .create_pull("feature", &format!("Fixes #{issue}"))
        .await["number"]
        .as_u64()
        .unwrap();
    git(
        &harness.work,
        &["push", "--quiet", "origin", "feature:main"],
    );
    let pull: Value = harness
        .get(&harness.repo(&format!("/pulls/{number}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (pull["merged"].clone(), pull["state"].clone()),
        (json!(true), json!("closed"))
    );
    assert_eq!(pull["merge_commit_sha"], head.as_str());
    assert_eq!(harness.fake.issue(issue).unwrap().state.as_str(), "closed");
}

#[tokio::test]
async fn a_pull_request_whose_head_branch_is_deleted_closes_unmerged() {
    let harness = Harness::start().await;
    harness.push_branch("feature", "a.txt", "a\n");
    let number = harness.create_pull("feature", "").await["number"]
        .as_u64()
        .unwrap();
    git(
        &harness.work,
        &["push", "--quiet", "origin", "--delete", "feature"],
    );
    let pull: Value = harness
        .get(&harness.repo(&format!("/pulls/{number}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (pull["merged"].clone(), pull["state"].clone()),
        (json!(false), json!("closed"))
    );
}

#[tokio::test]
async fn a_squash_merge_writes_one_commit_on_the_base() {
    let harness = Harness::start().await;
    let base = git(&harness.work, &["rev-parse", "origin/main"]);
    harness.push_branch("feature", "a.txt", "a\n");
    harness.commit("b.txt", "b\n", "second");
    git(
        &harness.work,
        &["push", "--quiet", "origin", "HEAD:feature"],
    );
    let number = harness.create_pull("feature", "").await["number"]
        .as_u64()
        .unwrap();
    let path = harness.repo(&format!("/pulls/{number}/merge"));
    let merged = harness
        .expect(Method::PUT, &path, json!({ "merge_method": "squash" }), 200)
        .await;
    let sha = merged["sha"].as_str().unwrap();
    git(&harness.work, &["fetch", "--quiet", "origin"]);
    assert_eq!(git(&harness.work, &["log", "-1", "--format=%P", sha]), base);
    assert_eq!(
        git(&harness.work, &["log", "-1", "--format=%s", sha]),
        format!("feature (#{number})")
    );
    assert_eq!(git(&harness.work, &["show", &format!("{sha}:b.txt")]), "b");
}
