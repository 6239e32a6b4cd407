//! Review feedback on Clambake's pull requests, end to end on both backends: a trusted
//! reviewer's "changes requested" naming one member of a bundle of three, and a trusted
//! `/clambake rework #N: why` comment, each send their member back to `route:ready` with the
//! reviewer's words (redacted) in a comment and in its next prompt, and the bundle is rebuilt
//! without it; a stranger's command does nothing (GitHub: on the local forge everyone who can
//! write its database can push), and a second pass acts on nothing twice. The agent then
//! continues on its branch.

use std::sync::Arc;

use clambake::ports::SystemClock;
use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::support::{TestRepo, write_script};

/// A secret Clambake knows (it is in its environment under a secret's name), which a
/// reviewer quotes: it must reach neither a comment nor a prompt.
const SECRET: &str = "sk-ant-review-secret-0123456789";

fn bundle(repo: &TestRepo, force: bool) -> Value {
    let mut args = vec!["bundle", "--json"];
    if force {
        args.push("--force");
    }
    repo.clambake_env(&args, &[("ANTHROPIC_API_KEY", SECRET)])
        .success()
        .json()
}

/// The members the open bundle closes, and its body.
fn open_bundle(repo: &TestRepo) -> (u64, Vec<u64>, String) {
    let open: Vec<Value> = repo
        .pull_requests()
        .into_iter()
        .filter(|pr| pr["state"] == "open")
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    let body = open[0]["body"].as_str().unwrap().to_owned();
    let closes = body
        .lines()
        .filter_map(|l| l.strip_prefix("Closes #"))
        .map(|n| n.parse().unwrap())
        .collect();
    (open[0]["number"].as_u64().unwrap(), closes, body)
}

/// How many comments pull request `number` has, read through the port.
fn comments_on_pull_request(repo: &TestRepo, number: u64) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let forge = repo.open_forge(Arc::new(SystemClock)).await;
        forge.comments(number).await.unwrap().len()
    })
}

/// A reviewer other than Clambake requests changes: on GitHub a collaborator, on the local
/// forge whoever runs `clambake pr review`.
fn request_changes(repo: &TestRepo, pull_request: u64, body: &str) {
    match repo.github() {
        Some(github) => {
            github
                .fake
                .review_as(pull_request, "ada", "COLLABORATOR", "REQUEST_CHANGES", body)
        }
        None => {
            repo.clambake(&[
                "pr",
                "review",
                &pull_request.to_string(),
                "--request-changes",
                "--body",
                body,
            ])
            .success();
        }
    }
}

/// A comment on `pull_request` by someone who can push (`trusted`) or a stranger.
fn comment(repo: &TestRepo, pull_request: u64, trusted: bool, body: &str) {
    match repo.github() {
        Some(github) => {
            let (login, association) = if trusted {
                ("bea", "MEMBER")
            } else {
                ("mallory", "NONE")
            };
            github
                .fake
                .comment_as(pull_request, login, association, body)
        }
        None => {
            assert!(trusted, "the local forge has no strangers");
            repo.clambake(&[
                "issue",
                "comment",
                &pull_request.to_string(),
                "--body",
                body,
            ])
            .success();
        }
    }
}

#[rstest]
fn review_feedback_sends_its_member_back_and_the_bundle_is_rebuilt_without_it(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&["--agents", "1"]).success();
    let scripts = tempfile::tempdir().unwrap();
    let prompts = scripts.path().join("prompts.txt");
    let agent = write_script(
        scripts.path(),
        "agent.sh",
        &format!(
            "cat \"$1\" >> {prompts}\necho '=== end of prompt' >> {prompts}\n\
             echo reworked > rework.txt\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}}'\n",
            prompts = prompts.display()
        ),
    );
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        (
            "agents.command",
            format!("{} {{prompt_file}}", agent.display()),
        ),
        ("agents.max_attempts", "3".to_owned()),
        ("bundling.trigger", "manual".to_owned()),
    ]);
    let issues: Vec<u64> = (1..=3)
        .map(|n| {
            repo.landed_issue(
                "agent001",
                &format!("work{n}"),
                &format!("file-{n}.txt"),
                "x\n",
            )
        })
        .collect();
    let (a, b, c) = (issues[0], issues[1], issues[2]);
    bundle(&repo, true);
    let (pr, members, _) = open_bundle(&repo);
    assert_eq!(members, issues);

    request_changes(
        &repo,
        pr,
        &format!("#{b} drops the greeting; keep it (the key {SECRET} leaked)."),
    );
    bundle(&repo, false);
    assert_eq!(repo.labels_of(b), ["route:ready"]);
    let told = repo.last_comment_on(b);
    assert!(told.contains("requested changes"), "{told}");
    assert!(told.contains("drops the greeting; keep it"), "{told}");
    assert!(!told.contains(SECRET), "redacted: {told}");
    let (same, members, body) = open_bundle(&repo);
    assert_eq!((same, members), (pr, vec![a, c]), "{body}");
    assert!(
        body.contains(&format!("- #{b} `agent001/{b}-work2`: `review: ")),
        "{body}"
    );
    for issue in [a, c] {
        assert_eq!(repo.labels_of(issue), ["route:bundled"]);
    }

    if repo.github().is_some() {
        comment(
            &repo,
            pr,
            false,
            &format!("/clambake rework #{c}: stranger says so"),
        );
    }
    comment(
        &repo,
        pr,
        true,
        &format!("/clambake rework #{a}: needs a test"),
    );
    bundle(&repo, false);
    assert_eq!(repo.labels_of(a), ["route:ready"]);
    assert!(repo.last_comment_on(a).contains("needs a test"));
    assert_eq!(repo.labels_of(c), ["route:bundled"], "a stranger's command");
    let (_, members, _) = open_bundle(&repo);
    assert_eq!(members, [c]);

    // Acted on once: another pass finds nothing new.
    let replies = comments_on_pull_request(&repo, pr);
    let told = [repo.comments_on(a).len(), repo.comments_on(b).len()];
    bundle(&repo, false);
    assert_eq!(comments_on_pull_request(&repo, pr), replies);
    assert_eq!([repo.comments_on(a).len(), repo.comments_on(b).len()], told);
    assert_eq!(open_bundle(&repo).1, [c]);

    // The agent continues on the branch, told what the reviewer asked.
    repo.clambake_env(&["run", "--until-idle"], &[("ANTHROPIC_API_KEY", SECRET)])
        .success();
    let prompts = std::fs::read_to_string(&prompts).unwrap();
    let for_b = prompts
        .split("=== end of prompt\n")
        .find(|p| p.starts_with(&format!("You are working on issue #{b}:")))
        .unwrap_or_else(|| panic!("no prompt for #{b}: {prompts}"));
    assert!(for_b.contains("## Review feedback"), "{for_b}");
    assert!(for_b.contains("drops the greeting; keep it"), "{for_b}");
    assert!(!prompts.contains(SECRET), "{prompts}");
    assert!(prompts.contains("needs a test"), "{prompts}");
    let landed = repo.labels_of(b);
    assert!(
        landed == ["route:review"] || landed == ["route:bundled"],
        "landed again, it rides a later train: {landed:?}"
    );
    let files = repo.git(&[
        "ls-tree",
        "-r",
        "--name-only",
        &format!("agent001/{b}-work2"),
    ]);
    assert!(
        files.contains("file-2.txt") && files.contains("rework.txt"),
        "{files}"
    );
    repo.assert_no_violations();
}
