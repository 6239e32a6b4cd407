//! What the GitHub backend asks of the GitHub fake, counted: no request whose answer is already
//! known. A label edit is one PUT after a read of the labels that is free while nobody changed
//! them, a pass lists the open issues once, setting up the label set lists the labels once,
//! and a lifecycle through the real binary reads no issue by number and lists no comments it
//! does not need. `benches/github_requests.rs` has the figures.

use clambake::core::queue::labels::label_set;
use clambake::ports::Forge;
use clambake::ports::forge::Label;
use clambake_github_fake::RecordedRequest;

use crate::github_forge::{Github, github, new_issue, strings};
use crate::github_support::init_command;
use crate::support::{CliOutput, clambake_in_env};

/// Runs `clambake` in `gh`'s clone with the fake's token; panics unless it succeeds.
fn clambake_ok(gh: &Github, args: &[&str]) -> CliOutput {
    let token = gh.fake.token();
    clambake_in_env(gh.work.path(), args, &[("GH_TOKEN", token.as_str())]).success()
}

/// `METHOD path -> status` of each request, the path without its query.
fn lines(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or_default();
            format!("{} {path} -> {}", r.method, r.status)
        })
        .collect()
}

#[tokio::test]
async fn a_label_edit_is_one_put_after_a_read_that_is_free_once_the_labels_are_known() {
    let gh = github().await;
    let issue = gh
        .forge
        .create_issue(&new_issue("Claim me", &["route:ready"]))
        .await
        .unwrap();
    let n = issue.number;
    let labels = format!("/repos/clambake/demo/issues/{n}/labels");
    let start = gh.fake.requests().len();
    let claimed = gh
        .forge
        .edit_labels(n, &strings(&["agent001"]), &strings(&["route:ready"]))
        .await
        .unwrap();
    assert_eq!(claimed.labels, ["agent001"]);
    assert_eq!(claimed.title, "Claim me");
    assert_eq!(
        lines(&gh.requests_since(start)),
        [
            format!("GET {labels} -> 200"),
            format!("PUT {labels} -> 200")
        ],
    );
    let start = gh.fake.requests().len();
    let landed = gh
        .forge
        .edit_labels(n, &strings(&["route:review"]), &strings(&["agent001"]))
        .await
        .unwrap();
    assert_eq!(landed.labels, ["route:review"]);
    assert_eq!(
        lines(&gh.requests_since(start)),
        [
            format!("GET {labels} -> 304"),
            format!("PUT {labels} -> 200")
        ],
        "the last edit's answer tagged the labels: nobody changed them, and the read is free"
    );
    let start = gh.fake.requests().len();
    let unchanged = gh
        .forge
        .edit_labels(n, &strings(&["route:review"]), &[])
        .await
        .unwrap();
    assert_eq!(unchanged.labels, ["route:review"]);
    assert_eq!(
        lines(&gh.requests_since(start)),
        [format!("GET {labels} -> 304")],
        "an edit that changes nothing sends nothing"
    );
    gh.finish();
}

#[tokio::test]
async fn an_edit_of_an_issue_never_seen_reads_it_once() {
    let gh = github().await;
    let issue = gh
        .forge
        .create_issue(&new_issue("Seen elsewhere", &["route:ready"]))
        .await
        .unwrap();
    let other = crate::github_forge::client(&gh.fake, &gh.fake.token());
    let start = gh.fake.requests().len();
    let claimed = other
        .edit_labels(issue.number, &strings(&["agent001"]), &[])
        .await
        .unwrap();
    assert_eq!(claimed.labels, ["route:ready", "agent001"]);
    assert_eq!(claimed.title, "Seen elsewhere");
    let n = issue.number;
    assert_eq!(
        lines(&gh.requests_since(start)),
        [
            format!("GET /repos/clambake/demo/issues/{n} -> 200"),
            format!("PUT /repos/clambake/demo/issues/{n}/labels -> 200"),
        ]
    );
    gh.finish();
}

#[tokio::test]
async fn setting_up_the_label_set_lists_the_labels_once() {
    let gh = github().await;
    let set: Vec<Label> = label_set(2)
        .into_iter()
        .map(|spec| Label {
            name: spec.name,
            color: spec.color.to_owned(),
            description: spec.description,
        })
        .collect();
    gh.forge.ensure_label(&set[0]).await.unwrap();
    let start = gh.fake.requests().len();
    for label in &set {
        gh.forge.ensure_label(label).await.unwrap();
    }
    let requests = lines(&gh.requests_since(start));
    assert_eq!(
        requests.len(),
        set.len() - 1,
        "one create per label but the first, already made: {requests:#?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r == "POST /repos/clambake/demo/labels -> 201"),
        "{requests:#?}"
    );
    gh.finish();
}

