//! Bundles checked before they are offered, end to end: `clambake bundle` opens a bundle,
//! checks its tip with `checks.command` on this machine, bisects it when it fails, sends each
//! culprit back to `route:ready` with the failing output, rebuilds the bundle without them and
//! checks it again, and returns with the verdict.

use std::path::PathBuf;

use rstest::rstest;
use serde_json::Value;

use crate::backend::Backend;
use crate::support::{TestRepo, write_script};

/// A repository whose bundles are checked by a script that fails when a `broken-*` file is in
/// the tree (and, `flaky`, on its very first run), counting its runs in `runs`.
struct Checked {
    repo: TestRepo,
    runs: PathBuf,
    _scripts: tempfile::TempDir,
}

fn checked(backend: Backend, flaky: bool) -> Checked {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    let scripts = tempfile::tempdir().unwrap();
    let runs = scripts.path().join("runs");
    let first = if flaky {
        format!(
            "[ -e {0}.first ] || {{ touch {0}.first; echo flaky; exit 1; }}\n",
            runs.display()
        )
    } else {
        String::new()
    };
    let script = write_script(
        scripts.path(),
        "checks.sh",
        &format!(
            "echo run >> {}\n{first}for f in broken-*; do [ -e \"$f\" ] && {{ echo \"found $f: FAILED\"; exit 1; }}; done\necho ok\n",
            runs.display()
        ),
    );
    repo.configure(&[
        ("checks.command", script.to_str().unwrap()),
        ("checks.bundles", "command"),
    ]);
    Checked {
        repo,
        runs,
        _scripts: scripts,
    }
}

impl Checked {
    /// Eight members landed, those in `broken` writing a `broken-*` file.
    fn land_eight(&self, broken: &[usize]) -> Vec<u64> {
        (1..=8)
            .map(|n| {
                let file = if broken.contains(&n) {
                    format!("broken-{n}.txt")
                } else {
                    format!("fine-{n}.txt")
                };
                self.repo
                    .landed_issue("agent001", &format!("work{n}"), &file, "x\n")
            })
            .collect()
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.runs)
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn bundle(&self) -> Value {
        self.repo
            .clambake(&["bundle", "--force", "--json"])
            .success()
            .json()
    }

    /// The one open bundle pull request.
    fn open_bundle(&self) -> Value {
        let open: Vec<Value> = self
            .repo
            .pull_requests()
            .into_iter()
            .filter(|pr| pr["state"] == "open")
            .collect();
        assert_eq!(open.len(), 1, "{open:?}");
        open[0].clone()
    }
}

fn closes(body: &str) -> Vec<u64> {
    body.lines()
        .filter_map(|l| l.strip_prefix("Closes #"))
        .map(|n| n.parse().unwrap())
        .collect()
}

#[rstest]
fn a_bundle_of_eight_with_one_broken_member_ends_as_seven_that_pass(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let checked = checked(backend, false);
    let issues = checked.land_eight(&[5]);
    let culprit = issues[4];
    let report = checked.bundle();
    assert_eq!(report["checking"], serde_json::json!([]), "{report}");
    let bundle = checked.open_bundle();
    let body = bundle["body"].as_str().unwrap();
    let kept: Vec<u64> = issues.iter().copied().filter(|i| *i != culprit).collect();
    assert_eq!(closes(body), kept, "{body}");
    assert!(!body.contains(r#""checking":true"#), "it passed: {body}");
    assert!(
        body.contains(&format!("- #{culprit} `agent001/{culprit}-work5`: `")),
        "{body}"
    );
    assert_eq!(checked.repo.labels_of(culprit), vec!["route:ready"]);
    let comment = checked.repo.last_comment_on(culprit);
    assert!(comment.contains("found broken-5.txt: FAILED"), "{comment}");
    for issue in &kept {
        assert_eq!(checked.repo.labels_of(*issue), vec!["route:bundled"]);
    }
    let runs = checked.runs();
    eprintln!("check runs for 8 with one culprit: {runs}");
    assert!(runs <= 7, "{runs} check runs");

    // Another train keeps it: the rebuilt bundle is consistent and the culprit stays out.
    checked.bundle();
    let again = checked.open_bundle();
    assert_eq!(again["number"], bundle["number"]);
    assert_eq!(closes(again["body"].as_str().unwrap()), kept);
    assert_eq!(checked.repo.labels_of(culprit), vec!["route:ready"]);
    assert_eq!(checked.runs(), runs, "nothing is checked twice");
}

#[rstest]
fn two_culprits_are_both_found(#[values(Backend::Local, Backend::Github)] backend: Backend) {
    let checked = checked(backend, false);
    let issues = checked.land_eight(&[2, 7]);
    checked.bundle();
    let body = checked.open_bundle()["body"].as_str().unwrap().to_owned();
    let kept: Vec<u64> = [0, 2, 3, 4, 5, 7].iter().map(|i| issues[*i]).collect();
    assert_eq!(closes(&body), kept, "{body}");
    assert!(!body.contains(r#""checking":true"#), "it passed: {body}");
    for culprit in [issues[1], issues[6]] {
        assert_eq!(checked.repo.labels_of(culprit), vec!["route:ready"]);
    }
}

#[rstest]
fn a_flaky_check_that_passes_on_rerun_blames_nobody(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let checked = checked(backend, true);
    let issues = checked.land_eight(&[]);
    checked.bundle();
    let body = checked.open_bundle()["body"].as_str().unwrap().to_owned();
    assert_eq!(closes(&body), issues, "{body}");
    for issue in &issues {
        assert_eq!(checked.repo.labels_of(*issue), vec!["route:bundled"]);
    }
    assert_eq!(checked.runs(), 2, "the bundle, and its rerun");
}
