//! The whole pipeline with real agents: `clambake run --until-idle` drives three real Claude Code
//! processes at once (against the scripted model server) through six issues, the train opens
//! one bundle pull request, and merging it closes every issue with every agent commit on main.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rstest::rstest;

use crate::backend::Backend;
use crate::github_support::visible;
use crate::model_server::{ModelServer, Reply};
use crate::support::{TestRepo, claude_binary, processes};

const ISSUES: u64 = 6;
const AGENTS: usize = 3;

/// The issue number in an agent's prompt ("You are working on issue #N: ...").
fn issue_in(prompt: &str) -> u64 {
    let rest = prompt
        .split("working on issue #")
        .nth(1)
        .unwrap_or_else(|| panic!("no issue in the prompt: {prompt}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// The Bash command an agent runs for `issue`: it checks in at `barrier`, waits (at most ten
/// seconds) until as many agents as there are slots have checked in, so the first wave
/// provably overlaps, then commits a file of its own, so the bundle merges cleanly.
fn commit_note(barrier: &Path, issue: u64) -> String {
    let barrier = barrier.display();
    format!(
        "touch {barrier}/{issue} && \
         for i in $(seq 100); do [ $(ls {barrier} | wc -l) -ge {AGENTS} ] && break; sleep 0.1; done; \
         echo 'note {issue}' > note-{issue}.txt && git add note-{issue}.txt && \
         git commit -qm 'Write note {issue}' && echo committed"
    )
}

/// The most conversations in progress at one moment, each spanning its first to last request.
fn most_at_once(spans: &BTreeMap<String, (Instant, Instant)>) -> usize {
    let mut edges: Vec<(Instant, i32)> = spans
        .values()
        .flat_map(|&(first, last)| [(first, 1), (last, -1)])
        .collect();
    // At one instant, a start counts before an end: touching spans overlap.
    edges.sort_by_key(|&(at, delta)| (at, -delta));
    let mut open = 0;
    let mut most = 0;
    for (_, delta) in edges {
        open += delta;
        most = most.max(open);
    }
    usize::try_from(most).unwrap()
}

/// Agents of this test and the commands they started: processes working inside `dir`, or
/// with `variable` (the model server's address) in their environment.
fn agent_processes(dir: &Path, variable: &str) -> Vec<(u32, String)> {
    processes()
        .into_iter()
        .filter(|(pid, _, _)| {
            let inside = std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(dir));
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            inside
                || environ
                    .split(|b| *b == 0)
                    .any(|entry| entry == variable.as_bytes())
        })
        .map(|(pid, _, cmdline)| (pid, cmdline))
        .collect()
}

fn numbers(value: &serde_json::Value) -> Vec<u64> {
    let mut numbers: Vec<u64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn three_real_claude_code_agents_land_six_issues_in_one_merged_bundle(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let claude = claude_binary();
    assert!(claude.exists(), "no Claude Code at {}", claude.display());
    let repo = TestRepo::on(backend);
    let home = tempfile::tempdir().unwrap();
    let barrier = tempfile::tempdir().unwrap();
    let barrier_path = barrier.path().to_owned();
    let server = ModelServer::per_conversation(
        move |prompt| vec![Reply::bash(&commit_note(&barrier_path, issue_in(prompt)))],
        Reply::text("Committed the note."),
    )
    .await;
    let base_url = server.base_url();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("IS_SANDBOX", "1"),
        ("ANTHROPIC_BASE_URL", base_url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-scripted"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ];
    let clambake = |args: &[&str]| repo.clambake_env(args, &env);

    repo.init(&["--agents", &AGENTS.to_string()]).success();
    for (key, value) in [
        ("agents.runtime", "claude"),
        ("agents.claude_code_path", claude.to_str().unwrap()),
        ("agents.claude_permission_mode", "bypassPermissions"),
        ("agents.claude_max_turns", "5"),
        ("agents.max_concurrent", &AGENTS.to_string()),
        ("agents.retry_backoff_seconds", "0"),
        // One train, when the run goes idle, carries all six.
        ("bundling.trigger", "manual"),
    ] {
        clambake(&["config", "set", key, value]).success();
    }
    for n in 1..=ISSUES {
        clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Write note {n}"),
            "--body",
            &format!("Add note-{n}.txt and commit it."),
            "--label",
            "route:ready",
        ])
        .success();
    }

    let summary = clambake(&["run", "--until-idle", "--json"])
        .success()
        .json();
    let events = summary["events"].as_array().unwrap();
    let landed: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "landed")
        .map(|e| e["issue"].as_u64().unwrap())
        .collect();
    assert_eq!(
        landed.len(),
        6,
        "every issue landed first time: {events:#?}"
    );
    let trains: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "train_departed")
        .collect();
    assert_eq!(trains.len(), 1, "{events:#?}");
    let bundle = &trains[0]["bundles"][0];
    assert_eq!(numbers(&bundle["issues"]), (1..=ISSUES).collect::<Vec<_>>());
    assert_eq!(trains[0]["individual"].as_array().unwrap().len(), 0);

    let mut spans: BTreeMap<String, (Instant, Instant)> = BTreeMap::new();
    for request in server.received() {
        spans
            .entry(request.conversation)
            .and_modify(|(_, last)| *last = request.at)
            .or_insert((request.at, request.at));
    }
    assert_eq!(spans.len(), 6, "one conversation per issue");
    assert_eq!(
        most_at_once(&spans),
        AGENTS,
        "three agents talked to the model at once, never more"
    );

    let agent_commits = repo.git(&["log", "--format=%H %an", "--branches=agent*", "^main"]);
    let agent_commits: Vec<&str> = agent_commits
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, author)| author.starts_with("agent"))
        .map(|(hash, _)| hash)
        .collect();
    assert_eq!(agent_commits.len(), 6, "one commit per issue");
    for n in 1..=ISSUES {
        assert_eq!(repo.labels_of(n), ["route:bundled"], "#{n}");
    }
    if let Some(github) = repo.github() {
        published_with_nothing_said_twice(&repo, github);
    }

    let number = bundle["number"].as_u64().unwrap().to_string();
    let merged = clambake(&["pr", "merge", &number, "--json"])
        .success()
        .json();
    assert_eq!(
        numbers(&merged["closed_issues"]),
        (1..=ISSUES).collect::<Vec<_>>()
    );
    for n in 1..=ISSUES {
        let shown = clambake(&["issue", "show", &n.to_string(), "--json"])
            .success()
            .json();
        assert_eq!(shown["issue"]["state"], "closed", "#{n}");
    }
    // On GitHub the bundle was merged on origin.
    let main = match backend {
        Backend::Local => "main",
        Backend::Github => {
            repo.git(&["fetch", "-q", "origin", "main"]);
            "FETCH_HEAD"
        }
    };
    for commit in agent_commits {
        let reachable = std::process::Command::new("git")
            .current_dir(repo.path())
            .args(["merge-base", "--is-ancestor", commit, main])
            .status()
            .unwrap();
        assert!(reachable.success(), "{commit} is not on main");
    }
    for n in 1..=ISSUES {
        assert_eq!(
            repo.git(&["show", &format!("{main}:note-{n}.txt")]),
            format!("note {n}")
        );
    }
    assert_eq!(
        agent_processes(repo.path(), &format!("ANTHROPIC_BASE_URL={base_url}")),
        [],
        "no agent process is left running"
    );
    clambake(&["agent", "validate", "--all"]).success();
    repo.assert_no_violations();
}

