use serde_json::{Value, json};

use super::*;

fn spec() -> &'static Spec {
    Spec::github()
}

fn request(
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
) -> Result<Operation, Vec<String>> {
    spec().check_request(method, path, query, body.as_ref())
}

fn operation(method: &str, path: &str) -> Operation {
    request(method, path, None, None)
        .unwrap_or_else(|violations| panic!("{method} {path}: {violations:#?}"))
}

fn user(login: &str) -> Value {
    let base = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false,
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "gravatar_id": "",
        "url": base, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{base}/followers"), "following_url": format!("{base}/following{{/other_user}}"),
        "gists_url": format!("{base}/gists{{/gist_id}}"), "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/subscriptions"), "organizations_url": format!("{base}/orgs"),
        "repos_url": format!("{base}/repos"), "events_url": format!("{base}/events{{/privacy}}"),
        "received_events_url": format!("{base}/received_events"),
    })
}

fn label(name: &str) -> Value {
    json!({
        "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "name": name, "color": "f29513",
        "url": format!("https://api.github.com/repos/o/r/labels/{name}"), "description": null, "default": false,
    })
}

fn issue(number: u64) -> Value {
    let url = format!("https://api.github.com/repos/o/r/issues/{number}");
    json!({
        "id": 1000 + number, "node_id": "MDU6SXNzdWUx", "number": number, "title": "Found a bug",
        "state": "open", "state_reason": null, "locked": false, "body": "It breaks.",
        "user": user("octocat"), "labels": [label("bug"), "plain-name"], "assignee": null,
        "assignees": [user("hubot")], "milestone": null, "comments": 0, "closed_at": null,
        "created_at": "2011-04-22T13:33:48Z", "updated_at": "2011-04-22T13:33:48Z",
        "author_association": "OWNER", "active_lock_reason": null,
        "url": url, "repository_url": "https://api.github.com/repos/o/r",
        "labels_url": format!("{url}/labels{{/name}}"), "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"), "html_url": format!("https://github.com/o/r/issues/{number}"),
    })
}

fn git_ref(name: &str) -> Value {
    json!({
        "ref": name, "node_id": "MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlQQ==",
        "url": format!("https://api.github.com/repos/o/r/git/{name}"),
        "object": {
            "type": "commit", "sha": "aa218f56b14c9653891f9e74264a383fa43fefbd",
            "url": "https://api.github.com/repos/o/r/git/commits/aa218f56b14c9653891f9e74264a383fa43fefbd",
        },
    })
}

fn assert_one(violations: &[String], expected: &str) {
    assert!(
        violations.iter().any(|v| v == expected),
        "expected {expected:?} among {violations:#?}"
    );
}

#[test]
fn openapi_valid_requests_pass_and_name_their_operation() {
    let created = request(
        "POST",
        "/repos/o/r/issues",
        None,
        Some(json!({"title": "t", "body": "b", "labels": ["bug"], "assignees": ["octocat"]})),
    );
    assert_eq!(created.map(|op| op.id), Ok("issues/create".to_string()));
    assert_eq!(
        operation("GET", "/repos/o/r/issues/7").path_params["issue_number"],
        "7"
    );
    let listed = request(
        "GET",
        "/repos/o/r/issues",
        Some("state=all&labels=a,b&sort=updated&per_page=100&page=2&since=2024-01-01T00:00:00Z"),
        None,
    );
    assert_eq!(
        listed.map(|op| op.id),
        Ok("issues/list-for-repo".to_string())
    );
    let update = json!({"state": "closed", "state_reason": "completed", "milestone": null, "labels": [{"name": "bug"}]});
    assert!(request("PATCH", "/repos/o/r/issues/7", None, Some(update)).is_ok());
    let merge = json!({"sha": "aa218f56b14c9653891f9e74264a383fa43fefbd", "merge_method": "squash", "commit_title": "t"});
    assert!(request("PUT", "/repos/o/r/pulls/3/merge", None, Some(merge)).is_ok());
    let pull =
        json!({"title": "t", "head": "feature", "base": "main", "body": "b", "draft": false});
    assert!(request("POST", "/repos/o/r/pulls", None, Some(pull)).is_ok());
    assert!(
        request(
            "POST",
            "/repos/o/r/git/refs",
            None,
            Some(json!({"ref": "refs/heads/x", "sha": "aa218f56"}))
        )
        .is_ok()
    );
    assert!(
        request(
            "PATCH",
            "/repos/o/r/git/refs/heads/x",
            None,
            Some(json!({"sha": "aa218f56", "force": true}))
        )
        .is_ok()
    );
    assert!(
        request(
            "DELETE",
            "/repos/o/r/issues/7/assignees",
            None,
            Some(json!({"assignees": ["hubot"]}))
        )
        .is_ok()
    );
    assert_eq!(operation("GET", "/rate_limit").id, "rate-limit/get");
    assert_eq!(operation("GET", "/user").id, "users/get-authenticated");
}

