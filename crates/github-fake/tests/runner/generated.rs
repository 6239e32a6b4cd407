//! The workflows Clambake generates, run as the fake's runner runs them: the Clambake step's
//! command line is the generated one, so a change on either side that breaks the other
//! breaks here.

use clambake_core::agents::remote::{OUT_DIR, artifact_name};
use clambake_core::config::Config;
use clambake_core::workflows::{agent_workflow, bundling_workflow};
use clambake_github_fake::runner_contract::Outcome;
use serde_json::json;

use crate::support::{Bench, TOKEN};

/// A stand-in `clambake` that writes its arguments, one a line, and the environment the
/// workflow gave it, then leaves an out directory as `agent remote-run` does.
const RECORDING_CLAMBAKE: &str = r#"
printf '%s\n' "$@" > "$RUNNER_TEMP/argv"
printf '%s\n' "GH_TOKEN=$GH_TOKEN" "GIT_AUTHOR_NAME=$GIT_AUTHOR_NAME" > "$RUNNER_TEMP/env"
mkdir -p clambake-agent-out && echo '{}' > clambake-agent-out/exit.json
"#;

fn lines(path: std::path::PathBuf) -> Vec<String> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_generated_agent_workflow_runs_remote_run_with_the_dispatched_inputs() {
    let bench = Bench::new();
    bench.command("clambake", RECORDING_CLAMBAKE);
    let yaml = agent_workflow(&Config::default(), "0.1.0");
    let inputs = [
        ("issue", json!("12")),
        ("slot", json!("agent001")),
        ("branch", json!("clambake/12-fix")),
        ("attempt", json!("2")),
        ("claim", json!("claim-7")),
        ("dispatch_key", json!("k-1")),
    ];
    let recorder = bench.run(&yaml, &inputs);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let temp = bench.config.work_root.join("run-7001/attempt/temp");
    assert_eq!(
        lines(temp.join("argv")),
        [
            "agent",
            "remote-run",
            "--issue",
            "12",
            "--slot",
            "agent001",
            "--branch",
            "clambake/12-fix",
            "--attempt",
            "2",
            "--claim",
            "claim-7",
            "--out",
            OUT_DIR,
        ]
    );
    assert_eq!(
        lines(temp.join("env")),
        [
            format!("GH_TOKEN={TOKEN}"),
            "GIT_AUTHOR_NAME=github-actions[bot]".to_string()
        ]
    );
    let names: Vec<String> = recorder
        .artifacts()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, [artifact_name(12, 2)]);
}

#[test]
fn the_generated_bundling_workflow_bundles_with_force_only_when_asked() {
    let bench = Bench::new();
    bench.command("clambake", RECORDING_CLAMBAKE);
    let yaml = bundling_workflow(&Config::default(), "0.1.0");
    let temp = bench.config.work_root.join("run-7001/bundle/temp");
    for (force, expected) in [
        (json!(true), vec!["bundle", "--force"]),
        (json!(false), vec!["bundle"]),
    ] {
        let recorder = bench.run(&yaml, &[("force_bundle", force.clone())]);
        assert_eq!(
            recorder.finished(),
            Outcome::Success,
            "{:#?}",
            recorder.events()
        );
        let argv = lines(temp.join("argv"));
        assert_eq!(argv[..argv.len() - 2], expected[..], "force_bundle {force}");
        assert_eq!(argv[argv.len() - 2], "--summary");
        assert!(argv[argv.len() - 1].starts_with(&temp.display().to_string()));
    }
}

#[test]
fn a_scheduled_bundling_run_has_no_inputs_and_so_no_force() {
    let bench = Bench::new();
    bench.command(
        "clambake",
        "printf '%s\\n' \"$@\" > \"$RUNNER_TEMP/argv\"\n\
         echo \"$GITHUB_EVENT_NAME $GITHUB_RUN_NUMBER\" > \"$RUNNER_TEMP/event\"\n",
    );
    let mut spec = bench.spec(&bundling_workflow(&Config::default(), "0.1.0"), &[]);
    spec.event = "schedule".to_string();
    let (recorder, _control) = bench.start_spec(spec);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let temp = bench.config.work_root.join("run-7001/bundle/temp");
    let argv = lines(temp.join("argv"));
    assert_eq!(argv[..2], ["bundle", "--summary"]);
    assert_eq!(lines(temp.join("event")), ["schedule 3"]);
}
