//! Whose words reach an agent: `agents.prompt_comments` lets only trusted authors' comments
//! (the repository's owner, members and collaborators) into the prompt by default, and the
//! prompt counts the others without quoting them.

use std::sync::Arc;

use clambake::adapters::agents::SimulatedRuntime;
use clambake::app::Workspace;
use clambake::app::agents::attempt::{PROMPTS_DIR, never_stop, run_attempt};
use clambake::app::agents::request::{limits_from, request_for};
use clambake::app::queue::claim::Claimed;
use clambake::core::config::{AgentsConfig, PromptComments};
use clambake::ports::forge::{AuthorAssociation, Comment, Number};
use clambake::ports::{Forge, SystemClock};

use crate::hooked_forge::{Hook, Hooked, Verdict};
use crate::support::TestRepo;

/// Every association GitHub reports, each the author of one comment.
const AUTHORS: [(&str, AuthorAssociation); 8] = [
    ("owner", AuthorAssociation::Owner),
    ("member", AuthorAssociation::Member),
    ("collaborator", AuthorAssociation::Collaborator),
    ("contributor", AuthorAssociation::Contributor),
    (
        "first-time-contributor",
        AuthorAssociation::FirstTimeContributor,
    ),
    ("first-timer", AuthorAssociation::FirstTimer),
    ("mannequin", AuthorAssociation::Mannequin),
    ("stranger", AuthorAssociation::None),
];

/// The forge as GitHub would answer for a public repository: each comment's author and
/// association are the ones its body names.
struct PublicRepository;

impl Hook for PublicRepository {
    fn before(&self, _name: &'static str, _number: Option<Number>) -> Verdict {
        Verdict::Pass
    }

    fn answered_comments(&self, comments: &mut [Comment]) {
        for comment in comments {
            let (author, association) = AUTHORS
                .iter()
                .find(|(author, _)| comment.body.starts_with(&format!("{author}:")))
                .expect("every comment names its author");
            comment.author = (*author).to_owned();
            comment.author_association = *association;
        }
    }
}

/// The prompt `agent`'s attempt at `issue` was given under `policy`.
async fn prompt_under(
    repo: &TestRepo,
    agent: &str,
    issue: Number,
    policy: PromptComments,
) -> String {
    let workspace = Workspace::discover(repo.path()).await.unwrap();
    let forge = Hooked {
        inner: Arc::new(
            workspace
                .open_local_forge(Arc::new(SystemClock))
                .await
                .unwrap(),
        ),
        hook: PublicRepository,
    };
    let claimed = Claimed {
        issue: forge.issue(issue).await.unwrap(),
        attempt: 0,
    };
    let request = request_for(&workspace, &forge, agent, &claimed, "main", &[], policy)
        .await
        .unwrap();
    let limits = limits_from(&AgentsConfig::default());
    run_attempt(
        &workspace,
        &SimulatedRuntime,
        &request,
        limits,
        never_stop(),
    )
    .await
    .unwrap();
    let prompt = repo
        .path()
        .join(".clambake")
        .join(PROMPTS_DIR)
        .join(format!("{agent}-{issue}-{}.md", request.attempt));
    std::fs::read_to_string(prompt).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_trusted_authors_comments_reach_the_prompt_unless_configured_otherwise() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issue = repo.create_issue("Fix the parser", "route:ready");
    for (author, _) in AUTHORS {
        let body = format!("{author}: a word from {author}-{issue}");
        repo.clambake(&["issue", "comment", &issue.to_string(), "--body", &body])
            .success();
    }
    let quoted = |prompt: &str, author: &str| prompt.contains(&format!("a word from {author}-"));

    let trusted = prompt_under(&repo, "agent001", issue, PromptComments::Trusted).await;
    for (author, association) in AUTHORS {
        assert_eq!(
            quoted(&trusted, author),
            association.is_trusted(),
            "{author}: {trusted}"
        );
    }
    assert!(
        trusted.contains("(5 comments on the issue by people who cannot push"),
        "{trusted}"
    );

    let all = prompt_under(&repo, "agent002", issue, PromptComments::All).await;
    assert!(
        AUTHORS.iter().all(|(author, _)| quoted(&all, author)),
        "{all}"
    );
    assert!(!all.contains("not shown"), "{all}");

    let none = prompt_under(&repo, "agent003", issue, PromptComments::None).await;
    assert!(
        !AUTHORS.iter().any(|(author, _)| quoted(&none, author)),
        "{none}"
    );
    assert!(
        none.contains("(The issue has 8 comments, not shown here"),
        "{none}"
    );
}

#[test]
fn trusted_is_the_default_and_the_setting_takes_the_three_values() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let shown = repo
        .clambake(&["config", "get", "agents.prompt_comments"])
        .success();
    assert_eq!(shown.stdout.trim(), "trusted");
    for value in ["all", "none", "trusted"] {
        repo.configure(&[("agents.prompt_comments", value)]);
    }
    let refused = repo.clambake(&["config", "set", "agents.prompt_comments", "everyone"]);
    assert_ne!(refused.code, 0);
}
