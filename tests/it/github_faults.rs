//! The GitHub forge against a misbehaving GitHub fake: a refused token, lost answers, server
//! errors, rate limits, and label edits that race a person or lose their answer. Each fault is put on the
//! request it is meant for by a seed whose fates are known (`faults_meeting`).

use clambake::ports::Forge;
use clambake::ports::forge::{
    ForgeError, IssueFilter, Label, LabelChange, NewPullRequest, PullRequestState,
};
use clambake_github_fake::{Faults, SecondaryLimit};
use jiff::{SignedDuration, Timestamp};

use crate::github_forge::{
    Fate, client, faults_meeting, github, github_with, new_issue, server_errors, strings,
};
use crate::github_support::visible;

#[tokio::test]
async fn a_comment_whose_answer_was_lost_is_found_not_posted_again() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge.create_issue(&new_issue("Lossy", &[])).await.unwrap();
    let lost = Faults {
        lost_answer_rate: 0.5,
        ..Faults::default()
    };
    let fates = [Fate::Lost, Fate::Answered];
    faults_meeting(&gh.fake, lost, &fates).await;
    let start = gh.fake.requests().len();
    let comment = forge
        .create_comment(issue.number, "Only once")
        .await
        .unwrap();
    gh.fake.set_faults(Faults::default());
    let sent = gh.requests_since(start);
    assert_eq!(sent.len(), 2, "the lost create, the look: {sent:?}");
    assert!(sent[0].method == "POST" && sent[0].lost);
    assert_eq!(sent[1].method, "GET");
    assert_eq!(
        comment.body, "Only once",
        "read back as written, without its key"
    );
    let made: Vec<_> = gh
        .fake
        .comments()
        .into_iter()
        .filter(|c| visible(&c.body) == "Only once")
        .collect();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].id, comment.id);
    gh.finish();
}

#[tokio::test]
async fn server_errors_are_retried_and_a_refused_create_is_sent_once_more() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge.create_issue(&new_issue("Flaky", &[])).await.unwrap();

    faults_meeting(
        &gh.fake,
        server_errors(),
        &[Fate::ServerError, Fate::Answered],
    )
    .await;
    assert_eq!(
        forge.issue(issue.number).await.unwrap().number,
        issue.number
    );

    let fates = [Fate::ServerError, Fate::Answered, Fate::Answered];
    faults_meeting(&gh.fake, server_errors(), &fates).await;
    let start = gh.fake.requests().len();
    forge
        .create_comment(issue.number, "After a 502")
        .await
        .unwrap();
    let sent: Vec<(String, u16)> = gh
        .requests_since(start)
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        sent,
        [
            ("POST".into(), 502),
            ("GET".into(), 200),
            ("POST".into(), 201)
        ]
    );
    assert_eq!(gh.fake.comments().len(), 1);

    let fates = [Fate::ServerError; 3];
    faults_meeting(&gh.fake, server_errors(), &fates).await;
    let failed = forge.issue(issue.number).await.unwrap_err();
    assert!(matches!(failed, ForgeError::Transient(_)), "{failed:?}");
    gh.fake.set_faults(Faults::default());
    gh.finish();
}

#[tokio::test]
async fn a_spent_rate_limit_is_reported_until_its_reset_without_sending_more() {
    let gh = github_with(|options| options.rate_limit = 2).await;
    let forge = &gh.forge;
    forge.default_branch().await.unwrap();
    forge.labels().await.unwrap();
    let spent = forge.usage().rate_limit.unwrap();
    assert_eq!(spent.remaining, 0);
    let start = gh.fake.requests().len();
    let refused = forge.issues(&IssueFilter::open()).await.unwrap_err();
    assert!(
        matches!(refused, ForgeError::RateLimited { until } if until == spent.reset),
        "{refused:?}"
    );
    assert_eq!(gh.requests_since(start), [], "a spent limit sends nothing");

    let fresh = client(&gh.fake, &gh.fake.token());
    let refused = fresh.issues(&IssueFilter::open()).await.unwrap_err();
    assert!(
        matches!(refused, ForgeError::RateLimited { until } if until == spent.reset),
        "GitHub's 403 for a spent limit: {refused:?}"
    );
    let start = gh.fake.requests().len();
    assert!(matches!(
        fresh.issue(1).await,
        Err(ForgeError::RateLimited { .. })
    ));
    assert_eq!(gh.requests_since(start), []);
    gh.finish();
}

