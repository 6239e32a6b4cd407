//! Conclusions as GitHub draws them: a failed step skips what follows but `always()` and
//! `failure()` steps, `continue-on-error`, and step and job timeouts that kill what runs.

use clambake_github_fake::runner_contract::Outcome;

use crate::support::Bench;

#[test]
fn a_failed_step_skips_the_rest_but_always_and_failure_steps() {
    let bench = Bench::new();
    let yaml = r#"
on: workflow_dispatch
jobs:
  fails:
    steps:
      - id: clambake
        run: |
          mkdir -p out && echo partial > out/log.txt
          echo "about to fail"
          exit 3
      - uses: actions/upload-artifact@v4
        with: { name: never, path: out }
      - uses: actions/upload-artifact@v4
        if: failure()
        with: { name: on-failure, path: out }
      - uses: actions/upload-artifact@v4
        if: ${{ always() }}
        with: { name: always, path: out }
      - uses: actions/upload-artifact@v4
        if: success()
        with: { name: on-success, path: out }
  shrugs:
    steps:
      - id: clambake
        continue-on-error: true
        run: exit 1
      - uses: actions/upload-artifact@v4
        with: { name: after-shrug, path: nothing-here, if-no-files-found: warn }
"#;
    let recorder = bench.run(yaml, &[]);
    assert_eq!(recorder.finished(), Outcome::Failure);
    let (outcome, log) = recorder.step("fails", 0);
    assert_eq!(outcome, Outcome::Failure);
    assert_eq!(
        log,
        "about to fail\n##[error]Process completed with exit code 3.\n"
    );
    let conclusions: Vec<Outcome> = (1..5).map(|i| recorder.step("fails", i).0).collect();
    assert_eq!(
        conclusions,
        [
            Outcome::Skipped,
            Outcome::Success,
            Outcome::Success,
            Outcome::Skipped
        ]
    );
    let names: Vec<String> = recorder
        .artifacts()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["on-failure", "always"]);
    assert_eq!(recorder.job("fails"), Outcome::Failure);

    assert_eq!(
        recorder.step("shrugs", 0).0,
        Outcome::Success,
        "continue-on-error"
    );
    let (outcome, log) = recorder.step("shrugs", 1);
    assert_eq!(outcome, Outcome::Success);
    assert!(log.contains("##[warning]No files were found"), "{log}");
    assert_eq!(recorder.job("shrugs"), Outcome::Success);
}

#[test]
fn step_and_job_timeouts_kill_what_runs_and_fail_the_job() {
    let bench = Bench::new();
    let yaml = r#"
on: workflow_dispatch
jobs:
  slow-step:
    steps:
      - id: clambake
        timeout-minutes: 0.02
        run: echo started; sleep 600
      - uses: actions/upload-artifact@v4
        if: always()
        with: { name: x, path: nothing, if-no-files-found: ignore }
  slow-job:
    timeout-minutes: 0.02
    steps:
      - id: clambake
        run: sleep 600
      - uses: actions/upload-artifact@v4
        if: always()
        with: { name: y, path: nothing, if-no-files-found: error }
"#;
    let recorder = bench.run(yaml, &[]);
    assert_eq!(recorder.finished(), Outcome::Failure);
    let (outcome, log) = recorder.step("slow-step", 0);
    assert_eq!(outcome, Outcome::Failure);
    assert_eq!(log, "started\n##[error]The step has timed out.\n");
    assert_eq!(recorder.step("slow-step", 1).0, Outcome::Success);
    assert_eq!(recorder.job("slow-step"), Outcome::Failure);

    let (outcome, log) = recorder.step("slow-job", 0);
    assert_eq!(outcome, Outcome::Cancelled, "{log}");
    assert!(log.contains("exceeded its timeout-minutes"), "{log}");
    let (outcome, log) = recorder.step("slow-job", 1);
    assert_eq!(outcome, Outcome::Failure, "if-no-files-found: error");
    assert!(log.contains("No files were found"), "{log}");
    assert_eq!(recorder.job("slow-job"), Outcome::Failure);
}

#[test]
fn a_job_using_what_the_fake_does_not_emulate_fails_saying_so() {
    let bench = Bench::new();
    let yaml = "on: workflow_dispatch\njobs:\n  matrix:\n    strategy:\n      matrix:\n        \
                os: [a, b]\n    steps:\n      - id: clambake\n        run: echo never\n";
    let recorder = bench.run(yaml, &[]);
    assert_eq!(recorder.finished(), Outcome::Failure);
    assert_eq!(recorder.job_steps("matrix"), ["Set up job"]);
    let (outcome, log) = recorder.step("matrix", 0);
    assert_eq!(outcome, Outcome::Failure);
    assert!(log.contains("does not emulate strategy"), "{log}");
}

/// Reaps, as Clambake's agent host does for its agents' orphans, every zombie child of this
/// process outside its own process group, until dropped.
struct OrphanReaper(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl OrphanReaper {
    fn start() -> OrphanReaper {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            let me = std::process::id().to_string();
            let ours = nix::unistd::getpgrp().as_raw().to_string();
            while !stopping.load(Ordering::SeqCst) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                        continue;
                    };
                    let Some((head, rest)) = stat.rsplit_once(") ") else {
                        continue;
                    };
                    let fields: Vec<&str> = rest.split(' ').collect();
                    if fields[0] == "Z" && fields[1] == me && fields[2] != ours {
                        let pid: i32 = head.split(' ').next().unwrap().parse().unwrap();
                        let pid = nix::unistd::Pid::from_raw(pid);
                        let _ = nix::sys::wait::waitpid(
                            pid,
                            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                        );
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        OrphanReaper(stop)
    }
}

impl Drop for OrphanReaper {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_step_keeps_its_status_in_a_process_that_reaps_orphans_of_other_groups() {
    let _reaper = OrphanReaper::start();
    let bench = Bench::new();
    let yaml = r#"
on: workflow_dispatch
jobs:
  passes:
    steps:
      - id: clambake
        run: sleep 0.3; echo done
  fails:
    needs: passes
    steps:
      - id: clambake
        run: sleep 0.3; exit 3
"#;
    let recorder = bench.run(yaml, &[]);
    assert_eq!(
        recorder.step("passes", 0),
        (Outcome::Success, "done\n".to_owned())
    );
    assert_eq!(recorder.step("fails", 0).0, Outcome::Failure);
}
