//! A workflow shaped like Clambake's agent workflow: checkout, a cache and an install that
//! the fake does not run, the Clambake step for real, and the artifact it leaves.

use clambake_github_fake::runner_contract::Outcome;
use serde_json::json;

use crate::support::{Bench, TOKEN, git};

const AGENT: &str = r#"
name: Clambake agent
run-name: Agent ${{ inputs.issue }} ${{ inputs.dispatch_key }}
on:
  workflow_dispatch:
    inputs:
      issue: { type: string, required: true }
      attempt: { type: string, required: true }
      force: { type: boolean, default: false }
      dispatch_key: { type: string, default: '' }
permissions:
  contents: write
env:
  GIT_AUTHOR_NAME: github-actions[bot]
  GIT_AUTHOR_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
  GIT_COMMITTER_NAME: github-actions[bot]
  GIT_COMMITTER_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
jobs:
  agent:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v5
        with:
          fetch-depth: 0
      - uses: actions/cache@v4
        with:
          path: ~/.cargo
          key: ${{ runner.os }}-${{ hashFiles('Cargo.lock') }}
      - name: Install Clambake
        run: cargo install clambake
      - name: Agent attempt ${{ inputs.issue }}
        id: clambake
        env:
          GH_TOKEN: ${{ secrets.CLAMBAKE_TOKEN || github.token }}
        run: >-
          clambake agent remote-run --issue ${{ inputs.issue }}
          --attempt ${{ inputs.attempt }} ${{ inputs.force && '--force' || '' }}
          --out clambake-agent-out
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: clambake-agent-${{ inputs.issue }}-${{ inputs.attempt }}
          path: clambake-agent-out
"#;

const FAKE_CLAMBAKE: &str = r#"
echo "clambake $*"
echo "token $GH_TOKEN"
test -z "${GITHUB_TOKEN+set}" && echo "no GITHUB_TOKEN"
echo "api $GITHUB_API_URL ci=$CI actions=$GITHUB_ACTIONS os=$RUNNER_OS"
echo "to stderr" >&2
echo "branch $(git rev-parse --abbrev-ref HEAD) at $(git rev-parse HEAD)"
echo "upstream $(git rev-parse --abbrev-ref '@{u}')"
echo "history $(git rev-list --count HEAD)"
echo work > work.txt
git add work.txt
git commit --quiet -m work
git push --quiet origin HEAD:refs/heads/agent/12
mkdir -p clambake-agent-out/sub
echo '{"exit":0}' > clambake-agent-out/exit.json
echo nested > clambake-agent-out/sub/events.jsonl
echo hidden > clambake-agent-out/.hidden
"#;

#[test]
fn the_clambake_step_runs_in_a_checkout_and_its_artifact_is_reported() {
    let bench = Bench::new();
    bench.command("clambake", FAKE_CLAMBAKE);
    bench.command("cargo", "echo cargo ran; exit 1\n");
    let recorder = bench.run(AGENT, &[("issue", json!("12")), ("attempt", json!("2"))]);

    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    assert_eq!(
        recorder.job_steps("agent"),
        [
            "Run actions/checkout@v5",
            "Run actions/cache@v4",
            "Install Clambake",
            "Agent attempt 12",
            "Run actions/upload-artifact@v4",
        ]
    );
    assert_eq!(recorder.step("agent", 0).0, Outcome::Success);
    let (cache, cache_log) = recorder.step("agent", 1);
    assert_eq!(cache, Outcome::Skipped);
    assert!(
        cache_log.contains("does not emulate actions/cache@v4"),
        "{cache_log}"
    );
    assert!(cache_log.contains("cache miss"), "{cache_log}");
    let (install, install_log) = recorder.step("agent", 2);
    assert_eq!(install, Outcome::Skipped);
    assert!(
        install_log.contains("does not run this step"),
        "{install_log}"
    );
    assert!(!install_log.contains("cargo ran"), "{install_log}");

    let (outcome, log) = recorder.step("agent", 3);
    assert_eq!(outcome, Outcome::Success, "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        "clambake agent remote-run --issue 12 --attempt 2 --out clambake-agent-out"
    );
    assert_eq!(lines[1], "token ***", "the token is masked in the log");
    assert!(!log.contains(TOKEN));
    assert_eq!(lines[2], "no GITHUB_TOKEN");
    assert_eq!(
        lines[3],
        "api http://127.0.0.1:9 ci=true actions=true os=Linux"
    );
    assert_eq!(lines[4], "to stderr", "stderr interleaves with stdout");
    assert_eq!(lines[5], format!("branch main at {}", bench.sha));
    assert_eq!(lines[6], "upstream origin/main");
    assert_eq!(lines[7], "history 1");
    let pushed = git(&bench.work, &["ls-remote", "origin", "refs/heads/agent/12"]);
    assert!(!pushed.is_empty(), "the step pushed to the bare repository");

    let artifacts = recorder.artifacts();
    assert_eq!(artifacts.len(), 1);
    let (name, files) = &artifacts[0];
    assert_eq!(name, "clambake-agent-12-2");
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    assert_eq!(
        files,
        [
            ("exit.json", b"{\"exit\":0}\n".as_slice()),
            ("sub/events.jsonl", b"nested\n".as_slice()),
        ],
        "hidden files are left out, as upload-artifact does by default"
    );
    assert_eq!(recorder.job("agent"), Outcome::Success);
}

#[test]
fn an_unreadable_workflow_fails_the_run_saying_why() {
    let bench = Bench::new();
    let recorder = bench.run("jobs: [not, a, map", &[]);
    assert_eq!(recorder.finished(), Outcome::Failure);
    let (outcome, log) = recorder.step("workflow", 0);
    assert_eq!(outcome, Outcome::Failure);
    assert!(log.contains("not valid"), "{log}");
}