/// Two ready issues through `init`, `run --until-idle` (simulated agent, one bundle) and `pr
/// merge` with the real binary.
#[tokio::test(flavor = "multi_thread")]
async fn a_lifecycle_reads_no_issue_by_number_and_lists_no_comments_where_there_are_none() {
    let gh = github().await;
    let run = |args: &[&str]| clambake_ok(&gh, args);
    let init = init_command(&gh.fake, 2);
    run(&init.iter().map(String::as_str).collect::<Vec<_>>());
    let init = lines(&gh.fake.requests());
    assert_eq!(
        init.iter()
            .filter(|r| r.starts_with("GET /repos/clambake/demo/labels"))
            .collect::<Vec<_>>(),
        ["GET /repos/clambake/demo/labels -> 200"],
        "init lists the labels once"
    );
    for (key, value) in [
        ("agents.runtime", "simulated"),
        ("agents.real_processes", "false"),
        ("agents.retry_backoff_seconds", "0"),
        ("bundling.trigger", "manual"),
    ] {
        run(&["config", "set", key, value]);
    }
    for title in ["One", "Two"] {
        run(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:ready",
        ]);
    }
    let start = gh.fake.requests().len();
    run(&["run", "--until-idle"]);
    let pulls = gh.fake.pulls();
    assert_eq!(pulls.len(), 1, "one bundle");
    let merging = gh.fake.requests().len();
    run(&["pr", "merge", &pulls[0].number.to_string()]);
    let merge = lines(&gh.requests_since(merging));
    assert!(
        !merge.contains(&"GET /repos/clambake/demo -> 200".to_owned()),
        "the pull request's base named the default branch: {merge:#?}"
    );
    let lifecycle = lines(&gh.requests_since(start));
    let by_number = regex::Regex::new(r"^GET /repos/clambake/demo/issues/\d+ ").unwrap();
    assert_eq!(
        lifecycle
            .iter()
            .filter(|r| by_number.is_match(r))
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "every issue read by number was already known"
    );
    // A comment made reads nothing first: its key finds it again if its answer is lost.
    let comment_reads = lifecycle
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/comments"))
        .count();
    assert_eq!(
        comment_reads, 0,
        "no create reads first, and no prompt lists the comments of an issue that has none: \
         {lifecycle:#?}"
    );
    let labels_read = |status: &str| {
        lifecycle
            .iter()
            .filter(|r| r.starts_with("GET ") && r.ends_with(&format!("/labels -> {status}")))
            .count()
    };
    assert_eq!(
        (labels_read("200"), labels_read("304")),
        (2, 4),
        "each issue's labels are read in full once, by its claim; landing and boarding read \
         them free: {lifecycle:#?}"
    );
    assert!(!lifecycle.iter().any(|r| r.starts_with("DELETE ")));
    // GitHub shows the bundle on each member (its body's `Closes #N`): no comment repeats it.
    let comments: Vec<(u64, String)> = gh
        .fake
        .comments()
        .into_iter()
        .map(|c| {
            (
                c.issue,
                c.body.lines().next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        comments.len(),
        2,
        "one landing comment an issue: {comments:#?}"
    );
    assert!(
        comments
            .iter()
            .all(|(_, first)| !first.starts_with("Bundled into")),
        "{comments:#?}"
    );
    assert!(
        gh.fake
            .issues()
            .iter()
            .all(|i| i.state == clambake_github_fake::IssueState::Closed),
        "the merge closed both issues and the bundle"
    );
    gh.finish();
}

/// `run --until-idle` over 150 open issues, none ready: start-up lists the open issues in full
/// (two pages, charged: a new process holds no validator); the first pass's drift check finds
/// nothing to repair in one listing, and the pass lists them once for resuming claims, routing
/// and the idle check together (two free 304s each).
#[tokio::test(flavor = "multi_thread")]
async fn a_pass_lists_the_open_issues_once() {
    let gh = github().await;
    let run = |args: &[&str]| clambake_ok(&gh, args);
    let init = init_command(&gh.fake, 1);
    run(&init.iter().map(String::as_str).collect::<Vec<_>>());
    for (key, value) in [
        ("agents.runtime", "simulated"),
        ("agents.real_processes", "false"),
    ] {
        run(&["config", "set", key, value]);
    }
    gh.fake.seed_issues(150, &[]);
    let start = gh.fake.requests().len();
    run(&["run", "--until-idle", "--no-view"]);
    let open_listing: Vec<String> = gh
        .requests_since(start)
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.starts_with("/repos/clambake/demo/issues?")
                && r.path.contains("state=open")
                && !r.path.contains("labels=")
        })
        .map(|r| format!("{} -> {}", r.path, r.status))
        .collect();
    let statuses: Vec<&str> = open_listing
        .iter()
        .map(|r| r.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["200", "200", "304", "304", "304", "304"],
        "{open_listing:#?}"
    );
    gh.finish();
}
