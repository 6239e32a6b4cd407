//! The runner beside the fake itself: the Clambake step talks to the fake's API over real
//! HTTP and pushes to the fake's repository, as on GitHub it talks to GitHub.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clambake_github_fake::runner::WorkflowRunner;
use clambake_github_fake::runner_contract::Outcome;
use clambake_github_fake::{FakeGithub, Options, RunStatus, WorkflowRun};
use serde_json::json;

use crate::support::{Bench, TOKEN, git};

const YAML: &str = r#"
on: workflow_dispatch
jobs:
  agent:
    steps:
      - uses: actions/checkout@v5
      - id: clambake
        env:
          GH_TOKEN: ${{ secrets.CLAMBAKE_TOKEN || github.token }}
          GIT_AUTHOR_NAME: github-actions[bot]
          GIT_AUTHOR_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
          GIT_COMMITTER_NAME: github-actions[bot]
          GIT_COMMITTER_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
        run: |
          curl --silent --show-error --fail --output /dev/null -X POST \
            -H "Authorization: Bearer $GH_TOKEN" -H "Accept: application/vnd.github+json" \
            -H "Content-Type: application/json" -d '{"title":"Filed from the runner"}' \
            "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues"
          git switch --quiet -c from-runner
          echo work > work.txt && git add work.txt && git commit --quiet -m work
          git push --quiet origin from-runner
"#;

#[tokio::test]
async fn the_clambake_step_uses_the_fake_as_its_api_and_pushes_to_its_repository() {
    let bench = Bench::new();
    let mut options = Options::new(&bench.bare);
    options.token = TOKEN.to_string();
    let fake = FakeGithub::start(options).await.unwrap();
    let mut spec = bench.spec(YAML, &[]);
    spec.api_url = fake.api_url();
    let (recorder, _control) = bench.start_spec(spec);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let titles: Vec<String> = fake.issues().into_iter().map(|issue| issue.title).collect();
    assert_eq!(titles, ["Filed from the runner"]);
    assert_eq!(fake.violations(), Vec::<String>::new());
    let pushed = git(
        &bench.work,
        &["ls-remote", "origin", "refs/heads/from-runner"],
    );
    assert!(
        !pushed.is_empty(),
        "the step pushed to the fake's repository"
    );
}

/// A workflow dispatched through the fake's REST API: the fake hands it to this runner.
const DISPATCHED: &str = r###"
name: Dispatched
run-name: Dispatched ${{ inputs.dispatch_key }}
on:
  workflow_dispatch:
    inputs:
      hang: { type: boolean, default: false }
      dispatch_key: { type: string, default: '' }
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - name: Install tools
        run: cargo install something
      - id: clambake
        env:
          HANG: ${{ inputs.hang }}
        run: |
          echo "working on $(git rev-parse --abbrev-ref HEAD)"
          mkdir -p out && echo done > out/result.txt
          echo "## Done" >> "$GITHUB_STEP_SUMMARY"
          if [ "$HANG" = true ]; then echo hanging; sleep 600; fi
      - uses: actions/upload-artifact@v4
        if: always()
        with: { name: result, path: out }
"###;

async fn wait_until_completed(fake: &FakeGithub, id: u64) -> WorkflowRun {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let run = fake.run(id).expect("the run exists");
        if run.status == RunStatus::Completed {
            return run;
        }
        assert!(Instant::now() < until, "run {id} never completed: {run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_run_dispatched_through_the_api_is_carried_out_and_cancelled_by_this_runner() {
    let bench = Bench::new();
    let workflows = bench.work.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("dispatched.yml"), DISPATCHED).unwrap();
    git(&bench.work, &["add", ".github"]);
    git(&bench.work, &["commit", "--quiet", "-m", "workflow"]);
    git(&bench.work, &["push", "--quiet", "origin", "HEAD:main"]);
    let mut options = Options::new(&bench.bare);
    options.token = TOKEN.to_string();
    let fake = FakeGithub::start(options).await.unwrap();
    fake.set_runner(Arc::new(WorkflowRunner::new(bench.config.clone())));
    let client = reqwest::Client::new();
    let api = fake.api_url();
    let dispatch = |inputs: serde_json::Value| {
        client
            .post(format!(
                "{api}/repos/clambake/demo/actions/workflows/dispatched.yml/dispatches"
            ))
            .bearer_auth(TOKEN)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "runner-test")
            .json(&json!({ "ref": "main", "inputs": inputs, "return_run_details": true }))
            .send()
    };

    let answer: serde_json::Value = dispatch(json!({ "dispatch_key": "k-1" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["workflow_run_id"].as_u64().expect("the run's id");
    let run = wait_until_completed(&fake, id).await;
    assert_eq!(run.conclusion, Some(Outcome::Success), "{run:?}");
    assert_eq!(run.display_title, "Dispatched k-1");
    let job = &run.jobs[0];
    let steps: Vec<(&str, Option<Outcome>)> = job
        .steps
        .iter()
        .map(|step| (step.name.as_str(), step.conclusion))
        .collect();
    assert_eq!(
        steps,
        [
            ("Run actions/checkout@v5", Some(Outcome::Success)),
            ("Install tools", Some(Outcome::Skipped)),
            (
                "Run echo \"working on $(git rev-parse --abbrev-ref HEAD)\"",
                Some(Outcome::Success)
            ),
            ("Run actions/upload-artifact@v4", Some(Outcome::Success)),
        ]
    );
    assert!(
        job.steps[2].log.contains("working on main"),
        "{}",
        job.steps[2].log
    );
    assert_eq!(
        fake.summaries(id),
        [("work".to_string(), "## Done\n".to_string())]
    );
    let artifacts = fake.artifacts(id);
    assert_eq!(artifacts[0].name, "result");
    assert_eq!(
        artifacts[0].files,
        [("result.txt".to_string(), b"done\n".to_vec())]
    );

    let answer: serde_json::Value = dispatch(json!({ "hang": true }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hanging = answer["workflow_run_id"].as_u64().expect("the run's id");
    let until = Instant::now() + Duration::from_secs(120);
    let started = |fake: &FakeGithub| {
        fake.jobs(hanging)
            .first()
            .and_then(|job| job.steps.get(2))
            .is_some_and(|step| step.started_at.is_some())
    };
    while !started(&fake) {
        assert!(Instant::now() < until, "the Clambake step never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancel = client
        .post(format!(
            "{api}/repos/clambake/demo/actions/runs/{hanging}/cancel"
        ))
        .bearer_auth(TOKEN)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", "runner-test")
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 202);
    let run = wait_until_completed(&fake, hanging).await;
    assert_eq!(run.conclusion, Some(Outcome::Cancelled), "{run:?}");
    assert_eq!(run.jobs[0].steps[2].conclusion, Some(Outcome::Cancelled));
    assert_eq!(
        run.jobs[0].steps[3].conclusion,
        Some(Outcome::Success),
        "if: always()"
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}
