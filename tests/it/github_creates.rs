//! Creates on GitHub are made once though answers are lost and looks fail: what a lost create
//! made is only ever an item carrying the key it sent (never the same comment, issue or pull
//! request that was there before), and a create whose look failed too looks again before its
//! next attempt sends.

use clambake::ports::Forge;
use clambake::ports::forge::{ForgeError, NewPullRequest};
use clambake_github_fake::Faults;

use crate::github_forge::{Fate, faults_meeting, github, new_issue, server_errors};
use crate::github_support::visible;

/// Faults that lose answers or fail with a 502, for `faults_meeting`.
fn lost_or_failed() -> Faults {
    Faults {
        lost_answer_rate: 0.5,
        server_error_rate: 0.5,
        ..Faults::default()
    }
}

#[tokio::test]
async fn a_lost_create_whose_look_fails_is_looked_for_before_the_next_attempt_sends() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge.create_issue(&new_issue("Lookup", &[])).await.unwrap();
    // The create (made, its answer lost), then the look: three 502s in a row.
    let mut fates = vec![Fate::Lost];
    fates.extend([Fate::ServerError; 3]);
    faults_meeting(&gh.fake, lost_or_failed(), &fates).await;
    let failed = forge
        .create_comment(issue.number, "Exactly once")
        .await
        .unwrap_err();
    assert!(
        matches!(&failed, ForgeError::Transient(m) if m.contains("unknown")),
        "{failed:?}"
    );
    gh.fake.set_faults(Faults::default());

    let start = gh.fake.requests().len();
    let comment = forge
        .create_comment(issue.number, "Exactly once")
        .await
        .unwrap();
    let sent: Vec<String> = gh
        .requests_since(start)
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(
        sent,
        ["GET"],
        "the next attempt looks, finds, sends nothing"
    );
    let made: Vec<u64> = gh
        .fake
        .comments()
        .into_iter()
        .filter(|c| visible(&c.body) == "Exactly once")
        .map(|c| c.id)
        .collect();
    assert_eq!(made, [comment.id]);
    gh.finish();
}

/// The fates under which a create is first refused with a 502 (it made nothing), then sent
/// again and made: the create meets a 502, the look finds nothing carrying its key, the second
/// send is answered. A client that looked for the same text would find what was there before.
fn refused_then_made() -> [Fate; 3] {
    [Fate::ServerError, Fate::Answered, Fate::Answered]
}

#[tokio::test]
async fn a_comment_like_one_there_before_is_not_taken_for_what_a_failed_create_made() {
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge.create_issue(&new_issue("Twice", &[])).await.unwrap();
    gh.fake
        .comment_as(issue.number, "clambake", "OWNER", "Same words");
    let before = gh.fake.comments()[0].id;
    faults_meeting(&gh.fake, server_errors(), &refused_then_made()).await;
    let comment = forge
        .create_comment(issue.number, "Same words")
        .await
        .unwrap();
    gh.fake.set_faults(Faults::default());
    assert_ne!(comment.id, before, "the comment from before is not ours");
    let same: Vec<u64> = gh
        .fake
        .comments()
        .into_iter()
        .filter(|c| visible(&c.body) == "Same words")
        .map(|c| c.id)
        .collect();
    assert_eq!(same, [before, comment.id]);
    gh.finish();
}

#[tokio::test]
async fn an_issue_like_one_there_before_is_not_taken_for_what_a_failed_create_made() {
    let gh = github().await;
    let forge = &gh.forge;
    let before = forge.create_issue(&new_issue("Again", &[])).await.unwrap();
    faults_meeting(&gh.fake, server_errors(), &refused_then_made()).await;
    let issue = forge.create_issue(&new_issue("Again", &[])).await.unwrap();
    gh.fake.set_faults(Faults::default());
    assert_ne!(issue.number, before.number);
    let titled = gh
        .fake
        .issues()
        .into_iter()
        .filter(|i| i.title == "Again")
        .count();
    assert_eq!(titled, 2);
    gh.finish();
}

#[tokio::test]
async fn a_pull_request_open_before_is_a_duplicate_not_what_a_failed_create_made() {
    let gh = github().await;
    let forge = &gh.forge;
    gh.push_branch("agent001/twice", "main", "twice.txt");
    let new = NewPullRequest {
        title: "Twice".to_owned(),
        body: String::new(),
        head: "agent001/twice".to_owned(),
        base: Some("main".to_owned()),
    };
    let before = forge.create_pull_request(&new).await.unwrap();
    let mut fates = refused_then_made().to_vec();
    fates.push(Fate::Answered);
    faults_meeting(&gh.fake, server_errors(), &fates).await;
    let refused = forge.create_pull_request(&new).await.unwrap_err();
    gh.fake.set_faults(Faults::default());
    assert!(
        matches!(refused, ForgeError::DuplicatePullRequest { number, .. } if number == before.number),
        "{refused:?}"
    );
    assert_eq!(gh.fake.pulls().len(), 1);
    gh.finish();
}

#[tokio::test]
async fn a_body_the_key_would_take_past_githubs_limit_is_sent_without_it_and_a_longer_one_refused()
{
    let gh = github().await;
    let forge = &gh.forge;
    let issue = forge.create_issue(&new_issue("Long", &[])).await.unwrap();
    let near = "x".repeat(65_500);
    let comment = forge.create_comment(issue.number, &near).await.unwrap();
    assert_eq!(comment.body, near);
    let held: Vec<String> = gh.fake.comments().into_iter().map(|c| c.body).collect();
    assert_eq!(held, [near], "sent as written, without a key");
    let over = "x".repeat(65_537);
    let refused = forge.create_comment(issue.number, &over).await.unwrap_err();
    assert!(matches!(refused, ForgeError::Invalid(_)), "{refused:?}");
    gh.finish();
}
