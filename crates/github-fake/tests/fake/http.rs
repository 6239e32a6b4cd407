//! Authentication, ETags, rate limits, pagination and injected faults.

use clambake_github_fake::{Faults, SecondaryLimit};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Harness;

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_bad_credentials() {
    let harness = Harness::start().await;
    let response = harness
        .client
        .get(format!("{}{}", harness.fake.api_url(), harness.repo("")))
        .header("authorization", "token wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());
}

#[tokio::test]
async fn a_matching_etag_answers_304_without_charging() {
    let harness = Harness::start().await;
    harness.create_issue("one", &[]).await;
    let path = harness.repo("/issues");
    let first = harness.get(&path).await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag");
    assert!(
        etag.starts_with('"') && etag.len() == 66,
        "a strong ETag: {etag}"
    );
    let remaining: u64 = header(&first, "x-ratelimit-remaining").parse().unwrap();
    assert_eq!(header(&first, "x-ratelimit-limit"), "5000");
    assert_eq!(header(&first, "x-ratelimit-resource"), "core");

    let again = harness
        .request(Method::GET, &path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(
        header(&again, "x-ratelimit-remaining"),
        remaining.to_string()
    );
    assert_eq!(header(&again, "etag"), etag);

    harness.create_issue("two", &[]).await;
    let changed = harness
        .request(Method::GET, &path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "a change makes a new validator");
    assert_ne!(header(&changed, "etag"), etag);
    assert_eq!(
        header(&changed, "x-ratelimit-remaining"),
        (remaining - 2).to_string()
    );

    let requests = harness.fake.requests();
    let not_modified = requests.iter().find(|r| r.status == 304).unwrap();
    assert!(!not_modified.charged && !not_modified.mutation);
    assert_eq!(requests.iter().filter(|r| r.mutation).count(), 2);
}

#[tokio::test]
async fn link_headers_page_through_a_listing() {
    let harness = Harness::start().await;
    for n in 0..5 {
        harness.create_issue(&format!("issue {n}"), &[]).await;
    }
    let path = harness.repo("/issues?per_page=2&direction=asc");
    let mut next = Some(format!("{}{path}", harness.fake.api_url()));
    let mut titles = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        assert!(
            url.starts_with(&harness.fake.api_url()),
            "points back at the fake: {url}"
        );
        let response = harness
            .request(
                Method::GET,
                url.strip_prefix(&harness.fake.api_url()).unwrap(),
            )
            .send()
            .await
            .unwrap();
        let link = header(&response, "link");
        if pages == 1 {
            assert!(
                link.contains("rel=\"prev\"") && link.contains("rel=\"first\""),
                "{link}"
            );
            assert!(link.contains("page=3>; rel=\"last\""), "{link}");
        }
        next = link
            .split(", ")
            .find(|part| part.ends_with("rel=\"next\""))
            .map(|part| part[1..part.find('>').unwrap()].to_string());
        let page: Vec<Value> = response.json().await.unwrap();
        titles.extend(
            page.iter()
                .map(|issue| issue["title"].as_str().unwrap().to_string()),
        );
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(
        titles,
        ["issue 0", "issue 1", "issue 2", "issue 3", "issue 4"]
    );
}

#[tokio::test]
async fn a_link_origin_fault_points_every_page_elsewhere() {
    let harness = Harness::start().await;
    for n in 0..3 {
        harness.create_issue(&format!("issue {n}"), &[]).await;
    }
    harness.fake.set_faults(Faults {
        link_origin: Some("http://127.0.0.1:1".to_string()),
        ..Faults::default()
    });
    let response = harness.get(&harness.repo("/issues?per_page=1")).await;
    let link = header(&response, "link");
    assert!(
        link.starts_with("<http://127.0.0.1:1/repos/clambake/demo/issues?"),
        "{link}"
    );
    assert!(!link.contains(&harness.fake.api_url()), "{link}");
}

#[tokio::test]
async fn a_spent_rate_limit_refuses_with_403_until_reset() {
    let dir = tempfile::TempDir::new().unwrap();
    let options = clambake_github_fake::Options {
        rate_limit: 2,
        ..clambake_github_fake::Options::new(dir.path().join("origin.git"))
    };
    let fake = clambake_github_fake::FakeGithub::start(options)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", fake.api_url()))
            .bearer_auth(fake.token())
            .send()
    };
    for remaining in ["1", "0"] {
        let response = get("/repos/clambake/demo/labels").await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
    }
    let refused = get("/repos/clambake/demo/labels").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    let reset: u64 = header(&refused, "x-ratelimit-reset").parse().unwrap();
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );
    let limits: Value = get("/rate_limit").await.unwrap().json().await.unwrap();
    assert_eq!(limits["resources"]["core"]["remaining"], 0);
    assert_eq!(limits["rate"]["reset"], reset);
    fake.set_rate_limit(0, std::time::Duration::ZERO);
    let renewed = get("/repos/clambake/demo/labels").await.unwrap();
    assert_eq!(renewed.status(), 200, "a new window starts at the reset");
    assert_eq!(header(&renewed, "x-ratelimit-remaining"), "1");
}

