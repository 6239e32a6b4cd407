//! The whole lifecycle on the GitHub backend with the real `clambake` binary: `init --backend
//! github`, issues, claims, simulated agents landing, a train of bundles of five, `pr merge`
//! of each bundle closing its issues. What the fake ends with is checked against GitHub's
//! description (no violation) and against the local forge running the same script (the same
//! labels); and again with 10 % server errors, 2 % lost answers and a secondary rate limit,
//! with nothing made twice.

use std::collections::BTreeMap;

use clambake::core::queue::claims::ClaimState;
use clambake_github_fake::{Faults, RecordedRequest, SecondaryLimit};

use crate::github_support::{GithubRepo, visible};
use crate::support::{CliOutput, TestRepo};

/// Two bundles of five.
const ISSUES: u64 = 10;
const BUNDLE_SIZE: usize = 5;

/// What a lifecycle left: the train's bundles (pull request, issues) and each issue's state
/// and labels as `clambake issue show` reads them.
#[derive(Debug)]
struct Lifecycle {
    bundles: Vec<(u64, Vec<u64>)>,
    issues: BTreeMap<u64, (String, Vec<String>)>,
    run_stderr: String,
}

/// Configures an initialised repository, files the issues, runs until idle (one train when
/// the run goes idle) and merges every bundle, each step through `clambake`.
fn lifecycle(clambake: &dyn Fn(&[&str]) -> CliOutput, before_run: &dyn Fn()) -> Lifecycle {
    for (key, value) in [
        ("agents.runtime", "simulated"),
        ("agents.retry_backoff_seconds", "0"),
        ("forge.poll_interval_seconds", "1"),
        ("bundling.max_bundle_size", "5"),
        ("bundling.trigger", "manual"),
    ] {
        clambake(&["config", "set", key, value]).success();
    }
    for n in 1..=ISSUES {
        let title = format!("Task {n}");
        let args = [
            "issue",
            "create",
            "--title",
            &title,
            "--label",
            "route:ready",
        ];
        clambake(&args).success();
    }
    before_run();
    let run = clambake(&["run", "--until-idle", "--no-view", "--json"]).success();
    let summary = run.json();
    let events = summary["events"].as_array().unwrap();
    let landed = events
        .iter()
        .filter(|e| e["event"] == "disposed" && e["disposition"]["kind"] == "landed")
        .count();
    assert_eq!(landed, ISSUES as usize, "{events:#?}");
    let trains: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "train_departed")
        .collect();
    assert_eq!(trains.len(), 1, "{events:#?}");
    assert_eq!(trains[0]["individual"].as_array().unwrap().len(), 0);
    let bundles: Vec<(u64, Vec<u64>)> = trains[0]["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bundle| {
            (
                bundle["number"].as_u64().unwrap(),
                numbers(&bundle["issues"]),
            )
        })
        .collect();

    for (number, issues) in &bundles {
        let merged = clambake(&["pr", "merge", &number.to_string(), "--json"]).success();
        assert_eq!(&numbers(&merged.json()["closed_issues"]), issues);
    }
    let issues = (1..=ISSUES)
        .map(|n| {
            let shown = clambake(&["issue", "show", &n.to_string(), "--json"])
                .success()
                .json();
            let state = shown["issue"]["state"].as_str().unwrap().to_owned();
            let labels = shown["issue"]["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect();
            (n, (state, labels))
        })
        .collect();
    Lifecycle {
        bundles,
        issues,
        run_stderr: run.stderr,
    }
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

/// The same lifecycle on the local forge: what GitHub's should come to.
fn local_lifecycle() -> Lifecycle {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    lifecycle(&|args| repo.clambake(args), &|| {})
}

/// What the lifecycle must have left on GitHub: every issue closed with the labels the local
/// forge leaves, one merged pull request per bundle whose head is on origin, every agent
/// commit on origin's main, one claim per issue that landed, and nothing made twice.
fn check_github(github: &GithubRepo, done: &Lifecycle, local: &Lifecycle) {
    assert_eq!(
        done.issues, local.issues,
        "GitHub's issues as the local forge's"
    );
    for (state, _) in done.issues.values() {
        assert_eq!(state, "closed");
    }
    assert_eq!(done.bundles.len(), ISSUES as usize / BUNDLE_SIZE);
    for (_, issues) in &done.bundles {
        assert_eq!(issues.len(), BUNDLE_SIZE);
    }
    let pulls = github.fake().pulls();
    assert_eq!(
        pulls.len(),
        done.bundles.len(),
        "one pull request per bundle"
    );
    let branches = github.origin_branches();
    for pull in &pulls {
        let head = pull.pull.as_ref().unwrap();
        assert!(head.merged_at.is_some(), "#{} merged", pull.number);
        assert!(branches.contains(&head.head_ref), "{branches:?}");
        assert_eq!(pull.state, clambake_github_fake::IssueState::Closed);
    }
    for issue in github.fake().issues().iter().filter(|i| i.pull.is_none()) {
        assert_eq!(
            issue.state,
            clambake_github_fake::IssueState::Closed,
            "#{} on GitHub",
            issue.number
        );
    }
    let agent_tips = github
        .repo
        .git(&["branch", "--list", "agent*", "--format=%(objectname)"]);
    assert_eq!(agent_tips.lines().count(), ISSUES as usize);
    for tip in agent_tips.lines() {
        github.origin_git(&["merge-base", "--is-ancestor", tip, "main"]);
    }

    let chains = github.claim_chains();
    assert_eq!(
        chains.len(),
        ISSUES as usize,
        "one claim reference per issue"
    );
    for (issue, chain) in &chains {
        let states: Vec<(ClaimState, u32)> = chain.iter().map(|r| (r.state, r.attempt)).collect();
        assert_eq!(
            states,
            [(ClaimState::Held, 1), (ClaimState::Landed, 1)],
            "#{issue} claimed once and landed"
        );
    }

    let mut bodies: BTreeMap<(u64, String), usize> = BTreeMap::new();
    for comment in github.fake().comments() {
        let body = visible(&comment.body).to_owned();
        *bodies.entry((comment.issue, body)).or_default() += 1;
    }
    let twice: Vec<_> = bodies.into_iter().filter(|(_, count)| *count > 1).collect();
    assert_eq!(twice, [], "a comment made twice");
    let requests = github.fake().requests();
    let made_pulls = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pulls"))
        .filter(|r| r.status == 201 || r.lost)
        .count();
    assert_eq!(made_pulls, pulls.len(), "a pull request made twice");
    github.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_lifecycle_on_github_ends_as_on_the_local_forge_with_no_violation() {
    let github = GithubRepo::start(2);
    let local = tokio::task::spawn_blocking(local_lifecycle);
    let done = lifecycle(&|args| github.clambake(args), &|| {});
    let local = local.await.unwrap();
    check_github(&github, &done, &local);
}

/// The faults of the issue: 10 % of requests fail with a 502, 2 % lose their answer after the
/// fake acted, and one secondary limit (a short `retry-after`, or the run would wait its
/// minute) refuses a request some way into the run.
fn faults(seed: u64) -> Faults {
    Faults {
        seed,
        server_error_rate: 0.10,
        lost_answer_rate: 0.02,
        secondary_limits: vec![SecondaryLimit {
            after_requests: 20 + seed % 20,
            status: if seed.is_multiple_of(2) { 403 } else { 429 },
            retry_after: Some(1),
        }],
        ..Faults::default()
    }
}

/// Runs `clambake` as a person does when the forge fails in passing: again, as the error's
/// help says. The run loop must need no such help; a one-shot command (`pr merge`) may.
fn again_if_passing(seed: u64, github: &GithubRepo, args: &[&str]) -> CliOutput {
    if args.first() == Some(&"run") {
        return github.clambake(args);
    }
    for _ in 0..3 {
        let output = github.clambake(args);
        let passing = output
            .stderr
            .contains("the forge did not answer in time, or failed")
            || output.stderr.contains("the forge's rate limit is spent");
        if output.code != 6 || !passing {
            return output;
        }
        println!(
            "seed {seed}: `clambake {}` again after: {}",
            args.join(" "),
            output.stderr
        );
    }
    github.clambake(args)
}

fn count(requests: &[RecordedRequest], what: impl Fn(&RecordedRequest) -> bool) -> usize {
    requests.iter().filter(|r| what(r)).count()
}

#[test]
fn the_lifecycle_rides_through_server_errors_lost_answers_and_a_secondary_limit() {
    const SEEDS: [u64; 3] = [1, 2, 3];
    std::thread::scope(|scope| {
        let local = scope.spawn(local_lifecycle);
        let runs: Vec<_> = SEEDS
            .map(|seed| {
                scope.spawn(move || {
                    let github = GithubRepo::start(2);
                    let done = lifecycle(&|args| again_if_passing(seed, &github, args), &|| {
                        github.fake().set_faults(faults(seed));
                    });
                    (seed, github, done)
                })
            })
            .into_iter()
            .collect();
        let local = local.join().unwrap();
        for run in runs {
            let (seed, github, done) = run.join().unwrap();
            println!("seed {seed}");
            let requests = github.fake().requests();
            let errors = count(&requests, |r| r.status == 502);
            let lost = count(&requests, |r| r.lost);
            let limited = count(&requests, |r| matches!(r.status, 403 | 429));
            println!(
                "seed {seed}: {} requests, {errors} 502s, {lost} lost, {limited} limited",
                requests.len()
            );
            assert!(errors > 0 && lost > 0, "seed {seed}: the faults struck");
            assert_eq!(limited, 1, "seed {seed}: the secondary limit struck");
            check_github(&github, &done, &local);
            assert!(
                !done.run_stderr.contains("octocrab"),
                "seed {seed}: octocrab's own lines are off: {}",
                done.run_stderr
            );
        }
    });
}

/// An attempt whose branch exists here, behind what an attempt elsewhere published to
/// `origin`, continues the published work instead of its stale copy.
#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_continues_the_work_published_on_origin_beyond_its_own_branch() {
    let github = GithubRepo::start(1);
    github
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Add greeting",
            "--label",
            "route:ready",
        ])
        .success();
    let repo = &github.repo;
    let branch = "agent001/1-add-greeting";
    let ours = repo.branch_with_file(branch, "main", "first.txt", "first\n");
    let theirs = repo.branch_with_file(branch, branch, "second.txt", "second\n");
    repo.git(&["push", "-q", "origin", branch]);
    repo.git(&["branch", "-f", branch, &ours]);

    github
        .clambake(&[
            "spawn",
            "--agent",
            "agent001",
            "--issue",
            "1",
            "--runtime",
            "simulated",
        ])
        .success();

    let tip = repo.git(&["rev-parse", branch]);
    let ancestors = repo.git(&["rev-list", &tip]);
    assert!(
        ancestors.lines().any(|commit| commit == theirs),
        "the attempt went on from the published {theirs}, not from {ours}: {ancestors}"
    );
    github.assert_no_violations();
}