#[test]
fn openapi_path_parameters_are_percent_decoded_and_refs_take_slashes() {
    let label = operation("DELETE", "/repos/o/r/issues/7/labels/good%20first%20issue");
    assert_eq!(
        (label.id.as_str(), label.path_params["name"].as_str()),
        ("issues/remove-label", "good first issue")
    );
    let git_ref = operation("GET", "/repos/o/r/git/ref/heads/clambake/issue-11");
    assert_eq!(
        (git_ref.id.as_str(), git_ref.path_params["ref"].as_str()),
        ("git/get-ref", "heads/clambake/issue-11")
    );
    assert_eq!(
        operation("GET", "/repos/o/r/git/matching-refs/heads/clambake/").path_params["ref"],
        "heads/clambake/"
    );
    let compare = operation("GET", "/repos/o/r/compare/main...clambake%2Fissue-11");
    assert_eq!(
        (
            compare.path_params["base"].as_str(),
            compare.path_params["head"].as_str()
        ),
        ("main", "clambake/issue-11")
    );
}

#[test]
fn openapi_valid_responses_pass() {
    let get = operation("GET", "/repos/o/r/issues/7");
    assert_eq!(
        spec().check_response(&get, 200, Some(&issue(7))),
        Vec::<String>::new()
    );
    assert_eq!(spec().check_response(&get, 304, None), Vec::<String>::new());
    let not_found = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"});
    assert_eq!(
        spec().check_response(&get, 404, Some(&not_found)),
        Vec::<String>::new()
    );
    let list = operation("GET", "/repos/o/r/issues");
    assert_eq!(
        spec().check_response(&list, 200, Some(&json!([issue(1), issue(2)]))),
        Vec::<String>::new()
    );
    let labels = operation("GET", "/repos/o/r/labels");
    assert_eq!(
        spec().check_response(&labels, 200, Some(&json!([label("bug")]))),
        Vec::<String>::new()
    );
    let git = operation("GET", "/repos/o/r/git/ref/heads/x");
    assert_eq!(
        spec().check_response(&git, 200, Some(&git_ref("refs/heads/x"))),
        Vec::<String>::new()
    );
    let delete = operation("DELETE", "/repos/o/r/git/refs/heads/x");
    assert_eq!(
        spec().check_response(&delete, 204, None),
        Vec::<String>::new()
    );
    let comment = json!({
        "id": 1, "node_id": "MDEyOklzc3VlQ29tbWVudDE=", "body": "hi", "user": user("octocat"),
        "url": "https://api.github.com/repos/o/r/issues/comments/1", "html_url": "https://github.com/o/r/issues/7#issuecomment-1",
        "issue_url": "https://api.github.com/repos/o/r/issues/7", "author_association": "CONTRIBUTOR",
        "created_at": "2011-04-14T16:00:49Z", "updated_at": "2011-04-14T16:00:49.5+02:00",
    });
    let comments = operation("GET", "/repos/o/r/issues/7/comments");
    assert_eq!(
        spec().check_response(&comments, 200, Some(&json!([comment]))),
        Vec::<String>::new()
    );
    let invalid = json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}]});
    let create = request(
        "POST",
        "/repos/o/r/issues",
        None,
        Some(json!({"title": "t"})),
    )
    .expect("valid");
    assert_eq!(
        spec().check_response(&create, 422, Some(&invalid)),
        Vec::<String>::new()
    );
}