#[tokio::test]
async fn a_lost_answer_still_applies_the_request() {
    let harness = Harness::start().await;
    let number = harness.create_issue("lost", &[]).await;
    harness.fake.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let path = harness.repo(&format!("/issues/{number}/comments"));
    let sent = harness
        .request(Method::POST, &path)
        .json(&json!({ "body": "hello" }))
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the connection closes without an answer: {sent:?}"
    );
    harness.fake.set_faults(Faults::default());
    let comments: Value = harness.get(&path).await.json().await.unwrap();
    assert_eq!(
        comments.as_array().unwrap().len(),
        1,
        "the comment was made"
    );
    let lost: Vec<_> = harness
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.lost)
        .collect();
    assert_eq!(lost.len(), 1);
    assert!(lost[0].mutation && lost[0].charged && lost[0].method == "POST");
}

#[tokio::test]
async fn server_errors_and_secondary_limits_refuse_without_acting() {
    let harness = Harness::start().await;
    harness.fake.set_faults(Faults {
        server_error_rate: 1.0,
        secondary_limits: vec![
            SecondaryLimit {
                after_requests: 0,
                status: 429,
                retry_after: Some(7),
            },
            SecondaryLimit {
                after_requests: 1,
                status: 403,
                retry_after: None,
            },
        ],
        ..Faults::default()
    });
    let body = json!({ "title": "never" });
    let limited = harness
        .send(Method::POST, &harness.repo("/issues"), body.clone())
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), "7");
    let limited = harness
        .send(Method::POST, &harness.repo("/issues"), body.clone())
        .await;
    assert_eq!(limited.status(), 403);
    assert_eq!(header(&limited, "retry-after"), "");
    assert_ne!(
        header(&limited, "x-ratelimit-remaining"),
        "0",
        "told apart from the primary limit"
    );
    let failed = harness
        .send(Method::POST, &harness.repo("/issues"), body.clone())
        .await;
    assert_eq!(failed.status(), 502);
    assert_eq!(header(&failed, "retry-after"), "");
    harness.fake.set_faults(Faults {
        server_error_rate: 1.0,
        server_error_retry_after: Some(5),
        ..Faults::default()
    });
    let failed = harness
        .send(Method::POST, &harness.repo("/issues"), body.clone())
        .await;
    assert_eq!(failed.status(), 502);
    assert_eq!(header(&failed, "retry-after"), "5");
    harness.fake.set_faults(Faults {
        validation_failure_rate: 1.0,
        ..Faults::default()
    });
    let refused = harness
        .send(Method::POST, &harness.repo("/issues"), body)
        .await;
    assert_eq!(refused.status(), 422);
    let listed = harness.get(&harness.repo("/issues")).await;
    assert_eq!(listed.status(), 200, "reads are not refused as invalid");
    assert!(harness.fake.issues().is_empty());
}

#[tokio::test]
async fn faults_are_reproducible_from_their_seed() {
    let statuses = |seed| async move {
        let harness = Harness::start().await;
        harness.fake.set_faults(Faults {
            seed,
            server_error_rate: 0.5,
            ..Faults::default()
        });
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(
                harness
                    .get(&harness.repo("/labels"))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    let first = statuses(3).await;
    assert!(first.contains(&200) && first.contains(&502), "{first:?}");
    assert_eq!(first, statuses(3).await);
}

#[tokio::test]
async fn a_slow_fault_delays_answers_past_a_client_timeout() {
    let harness = Harness::start().await;
    harness.fake.set_faults(Faults {
        slow: Some(std::time::Duration::from_secs(30)),
        ..Faults::default()
    });
    let sent = harness
        .request(Method::GET, &harness.repo(""))
        .timeout(std::time::Duration::from_millis(200))
        .send()
        .await;
    assert!(sent.is_err_and(|error| error.is_timeout()));
}

#[tokio::test]
async fn the_fake_answers_while_the_test_runtime_is_blocked() {
    use std::io::{Read, Write};

    let harness = Harness::start().await;
    let address = harness
        .fake
        .api_url()
        .trim_start_matches("http://")
        .to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let request = format!(
        "GET /rate_limit HTTP/1.1\r\nHost: {address}\r\nAuthorization: token {}\r\nConnection: close\r\n\r\n",
        harness.fake.token()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
