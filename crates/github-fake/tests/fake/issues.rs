//! Issues, labels, assignees and comments.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Harness;

fn numbers(listing: &Value) -> Vec<u64> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_issues_listing_includes_pull_requests_marked_as_such() {
    let harness = Harness::start().await;
    let issue = harness.create_issue("an issue", &[]).await;
    harness.push_branch("feature", "a.txt", "a\n");
    let pull = harness.create_pull("feature", "").await["number"]
        .as_u64()
        .unwrap();
    assert_eq!((issue, pull), (1, 2), "one number sequence");

    let listing: Value = harness
        .get(&harness.repo("/issues"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&listing), [2, 1], "newest first");
    assert!(
        listing[0]["pull_request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/pulls/2")
    );
    assert!(listing[1].get("pull_request").is_none());
    let as_issue: Value = harness
        .get(&harness.repo("/issues/2"))
        .await
        .json()
        .await
        .unwrap();
    assert!(as_issue["pull_request"].is_object());
}

#[tokio::test]
async fn a_labels_filter_means_all_of_them_and_state_filters() {
    let harness = Harness::start().await;
    let both = harness.create_issue("both", &["queued", "bug"]).await;
    harness.create_issue("one", &["queued"]).await;
    let closed = harness.create_issue("closed", &["queued", "bug"]).await;
    let path = harness.repo(&format!("/issues/{closed}"));
    let body = json!({ "state": "closed", "state_reason": "not_planned" });
    let closed_issue = harness.expect(Method::PATCH, &path, body, 200).await;
    assert_eq!(closed_issue["state_reason"], "not_planned");
    assert!(closed_issue["closed_at"].is_string());

    let open: Value = harness
        .get(&harness.repo("/issues?labels=queued,BUG"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&open), [both]);
    let all: Value = harness
        .get(&harness.repo("/issues?labels=bug&state=all"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&all), [closed, both]);
    let future = harness
        .get(&harness.repo("/issues?since=2999-01-01T00:00:00Z"))
        .await;
    assert_eq!(
        future.json::<Value>().await.unwrap(),
        json!([]),
        "nothing updated since"
    );
    let past = harness
        .get(&harness.repo("/issues?since=2000-01-01T00:00:00Z&state=all"))
        .await;
    assert_eq!(numbers(&past.json::<Value>().await.unwrap()).len(), 3);
    assert_eq!(
        harness
            .get(&harness.repo("/issues?state=bogus"))
            .await
            .status(),
        422
    );
    let violations = harness.take_violations();
    assert_eq!(
        violations.len(),
        1,
        "the fake notices a request off the description"
    );
    assert!(violations[0].contains("`state`"), "{violations:?}");
}