#[tokio::test]
async fn a_secondary_limit_waits_a_minute_or_its_retry_after_and_sends_nothing_meanwhile() {
    let gh = github().await;
    let issue = gh
        .forge
        .create_issue(&new_issue("Limited", &[]))
        .await
        .unwrap();
    let limit = |status, retry_after| Faults {
        secondary_limits: vec![SecondaryLimit {
            after_requests: 0,
            status,
            retry_after,
        }],
        ..Faults::default()
    };

    gh.fake.set_faults(limit(403, None));
    let before = Timestamp::now();
    let refused = gh.forge.issue(issue.number).await.unwrap_err();
    let ForgeError::RateLimited { until } = refused else {
        panic!("a secondary limit: {refused:?}");
    };
    assert!(until >= before + SignedDuration::from_secs(60), "{until}");
    let start = gh.fake.requests().len();
    assert!(matches!(
        gh.forge.issue(issue.number).await,
        Err(ForgeError::RateLimited { until: again }) if again == until
    ));
    assert_eq!(gh.requests_since(start), []);

    let other = client(&gh.fake, &gh.fake.token());
    gh.fake.set_faults(limit(429, Some(2)));
    let before = Timestamp::now();
    let refused = other.issue(issue.number).await.unwrap_err();
    let after = Timestamp::now();
    let ForgeError::RateLimited { until } = refused else {
        panic!("a secondary limit: {refused:?}");
    };
    let wait = SignedDuration::from_secs(2);
    assert!(until >= before + wait && until <= after + wait, "{until}");
    gh.fake.set_faults(Faults::default());
    gh.finish();
}

#[tokio::test]
async fn a_label_someone_added_since_our_last_read_survives_an_edit() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge
        .create_issue(&new_issue("Raced", &["route:ready"]))
        .await
        .unwrap();
    forge
        .edit_labels(
            issue.number,
            &strings(&["agent001"]),
            &strings(&["route:ready"]),
        )
        .await
        .unwrap();
    // A person labels the issue after our edit's answer told us its labels.
    let person = client(&gh.fake, &gh.fake.token());
    person
        .edit_labels(issue.number, &strings(&["human-only"]), &[])
        .await
        .unwrap();
    let start = gh.fake.requests().len();
    let landed = forge
        .edit_labels(
            issue.number,
            &strings(&["route:review"]),
            &strings(&["agent001", "route:ready"]),
        )
        .await
        .unwrap();
    assert_eq!(landed.labels, ["human-only", "route:review"]);
    assert_eq!(gh.labels_on(issue.number), ["human-only", "route:review"]);
    let sent: Vec<(String, u16)> = gh
        .requests_since(start)
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        sent,
        [("GET".to_owned(), 200), ("PUT".to_owned(), 200)],
        "the read saw the change, so the PUT kept it"
    );
    gh.finish();
}

/// Faults that lose answers (the fake acts, then drops the connection), for `faults_meeting`.
fn lost_answers() -> Faults {
    Faults {
        lost_answer_rate: 0.5,
        ..Faults::default()
    }
}

#[tokio::test]
async fn creates_whose_answers_were_lost_are_found_not_made_twice() {
    let gh = github().await;
    let forge = &gh.forge;
    gh.push_branch("agent001/lost", "main", "lost.txt");
    // Each create: the mark, the create whose answer is lost, the look that finds it.
    let fates = [Fate::Answered, Fate::Lost, Fate::Answered];

    faults_meeting(&gh.fake, lost_answers(), &fates).await;
    let issue = forge
        .create_issue(&new_issue("Made once", &[]))
        .await
        .unwrap();
    gh.fake.set_faults(Faults::default());
    let titled: Vec<u64> = gh
        .fake
        .issues()
        .into_iter()
        .filter(|i| i.title == "Made once")
        .map(|i| i.number)
        .collect();
    assert_eq!(titled, [issue.number]);

    let new_pr = NewPullRequest {
        title: "Lost".to_owned(),
        body: String::new(),
        head: "agent001/lost".to_owned(),
        base: Some("main".to_owned()),
    };
    faults_meeting(&gh.fake, lost_answers(), &fates).await;
    let pr = forge.create_pull_request(&new_pr).await.unwrap();
    gh.fake.set_faults(Faults::default());
    let pulls: Vec<u64> = gh.fake.pulls().iter().map(|p| p.number).collect();
    assert_eq!(pulls, [pr.number]);

    let label = Label {
        name: "route:lost".to_owned(),
        color: "123456".to_owned(),
        description: String::new(),
    };
    let fates = [Fate::Answered, Fate::Lost, Fate::Answered];
    faults_meeting(&gh.fake, lost_answers(), &fates).await;
    assert_eq!(
        forge.ensure_label(&label).await.unwrap(),
        LabelChange::Created
    );
    gh.fake.set_faults(Faults::default());
    let named = gh
        .fake
        .labels()
        .into_iter()
        .filter(|l| l.name == "route:lost")
        .count();
    assert_eq!(named, 1);
    gh.finish();
}