#[test]
fn openapi_statuses_github_documents_for_every_operation_pass() {
    let list = operation("GET", "/repos/o/r/issues");
    assert_eq!(
        spec().check_response(&list, 304, None),
        Vec::<String>::new()
    );
    let limited = json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"});
    let assign = request(
        "POST",
        "/repos/o/r/issues/7/assignees",
        None,
        Some(json!({"assignees": ["hubot"]})),
    )
    .expect("valid");
    assert_eq!(
        spec().check_response(&assign, 429, Some(&limited)),
        Vec::<String>::new()
    );
    assert_eq!(
        spec().check_response(&assign, 403, Some(&limited)),
        Vec::<String>::new()
    );
    assert_eq!(
        spec().check_response(&assign, 502, None),
        Vec::<String>::new()
    );
    let update = request(
        "PATCH",
        "/repos/o/r/labels/bug",
        None,
        Some(json!({"color": "ffffff"})),
    )
    .expect("valid");
    assert_eq!(
        spec().check_response(&update, 404, Some(&json!({"message": "Not Found"}))),
        Vec::<String>::new()
    );
    assert_one(
        &spec().check_response(&update, 404, Some(&json!({"message": 404}))),
        "issues/update-label response 404: /message: expected string, got number",
    );
    assert_one(
        &spec().check_response(&update, 304, None),
        "issues/update-label response 304: status not documented (documented: 200)",
    );
    assert_one(
        &spec().check_response(&list, 304, Some(&json!([]))),
        "issues/list-for-repo response 304: documents no body, but one was sent",
    );
}

/// `oneOf` passes when several alternatives match: GitHub's overlap (here two objects
/// whose only property is optional), which a strict reading would reject.
#[test]
fn openapi_overlapping_one_of_alternatives_pass() {
    assert!(request("PUT", "/repos/o/r/issues/7/labels", None, Some(json!({}))).is_ok());
    assert!(
        request(
            "PUT",
            "/repos/o/r/issues/7/labels",
            None,
            Some(json!({"labels": ["bug"]}))
        )
        .is_ok()
    );
    assert!(
        request(
            "PUT",
            "/repos/o/r/issues/7/labels",
            None,
            Some(json!({"labels": [{"name": "bug"}]}))
        )
        .is_ok()
    );
    assert!(
        request(
            "PUT",
            "/repos/o/r/issues/7/labels",
            None,
            Some(json!({"labels": [7]}))
        )
        .is_err()
    );
}

#[test]
fn openapi_request_body_violations_name_the_operation_and_pointer() {
    let wrong_type = request(
        "POST",
        "/repos/o/r/pulls",
        None,
        Some(json!({"head": 1, "base": "main", "title": "t"})),
    );
    assert_one(
        &wrong_type.unwrap_err(),
        "pulls/create request body: /head: expected string, got number",
    );
    let missing = request(
        "POST",
        "/repos/o/r/pulls",
        None,
        Some(json!({"base": "main", "title": "t"})),
    );
    assert_one(
        &missing.unwrap_err(),
        "pulls/create request body: /: missing required property `head`",
    );
    let bad_enum = request(
        "PATCH",
        "/repos/o/r/issues/7",
        None,
        Some(json!({"state": "bogus"})),
    );
    assert_one(
        &bad_enum.unwrap_err(),
        r#"issues/update request body: /state: "bogus" is not one of ["open", "closed"]"#,
    );
    let merge_method = request(
        "PUT",
        "/repos/o/r/pulls/3/merge",
        None,
        Some(json!({"merge_method": "octopus"})),
    );
    assert!(
        merge_method.unwrap_err()[0]
            .starts_with("pulls/merge request body: /merge_method: \"octopus\" is not one of")
    );
    let nested = request(
        "POST",
        "/repos/o/r/issues",
        None,
        Some(json!({"title": "t", "labels": [true]})),
    );
    let nested = nested.unwrap_err();
    assert!(
        nested[0]
            .starts_with("issues/create request body: /labels/0: matches no oneOf alternative"),
        "{nested:?}"
    );
    let misnamed = request(
        "POST",
        "/repos/o/r/issues",
        None,
        Some(json!({"title": "t", "labels": [{"name": 1}]})),
    );
    assert_one(
        &misnamed.unwrap_err(),
        "issues/create request body: /labels/0: matches no oneOf alternative; the closest fails with: /labels/0/name: expected string, got number",
    );
    let absent = request("POST", "/repos/o/r/issues", None, None);
    assert_one(
        &absent.unwrap_err(),
        "issues/create request body: required, but none was sent",
    );
    let unexpected = request("GET", "/repos/o/r/issues/7", None, Some(json!({})));
    assert_one(
        &unexpected.unwrap_err(),
        "issues/get request body: the operation takes none, but one was sent",
    );
    let field = json!({"title": "t", "issue_field_values": [{"field_id": 1, "value": "x", "colour": "red"}]});
    let unknown = request("POST", "/repos/o/r/issues", None, Some(field));
    assert_one(
        &unknown.unwrap_err(),
        "issues/create request body: /issue_field_values/0: unknown property `colour`",
    );
}