#[tokio::test]
async fn labels_are_created_once_and_added_and_removed_on_issues() {
    let harness = Harness::start().await;
    let path = harness.repo("/labels");
    let body = json!({ "name": "queued", "color": "#00FF00", "description": "ready" });
    let label = harness.expect(Method::POST, &path, body.clone(), 201).await;
    assert_eq!(label["color"], "00ff00");
    let duplicate = harness
        .expect(Method::POST, &path, json!({ "name": "QUEUED" }), 422)
        .await;
    assert_eq!(duplicate["errors"][0]["code"], "already_exists");
    assert_eq!(harness.fake.labels().len(), 1);

    let number = harness.create_issue("task", &[]).await;
    let issue_labels = harness.repo(&format!("/issues/{number}/labels"));
    let added = harness
        .expect(
            Method::POST,
            &issue_labels,
            json!({ "labels": ["queued", "new"] }),
            200,
        )
        .await;
    assert_eq!(added.as_array().unwrap().len(), 2);
    assert!(
        harness.fake.labels().iter().any(|l| l.name == "new"),
        "unknown labels are created"
    );

    let remove = format!("{issue_labels}/queued");
    let left = harness
        .expect(Method::DELETE, &remove, json!(null), 200)
        .await;
    assert_eq!(left[0]["name"], "new");
    let absent = harness
        .expect(Method::DELETE, &remove, json!(null), 404)
        .await;
    assert_eq!(absent["message"], "Label does not exist");

    let odd = harness.repo(&format!("/issues/{number}/labels"));
    let body = json!({ "labels": ["route:ready", "a b/c"] });
    harness.expect(Method::POST, &odd, body, 200).await;
    for encoded in ["route%3Aready", "a%20b%2Fc"] {
        let path = format!("{odd}/{encoded}");
        harness
            .expect(Method::DELETE, &path, json!(null), 200)
            .await;
    }
    let got: Value = harness
        .get(&harness.repo("/labels/route%3Aready"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "route:ready");
    let rename = harness.repo("/labels/new");
    harness
        .expect(
            Method::PATCH,
            &rename,
            json!({ "new_name": "renamed" }),
            200,
        )
        .await;
    assert_eq!(harness.fake.issue(number).unwrap().labels, ["renamed"]);
    assert_eq!(
        harness.get(&harness.repo("/labels/RENAMED")).await.status(),
        200
    );
}

#[tokio::test]
async fn assignees_and_edits() {
    let harness = Harness::start().await;
    let number = harness.create_issue("task", &[]).await;
    let path = harness.repo(&format!("/issues/{number}/assignees"));
    let issue = harness
        .expect(
            Method::POST,
            &path,
            json!({ "assignees": ["clambake"] }),
            201,
        )
        .await;
    assert_eq!(issue["assignee"]["login"], "clambake");
    let issue = harness
        .expect(
            Method::DELETE,
            &path,
            json!({ "assignees": ["clambake"] }),
            200,
        )
        .await;
    assert_eq!(issue["assignees"], json!([]));

    let body = json!({ "title": "renamed", "body": "text", "labels": ["a"], "assignees": ["x"] });
    let edited = harness
        .expect(
            Method::PATCH,
            &harness.repo(&format!("/issues/{number}")),
            body,
            200,
        )
        .await;
    assert_eq!(edited["title"], "renamed");
    assert_eq!(edited["labels"][0]["name"], "a");
    assert_eq!(edited["assignees"][0]["login"], "x");
    let missing = harness
        .expect(
            Method::POST,
            &harness.repo("/issues"),
            json!({ "body": "x" }),
            422,
        )
        .await;
    assert_eq!(missing["message"], "Validation Failed");
    let violations = harness.take_violations();
    assert!(
        violations[0].contains("missing required property `title`"),
        "{violations:?}"
    );
}

#[tokio::test]
async fn comments_carry_their_author_and_association() {
    let harness = Harness::start().await;
    let number = harness.create_issue("task", &[]).await;
    let path = harness.repo(&format!("/issues/{number}/comments"));
    harness
        .expect(Method::POST, &path, json!({ "body": "mine" }), 201)
        .await;
    harness
        .fake
        .comment_as(number, "stranger", "NONE", "theirs");
    let comments: Value = harness.get(&path).await.json().await.unwrap();
    let authors: Vec<_> = comments
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user"]["login"].clone(),
                c["author_association"].clone(),
                c["body"].clone(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            (json!("clambake"), json!("OWNER"), json!("mine")),
            (json!("stranger"), json!("NONE"), json!("theirs")),
        ]
    );
    let issue: Value = harness
        .get(&harness.repo(&format!("/issues/{number}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issue["comments"], 2);
    let later = format!("{path}?since=2999-01-01T00:00:00Z");
    assert_eq!(
        harness.get(&later).await.json::<Value>().await.unwrap(),
        json!([])
    );
    assert_eq!(
        harness
            .get(&harness.repo("/issues/99/comments"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_repository_tells_its_default_branch_and_permissions() {
    let harness = Harness::start().await;
    let repository: Value = harness.get(&harness.repo("")).await.json().await.unwrap();
    assert_eq!(repository["default_branch"], "main");
    assert_eq!(repository["full_name"], "clambake/demo");
    assert_eq!(repository["permissions"]["push"], true);
    assert_eq!(repository["owner"]["login"], "clambake");
    assert_eq!(harness.get("/repos/someone/else").await.status(), 404);
}

#[tokio::test]
async fn dependencies_are_added_by_id_listed_and_counted_open_or_not() {
    let harness = Harness::start().await;
    let first = harness.create_issue("first", &[]).await;
    let second = harness.create_issue("second", &[]).await;
    let blocked = harness.create_issue("blocked", &[]).await;
    let issue = |n: u64| harness.repo(&format!("/issues/{n}"));
    let blocked_by = harness.repo(&format!("/issues/{blocked}/dependencies/blocked_by"));
    for blocker in [first, second] {
        let id = harness
            .expect(Method::GET, &issue(blocker), Value::Null, 200)
            .await["id"]
            .clone();
        let added = harness
            .expect(Method::POST, &blocked_by, json!({ "issue_id": id }), 201)
            .await;
        assert_eq!(added["number"], blocker);
    }
    let close = json!({ "state": "closed" });
    harness
        .expect(Method::PATCH, &issue(first), close, 200)
        .await;

    let listing = harness
        .expect(Method::GET, &blocked_by, Value::Null, 200)
        .await;
    assert_eq!(numbers(&listing), [first, second], "closed ones too");
    let summary = harness
        .expect(Method::GET, &issue(blocked), Value::Null, 200)
        .await["issue_dependencies_summary"]
        .clone();
    assert_eq!(
        summary,
        json!({ "blocked_by": 1, "blocking": 0, "total_blocked_by": 2, "total_blocking": 0 })
    );
    let blocker_summary = harness
        .expect(Method::GET, &issue(second), Value::Null, 200)
        .await["issue_dependencies_summary"]
        .clone();
    assert_eq!(blocker_summary["blocking"], 1);

    let own_id = harness
        .expect(Method::GET, &issue(blocked), Value::Null, 200)
        .await["id"]
        .clone();
    let itself = json!({ "issue_id": own_id });
    harness.expect(Method::POST, &blocked_by, itself, 422).await;
    let unknown = json!({ "issue_id": 1 });
    harness
        .expect(Method::POST, &blocked_by, unknown, 422)
        .await;
    let missing = harness.repo("/issues/99/dependencies/blocked_by");
    harness
        .expect(Method::GET, &missing, Value::Null, 404)
        .await;
}