#[tokio::test]
async fn a_label_edit_whose_answer_was_lost_is_sent_once_more_and_ends_right() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge
        .create_issue(&new_issue("Relabel", &["route:ready", "bug"]))
        .await
        .unwrap();
    // The read of the labels is answered, the PUT's answer is lost, the resent PUT answered.
    let fates = [Fate::Answered, Fate::Lost, Fate::Answered];
    faults_meeting(&gh.fake, lost_answers(), &fates).await;
    let start = gh.fake.requests().len();
    let edited = forge
        .edit_labels(
            issue.number,
            &strings(&["agent001"]),
            &strings(&["route:ready"]),
        )
        .await
        .unwrap();
    gh.fake.set_faults(Faults::default());
    assert_eq!(edited.labels, ["bug", "agent001"]);
    assert_eq!(gh.labels_on(issue.number), ["agent001", "bug"]);
    let puts: Vec<(u16, bool)> = gh
        .requests_since(start)
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| (r.status, r.lost))
        .collect();
    assert_eq!(puts, [(200, true), (200, false)]);
    gh.finish();
}

#[tokio::test]
async fn a_merge_whose_answer_was_lost_is_found_merged() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge
        .create_issue(&new_issue("Merged once", &[]))
        .await
        .unwrap();
    gh.push_branch("agent001/merge", "main", "merge.txt");
    let pr = forge
        .create_pull_request(&NewPullRequest {
            title: "Merge".to_owned(),
            body: format!("Fixes #{}", issue.number),
            head: "agent001/merge".to_owned(),
            base: None,
        })
        .await
        .unwrap();
    // Read the pull request, merge (lost), read it: merged, read it again for the outcome,
    // list what the merge closed.
    let mut fates = vec![Fate::Answered, Fate::Lost];
    fates.extend([Fate::Answered; 3]);
    faults_meeting(&gh.fake, lost_answers(), &fates).await;
    let start = gh.fake.requests().len();
    let merged = forge.merge_pull_request(pr.number, None).await.unwrap();
    gh.fake.set_faults(Faults::default());
    assert_eq!(merged.pull_request.state, PullRequestState::Merged);
    assert_eq!(merged.closed_issues, [issue.number]);
    let puts = gh
        .requests_since(start)
        .into_iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 1, "a merge found merged is not sent again");
    gh.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_retried_after_someone_merged_a_newer_head_reports_the_head_moved() {
    let gh = github().await;
    let old = gh.push_branch("agent001/moved", "main", "moved.txt");
    let new_pr = NewPullRequest {
        title: "Moved".to_owned(),
        body: String::new(),
        head: "agent001/moved".to_owned(),
        base: None,
    };
    let pr = gh.forge.create_pull_request(&new_pr).await.unwrap();
    // Our merge of `old`: the pull request is read (its base names the default branch), then
    // the merge meets a 502 that asks for five seconds.
    let failing = Faults {
        server_error_retry_after: Some(5),
        ..server_errors()
    };
    let fates = [Fate::Answered, Fate::ServerError];
    faults_meeting(&gh.fake, failing, &fates).await;
    let start = gh.fake.requests().len();
    let ours = {
        let forge = client(&gh.fake, &gh.fake.token());
        let old = old.clone();
        tokio::spawn(async move { forge.merge_pull_request(pr.number, Some(&old)).await })
    };
    crate::support::wait_for("our merge's 502", || {
        gh.requests_since(start)
            .iter()
            .any(|r| r.method == "PUT" && r.status == 502)
    });
    gh.fake.set_faults(Faults::default());
    // Meanwhile someone pushes a newer head and merges it.
    let newer = gh.push_branch("agent001/moved", "agent001/moved", "newer.txt");
    let theirs = gh
        .forge
        .merge_pull_request(pr.number, Some(&newer))
        .await
        .unwrap();
    assert_eq!(theirs.pull_request.state, PullRequestState::Merged);

    let ours = ours.await.unwrap().unwrap_err();
    assert!(
        matches!(ours, ForgeError::HeadMoved { number, .. } if number == pr.number),
        "someone else's merge of another head is not ours: {ours:?}"
    );
    gh.finish();
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_never_shown() {
    let gh = github().await;
    let stranger = client(&gh.fake, "not-the-token-s3cr3t");
    let refused = stranger.access().await.unwrap_err();
    assert!(
        matches!(refused, ForgeError::Unauthorized(_)),
        "{refused:?}"
    );
    assert!(!format!("{refused} {refused:?}").contains("s3cr3t"));
    gh.finish();
}
