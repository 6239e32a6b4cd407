//! Expressions as the bundling workflow uses them, what steps write back to the runner, and
//! an expression the fake cannot evaluate failing the step loudly.

use clambake_github_fake::runner_contract::Outcome;
use serde_json::json;

use crate::support::Bench;

const BUNDLING: &str = r##"
name: Clambake bundling
on:
  workflow_dispatch:
    inputs:
      force_bundle: { type: boolean, default: false }
      dispatch_key: { type: string, default: '' }
jobs:
  bundle:
    runs-on: ubuntu-latest
    defaults:
      run:
        shell: bash
    env:
      FORCED: ${{ github.event.inputs.force_bundle == 'true' }}
    steps:
      - uses: actions/checkout@v5
      - name: Bundle
        id: clambake
        run: |
          [[ -o pipefail ]] && echo "pipefail on"
          clambake bundle ${{ inputs.force_bundle && '--force' || '' }} --summary "$GITHUB_STEP_SUMMARY"
"##;

const FAKE_BUNDLE: &str = r###"
echo "clambake $* forced=$FORCED"
echo "## Plan" >> "${@: -1}"
"###;

#[test]
fn a_boolean_input_adds_force_only_when_true() {
    let bench = Bench::new();
    bench.command("clambake", FAKE_BUNDLE);
    for (given, expected) in [
        (json!("true"), "clambake bundle --force --summary "),
        (json!(false), "clambake bundle --summary "),
    ] {
        let recorder = bench.run(BUNDLING, &[("force_bundle", given.clone())]);
        assert_eq!(
            recorder.finished(),
            Outcome::Success,
            "{:#?}",
            recorder.events()
        );
        let (_, log) = recorder.step("bundle", 1);
        let (first, rest) = log.split_once('\n').unwrap();
        assert_eq!(first, "pipefail on", "shell: bash is pipefail");
        assert!(rest.starts_with(expected), "{given}: {log}");
        let forced = format!("forced={}", given == json!("true"));
        assert!(log.contains(&forced), "{log}");
        assert_eq!(recorder.summaries("bundle"), ["## Plan\n"]);
    }
}

const TALK_BACK: &str = r##"
on: workflow_dispatch
jobs:
  second:
    needs: first
    if: needs.first.result == 'success'
    steps:
      - id: clambake
        run: echo "second sees '$FROM_STEP'"
  first:
    steps:
      - id: clambake
        working-directory: ${{ runner.temp }}
        run: |
          echo "in $PWD"
          [[ -o pipefail ]] || echo "no pipefail without a shell"
          echo "FROM_STEP=hello" >> "$GITHUB_ENV"
          echo "answer=42" >> "$GITHUB_OUTPUT"
          echo "# First" >> "$GITHUB_STEP_SUMMARY"
          mkdir -p "$GITHUB_WORKSPACE/out" && echo x > "$GITHUB_WORKSPACE/out/x.txt"
      - uses: actions/upload-artifact@v4
        with:
          name: out-${{ steps.clambake.outputs.answer }}-${{ env.FROM_STEP }}
          path: |
            out
            missing
"##;

#[test]
fn env_output_and_summary_files_reach_later_steps_and_jobs_follow_needs() {
    let bench = Bench::new();
    let recorder = bench.run(TALK_BACK, &[]);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let (_, log) = recorder.step("first", 0);
    let temp = bench.config.work_root.join("run-7001/first/temp");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            format!("in {}", temp.display()).as_str(),
            "no pipefail without a shell"
        ]
    );
    let artifacts = recorder.artifacts();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].0, "out-42-hello");
    assert_eq!(artifacts[0].1, [("x.txt".to_string(), b"x\n".to_vec())]);
    assert_eq!(recorder.summaries("first"), ["# First\n"]);
    let (_, second) = recorder.step("second", 0);
    assert_eq!(
        second, "second sees ''\n",
        "a job's env does not cross to another job"
    );
    let started: Vec<String> = recorder
        .events()
        .into_iter()
        .filter_map(|event| match event {
            crate::support::Event::JobStarted(name, _) => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(started, ["first", "second"]);
}

#[test]
fn an_expression_the_fake_cannot_evaluate_fails_the_step_naming_it() {
    let bench = Bench::new();
    let marker = bench.dir.path().join("ran");
    bench.command("clambake", &format!("touch {}\n", marker.display()));
    let yaml = r##"
on:
  workflow_dispatch:
    inputs:
      issue: { type: string }
jobs:
  agent:
    steps:
      - id: clambake
        run: clambake --issue ${{ inputs.isue }}
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: ${{ vars.ARTIFACT }}
          path: out
"##;
    let recorder = bench.run(yaml, &[("issue", json!("3"))]);
    assert_eq!(recorder.finished(), Outcome::Failure);
    let (outcome, log) = recorder.step("agent", 0);
    assert_eq!(outcome, Outcome::Failure);
    assert!(log.contains("inputs.isue"), "{log}");
    assert!(
        !marker.exists(),
        "the step did not run with the expression left empty"
    );
    let (outcome, log) = recorder.step("agent", 1);
    assert_eq!(outcome, Outcome::Failure);
    assert!(log.contains("vars"), "{log}");
}

#[test]
fn a_token_secret_wins_over_the_run_token_and_is_masked() {
    let mut bench = Bench::new();
    bench
        .config
        .secrets
        .insert("CLAMBAKE_TOKEN".to_string(), "pat-secret-value".to_string());
    let bench = bench.rebuilt();
    let seen = bench.dir.path().join("seen");
    let yaml = format!(
        r##"
on: workflow_dispatch
jobs:
  bundle:
    steps:
      - id: clambake
        env:
          GH_TOKEN: ${{{{ secrets.CLAMBAKE_TOKEN || github.token }}}}
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
        run: |
          echo "$GH_TOKEN $GITHUB_TOKEN" > {seen}
          echo "gh $GH_TOKEN" && echo "# uses $GH_TOKEN" >> "$GITHUB_STEP_SUMMARY"
"##,
        seen = seen.display()
    );
    let recorder = bench.run(&yaml, &[]);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let written = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(
        written,
        format!("pat-secret-value {}\n", crate::support::TOKEN)
    );
    assert_eq!(recorder.step("bundle", 0).1, "gh ***\n");
    assert_eq!(recorder.summaries("bundle"), ["# uses ***\n"]);
}