/// On GitHub, after the run: every issue has its claim reference and every agent branch is on
/// `origin` as it is here, the fake holds
/// the comments `clambake issue show` reads, each issue's first saying it landed, and no
/// comment was made twice.
fn published_with_nothing_said_twice(
    repo: &TestRepo,
    github: &crate::github_support::GithubOrigin,
) {
    let branches = repo.git(&["branch", "--list", "agent*", "--format=%(refname:short)"]);
    assert_eq!(branches.lines().count(), ISSUES as usize, "{branches}");
    for branch in branches.lines() {
        let tip = repo.git(&["rev-parse", branch]);
        assert_eq!(repo.origin_tip(branch), Some(tip), "{branch} is published");
    }
    let claims = repo.git(&["ls-remote", "origin", "refs/clambake/claims/*"]);
    assert_eq!(
        claims.lines().count(),
        ISSUES as usize,
        "each issue claimed on origin: {claims}"
    );
    let comments = github.fake.comments();
    for n in 1..=ISSUES {
        let on_fake: Vec<String> = comments
            .iter()
            .filter(|c| c.issue == n)
            .map(|c| visible(&c.body).to_owned())
            .collect();
        assert_eq!(on_fake, repo.comments_on(n), "#{n}");
        let landed = on_fake.first().map(String::as_str).unwrap_or_default();
        assert!(
            landed.starts_with("Landed by agent")
                && landed.contains(&format!("/{n}-write-note-{n}` is 1 commit ahead")),
            "#{n}: {on_fake:?}"
        );
        let mut once = on_fake.clone();
        once.dedup();
        assert_eq!(once, on_fake, "a comment on #{n} made twice");
    }
}
