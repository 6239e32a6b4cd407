//! The real Codex CLI driven by `clambake run` against the scripted Responses API server, on
//! each backend: the issue and its comment reach the model, Codex writes a file in its default
//! `workspace-write` sandbox (where git's metadata is read-only), Clambake commits that work,
//! lands it, and the train opens its pull request; on GitHub the branch is on `origin`.

use rstest::rstest;

use crate::backend::Backend;
use crate::github_support::visible;
use crate::responses_server::{Reply, ResponsesServer};
use crate::support::{TestRepo, codex_binary};

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn codex_run_by_the_loop_has_its_work_committed_landed_and_sent_for_review(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    let home = tempfile::tempdir().unwrap();
    let server = ResponsesServer::start(
        vec![Reply::Shell("echo hello > hello.txt".to_owned())],
        Reply::Text("Wrote hello.txt.".to_owned()),
    )
    .await;
    std::fs::write(home.path().join("config.toml"), server.codex_config()).unwrap();
    let home_dir = home.path().to_str().unwrap();
    let env = [
        ("HOME", home_dir),
        ("CODEX_HOME", home_dir),
        ("OPENAI_API_KEY", "sk-scripted"),
    ];
    let codex = codex_binary();
    repo.init(&["--agents", "1"]).success();
    repo.configure(&[
        ("agents.runtime", "codex"),
        ("agents.codex_path", codex.to_str().unwrap()),
        ("agents.max_attempts", "1"),
        ("bundling.trigger", "manual"),
    ]);
    repo.clambake(&[
        "issue",
        "create",
        "--title",
        "Say hello",
        "--body",
        "Add hello.txt saying hello.",
        "--label",
        "route:ready",
    ])
    .success();
    repo.clambake(&["issue", "comment", "1", "--body", "Lowercase, please."])
        .success();

    let summary = repo
        .clambake_env(&["run", "--until-idle", "--json"], &env)
        .success()
        .json();
    let events = summary["events"].as_array().unwrap();
    let disposed = events
        .iter()
        .find(|e| e["event"] == "disposed")
        .unwrap_or_else(|| panic!("{summary:#}"));
    assert_eq!(disposed["outcome"], "success", "{summary:#}");
    assert_eq!(disposed["disposition"]["kind"], "landed", "{summary:#}");

    let prompt = server.requests()[0]["input"].to_string();
    assert!(prompt.contains("Say hello"), "{prompt}");
    assert!(prompt.contains("Add hello.txt saying hello."), "{prompt}");
    assert!(prompt.contains("Lowercase, please."), "{prompt}");

    let branch = "agent001/1-say-hello";
    assert_eq!(repo.git(&["show", &format!("{branch}:hello.txt")]), "hello");
    assert_eq!(
        repo.git(&["log", "--format=%an|%s", &format!("main..{branch}")]),
        "Clambake|Work left uncommitted by agent001 on issue #1",
        "the sandbox kept Codex from committing: Clambake did"
    );
    // Alone on the last train, it left as a pull request of its own.
    assert_eq!(repo.labels_of(1), ["route:review"]);
    let pulls = repo.pull_requests();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0]["head"], branch, "{pulls:#?}");
    let comments = repo.comments_on(1);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert!(
        comments[1].starts_with(&format!("Landed by agent001: `{branch}` is 1 commit ahead")),
        "{comments:#?}"
    );
    if let Some(github) = repo.github() {
        let tip = repo.git(&["rev-parse", branch]);
        assert_eq!(
            repo.origin_tip(branch),
            Some(tip),
            "the branch is published"
        );
        let on_fake: Vec<String> = github
            .fake
            .comments()
            .into_iter()
            .filter(|c| c.issue == 1)
            .map(|c| visible(&c.body).to_owned())
            .collect();
        assert_eq!(on_fake, comments);
        let labels = github.fake.issue(1).unwrap().labels;
        assert_eq!(labels, ["route:review"]);
    }
    repo.assert_no_violations();
}