#[test]
fn openapi_query_violations_are_caught() {
    let unknown = request(
        "GET",
        "/repos/o/r/issues",
        Some("state=open&colour=red"),
        None,
    );
    assert_one(
        &unknown.unwrap_err(),
        "issues/list-for-repo query parameter `colour`: unknown parameter",
    );
    let too_many = request("GET", "/repos/o/r/pulls", Some("per_page=101"), None);
    assert_one(
        &too_many.unwrap_err(),
        "pulls/list query parameter `per_page`: 101 is above the maximum 100 its description states",
    );
    let bogus = request("GET", "/repos/o/r/issues", Some("state=bogus"), None);
    assert_one(
        &bogus.unwrap_err(),
        r#"issues/list-for-repo query parameter `state`: "bogus" is not one of ["open", "closed", "all"]"#,
    );
    let not_a_number = request("GET", "/repos/o/r/labels", Some("page=two"), None);
    assert_one(
        &not_a_number.unwrap_err(),
        "issues/list-labels-for-repo query parameter `page`: expected integer, got string",
    );
    let repeated = request("GET", "/repos/o/r/labels", Some("page=1&page=2"), None);
    assert_one(
        &repeated.unwrap_err(),
        "issues/list-labels-for-repo query parameter `page`: given 2 times, but takes one value",
    );
    let since = request(
        "GET",
        "/repos/o/r/issues/7/comments",
        Some("since=yesterday"),
        None,
    );
    assert_one(
        &since.unwrap_err(),
        r#"issues/list-comments query parameter `since`: "yesterday" is not in the declared format"#,
    );
}

#[test]
fn openapi_path_violations_are_caught() {
    assert_one(
        &request("GET", "/repos/o/r/issue/1", None, None).unwrap_err(),
        "GET /repos/o/r/issue/1: no operation in the description has this path",
    );
    assert_one(
        &request("DELETE", "/repos/o/r/issues/1", None, None).unwrap_err(),
        "DELETE /repos/o/r/issues/1: /repos/{owner}/{repo}/issues/{issue_number} documents only GET, PATCH",
    );
    assert_one(
        &request("GET", "/repos/o/r/issues/abc", None, None).unwrap_err(),
        "issues/get path parameter `issue_number`: expected integer, got string",
    );
    assert!(request("GET", "/repos/o/r/git/ref/", None, None).is_err());
}

#[test]
fn openapi_response_violations_are_caught() {
    let get = operation("GET", "/repos/o/r/issues/7");
    assert_one(
        &spec().check_response(&get, 418, None),
        "issues/get response 418: status not documented (documented: 200, 301, 304, 404, 410)",
    );
    let mut untitled = issue(7);
    untitled.as_object_mut().expect("object").remove("title");
    assert_one(
        &spec().check_response(&get, 200, Some(&untitled)),
        "issues/get response 200: /: missing required property `title`",
    );
    let mut anonymous = issue(7);
    anonymous["user"]
        .as_object_mut()
        .expect("object")
        .remove("login");
    assert_one(
        &spec().check_response(&get, 200, Some(&anonymous)),
        "issues/get response 200: /user: missing required property `login`",
    );
    let mut misnumbered = issue(7);
    misnumbered["number"] = json!("7");
    assert_one(
        &spec().check_response(&get, 200, Some(&misnumbered)),
        "issues/get response 200: /number: expected integer, got string",
    );
    let mut unnullable = issue(7);
    unnullable["labels"][0]["name"] = Value::Null;
    assert!(
        spec().check_response(&get, 200, Some(&unnullable))[0]
            .starts_with("issues/get response 200: /labels/0: matches no oneOf")
    );
    let mut badly_dated = issue(7);
    badly_dated["created_at"] = json!("April 22nd");
    assert_one(
        &spec().check_response(&get, 200, Some(&badly_dated)),
        r#"issues/get response 200: /created_at: "April 22nd" is not in the declared format"#,
    );
    assert_one(
        &spec().check_response(&get, 200, None),
        "issues/get response 200: documents a JSON body, but none was sent",
    );
    let delete = operation("DELETE", "/repos/o/r/git/refs/heads/x");
    assert_one(
        &spec().check_response(&delete, 204, Some(&json!({}))),
        "git/delete-ref response 204: documents no body, but one was sent",
    );
    let labels = operation("GET", "/repos/o/r/labels");
    assert_one(
        &spec().check_response(&labels, 200, Some(&label("bug"))),
        "issues/list-labels-for-repo response 200: /: expected array, got object",
    );
}
