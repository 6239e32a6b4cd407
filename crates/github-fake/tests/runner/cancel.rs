//! Cancelling a run mid-step: SIGINT and SIGTERM go to the step's shell alone, as on GitHub,
//! then the step's whole process group is killed, even what ignores them; only `always()`
//! steps run after it, and all ends `cancelled`.

use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::Arc;

use clambake_github_fake::runner::WorkflowRunner;
use clambake_github_fake::runner_contract::{Outcome, Runner};

use crate::support::{Bench, Event, Recorder};

/// Whether the process is gone (or a zombie no one has reaped yet, which runs nothing).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Whether the process is gone within a few seconds: one killed may take a moment to exit
/// on a loaded machine, one left running never goes.
fn gone(pid: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while !is_gone(pid) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn wait_for_file(path: &Path) -> String {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text.trim().to_string();
        }
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cancelling_kills_the_step_group_and_runs_only_always_steps() {
    let bench = Bench::new();
    let pids = bench.dir.path().join("pids");
    let yaml = format!(
        r#"
on: workflow_dispatch
jobs:
  agent:
    steps:
      - id: clambake
        run: |
          trap '' INT TERM
          sleep 600 &
          echo "$$ $!" > {pids}
          wait
      - uses: actions/upload-artifact@v4
        with: {{ name: skipped, path: nothing, if-no-files-found: error }}
      - uses: actions/upload-artifact@v4
        if: always()
        with: {{ name: kept, path: nothing, if-no-files-found: ignore }}
  cleanup:
    if: always()
    steps:
      - id: clambake
        run: sleep 1 && echo "an always() job runs to its end"
  later:
    steps:
      - id: clambake
        run: echo never
"#,
        pids = pids.display()
    );
    let (recorder, control) = bench.start(&yaml, &[]);
    recorder.wait_for("the step started", |e| {
        matches!(e, Event::StepStarted(_, 0))
    });
    let written = wait_for_file(&pids);
    control.cancel();
    assert_eq!(recorder.finished(), Outcome::Cancelled);
    for pid in written.split_whitespace() {
        assert!(gone(pid), "process {pid} of the step is still running");
    }
    assert_eq!(recorder.step("agent", 0).0, Outcome::Cancelled);
    assert_eq!(recorder.step("agent", 1).0, Outcome::Skipped);
    assert_eq!(recorder.step("agent", 2).0, Outcome::Success);
    assert_eq!(recorder.job("agent"), Outcome::Cancelled);
    assert_eq!(
        recorder.step("cleanup", 0),
        (
            Outcome::Success,
            "an always() job runs to its end\n".to_string()
        )
    );
    assert_eq!(recorder.job("later"), Outcome::Skipped);
}

#[test]
fn a_dropped_runner_cancels_its_runs_and_waits_for_them() {
    let bench = Bench::new();
    let pids = bench.dir.path().join("pids");
    let yaml = format!(
        "on: workflow_dispatch\njobs:\n  agent:\n    steps:\n      - id: clambake\n        \
         run: sleep 600 & echo \"$!\" > {} && wait\n",
        pids.display()
    );
    let runner = WorkflowRunner::new(bench.config.clone());
    let recorder = Arc::new(Recorder::default());
    let _control = runner.start(bench.spec(&yaml, &[]), recorder.clone());
    let pid = wait_for_file(&pids);
    drop(runner);
    assert!(
        recorder
            .events()
            .contains(&Event::RunFinished(Outcome::Cancelled)),
        "{:#?}",
        recorder.events()
    );
    assert!(gone(&pid), "the step's sleep {pid} is still running");
}

/// Cancels a run whose step runs `command` (`sh` trapping SIGINT, perhaps behind `exec`),
/// and returns what the trap wrote: nothing if SIGINT never reached it.
fn cancel_a_trapping_command(exec: &str) -> String {
    let bench = Bench::new();
    let ready = bench.dir.path().join("ready");
    let heard = bench.dir.path().join("heard");
    let yaml = format!(
        r#"
on: workflow_dispatch
jobs:
  agent:
    steps:
      - id: clambake
        run: |
          {exec}sh -c 'trap "echo SIGINT > {heard}; exit 0" INT; echo > {ready}; while :; do sleep 0.05; done'
"#,
        heard = heard.display(),
        ready = ready.display()
    );
    let (recorder, control) = bench.start(&yaml, &[]);
    wait_for_file(&ready);
    control.cancel();
    assert_eq!(recorder.finished(), Outcome::Cancelled);
    std::fs::read_to_string(&heard).unwrap_or_default()
}

#[test]
fn a_cancel_signals_the_steps_shell_alone_as_github_does() {
    assert_eq!(cancel_a_trapping_command(""), "");
    assert_eq!(cancel_a_trapping_command("exec "), "SIGINT\n");
}
