//! The git references and compare APIs over the bare repository, and the token's user.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Harness, git};

#[tokio::test]
async fn a_ref_is_created_only_if_it_does_not_exist() {
    let harness = Harness::start().await;
    let main = git(&harness.work, &["rev-parse", "origin/main"]);
    let path = harness.repo("/git/refs");
    let body = json!({ "ref": "refs/claims/7", "sha": main });
    let created = harness.expect(Method::POST, &path, body.clone(), 201).await;
    assert_eq!(created["ref"], "refs/claims/7");
    assert_eq!(created["object"]["sha"], main.as_str());
    let again = harness.expect(Method::POST, &path, body, 422).await;
    assert_eq!(again["message"], "Reference already exists");

    let got: Value = harness
        .get(&harness.repo("/git/ref/claims/7"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["object"]["sha"], main.as_str());
    let matching: Value = harness
        .get(&harness.repo("/git/matching-refs/claims/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(matching.as_array().unwrap().len(), 1);
    assert_eq!(
        harness
            .get(&harness.repo("/git/ref/claims/8"))
            .await
            .status(),
        404
    );

    let remote = git(&harness.work, &["ls-remote", "origin", "refs/claims/7"]);
    assert!(
        remote.starts_with(&main),
        "the ref is in the bare repository: {remote}"
    );
    let delete = harness
        .send(
            Method::DELETE,
            &harness.repo("/git/refs/claims/7"),
            json!(null),
        )
        .await;
    assert_eq!(delete.status(), 204);
    assert_eq!(
        git(&harness.work, &["ls-remote", "origin", "refs/claims/7"]),
        ""
    );
}

#[tokio::test]
async fn a_ref_update_must_fast_forward_unless_forced() {
    let harness = Harness::start().await;
    let old = git(&harness.work, &["rev-parse", "origin/main"]);
    let new = harness.push_branch("feature", "a.txt", "a\n");
    let path = harness.repo("/git/refs/heads/feature");
    let body = json!({ "sha": old });
    let refused = harness.expect(Method::PATCH, &path, body, 422).await;
    assert_eq!(refused["message"], "Update is not a fast forward");
    let forced = harness
        .expect(
            Method::PATCH,
            &path,
            json!({ "sha": old, "force": true }),
            200,
        )
        .await;
    assert_eq!(forced["object"]["sha"], old.as_str());
    let forward = harness
        .expect(Method::PATCH, &path, json!({ "sha": new }), 200)
        .await;
    assert_eq!(forward["object"]["sha"], new.as_str());
}

#[tokio::test]
async fn compare_tells_how_far_a_branch_is_ahead_and_behind() {
    let harness = Harness::start().await;
    let head = harness.push_branch("feature", "a.txt", "a\n");
    let ahead: Value = harness
        .get(&harness.repo("/compare/main...feature"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ahead["status"].clone(), ahead["ahead_by"].clone()),
        (json!("ahead"), json!(1))
    );
    assert_eq!(ahead["commits"][0]["sha"], head.as_str());
    assert_eq!(ahead["commits"][0]["commit"]["message"], "feature: a.txt");

    harness.push_branch("other", "b.txt", "b\n");
    git(&harness.work, &["push", "--quiet", "origin", "other:main"]);
    let diverged: Value = harness
        .get(&harness.repo("/compare/main...feature"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diverged["status"], "diverged");
    assert_eq!(diverged["behind_by"], 1);
    assert_eq!(
        harness
            .get(&harness.repo("/compare/main...nothing"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_authenticated_user_is_the_token_user() {
    let harness = Harness::start().await;
    let response = harness.get("/user").await;
    assert_eq!(response.headers()["x-oauth-scopes"], "repo");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["login"], "clambake");
}

#[tokio::test]
async fn an_installation_token_has_no_user() {
    let harness = Harness::start_with(|options| {
        options.installation = true;
        options.login = "clambake-app[bot]".to_string();
    })
    .await;
    let response = harness.get("/user").await;
    assert_eq!(response.status(), 403);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["message"], "Resource not accessible by integration");
    let number = harness.create_issue("by the app", &[]).await;
    let made: Value = harness
        .get(&harness.repo(&format!("/issues/{number}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(made["user"]["login"], "clambake-app[bot]");
}
