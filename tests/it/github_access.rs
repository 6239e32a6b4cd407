//! What the GitHub client asks with its token, and where it sends it: an installation token
//! (a GitHub App's, Actions' `GITHUB_TOKEN`), which GitHub refuses `GET /user`, checks its
//! access and finds its lost creates all the same; and a `Link` to another host is not
//! followed, so the token never goes there.

use std::net::TcpListener;

use clambake::adapters::forge::github::INSTALLATION;
use clambake::ports::Forge;
use clambake::ports::forge::{ForgeError, IssueFilter};
use clambake_github_fake::Faults;

use crate::github_forge::{Fate, faults_meeting, github, github_with, new_issue};
use crate::github_support::visible;

#[tokio::test]
async fn an_installation_token_has_its_access_checked_and_its_lost_creates_found() {
    let gh = github_with(|options| {
        options.installation = true;
        // Shaped as GitHub's installation tokens are.
        options.token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a".to_owned();
        options.login = "clambake-app[bot]".to_owned();
        options.association = "MEMBER".to_owned();
    })
    .await;
    let forge = &gh.forge;
    let access = forge.access().await.unwrap();
    assert_eq!(access.login, INSTALLATION);
    assert!(access.permissions.push, "{access:?}");
    assert_eq!(access.default_branch, "main");

    let issue = forge
        .create_issue(&new_issue("By an app", &[]))
        .await
        .unwrap();
    let lost = Faults {
        lost_answer_rate: 0.5,
        ..Faults::default()
    };
    faults_meeting(&gh.fake, lost, &[Fate::Lost, Fate::Answered]).await;
    let comment = forge
        .create_comment(issue.number, "From the app")
        .await
        .unwrap();
    gh.fake.set_faults(Faults::default());
    assert_eq!(comment.author, "clambake-app[bot]");
    let made = gh
        .fake
        .comments()
        .into_iter()
        .filter(|c| visible(&c.body) == "From the app")
        .count();
    assert_eq!(made, 1);
    gh.finish();
}

#[tokio::test]
async fn a_next_page_on_another_host_is_not_followed() {
    let gh = github().await;
    gh.fake.seed_issues(101, &[]);
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let origin = format!("http://{}", elsewhere.local_addr().unwrap());
    gh.fake.set_faults(Faults {
        link_origin: Some(origin.clone()),
        ..Faults::default()
    });
    let refused = gh.forge.issues(&IssueFilter::open()).await.unwrap_err();
    gh.fake.set_faults(Faults::default());
    assert!(
        matches!(&refused, ForgeError::Backend(m) if m.contains(&origin) && m.contains("not followed")),
        "{refused:?}"
    );
    assert!(
        matches!(elsewhere.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing connected to the other host"
    );
    gh.finish();
}
