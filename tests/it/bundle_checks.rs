//! Bundles checked before they are offered, end to end: `clambake bundle` opens a bundle,
//! checks its tip with `checks.command` on this machine, bisects it when it fails, sends each
//! culprit back to `route:ready` with the failing output, rebuilds the bundle without them and
//! checks it again, and returns with the verdict.

use std::path::PathBuf;

use clambake::core::forge_text::issue_list;
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
    // The journal kept each step, and `bundle --status` shows them.
    let status = checked
        .repo
        .clambake(&["bundle", "--status"])
        .success()
        .stdout;
    let number = &bundle["number"];
    let all = issue_list(&issues);
    for line in [
        format!("checks of #{number}:"),
        format!("1. {all} on the base (the whole bundle) on "),
        format!("2. {all} on the base (a rerun, in case it was flaky) on "),
        "(a part on the parts before it) on ".to_owned(),
        format!("verdict: #{culprit} to blame, "),
        format!("rebuilt without #{culprit}, with "),
        format!("verdict: passed, with {}", issue_list(&kept)),
    ] {
        assert!(status.contains(&line), "{line:?} in:\n{status}");
    }
    assert!(!status.contains(": running"), "{status}");
    let json = checked
        .repo
        .clambake(&["bundle", "--status", "--json"])
        .success()
        .json();
    let events = json["open_bundles"][0]["checks"]
        .as_array()
        .unwrap()
        .clone();
    let steps = |members: &[u64]| {
        events
            .iter()
            .filter(|e| {
                e["event"]["kind"] == "checked" && e["members"] == serde_json::json!(members)
            })
            .count()
    };
    // The rebuilt bundle is the bisection's last trial, whose result is known: no new run.
    assert_eq!(steps(&issues), runs, "each check run is a step: {events:?}");
    assert_eq!(steps(&kept), 1, "{events:?}");

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

/// `checks.bundles = "forge"` on GitHub: the bundle's trials are pushed as
/// `clambake/checks/<name>` for the CI (the fake's, failing on a tree with a `broken-*` file),
/// the bundle is bisected on its check runs, rebuilt without the culprit and offered once its
/// CI passes.
#[test]
fn on_github_the_forges_ci_is_bisected_and_a_passing_ci_offers_the_bundle() {
    use std::sync::{Arc, Mutex};
    let repo = TestRepo::on(Backend::Github);
    repo.init(&[]).success();
    repo.configure(&[("checks.bundles", "forge")]);
    let pushed = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = pushed.clone();
    repo.github().unwrap().fake.set_ci(move |commit| {
        let branch = commit
            .branches
            .iter()
            .find(|b| b.starts_with("clambake/checks/"))?;
        seen.lock().unwrap().push(branch.clone());
        let files = std::process::Command::new("git")
            .arg("-C")
            .arg(&commit.repo)
            .args(["ls-tree", "--name-only", &commit.sha])
            .output()
            .unwrap();
        let broken = String::from_utf8_lossy(&files.stdout)
            .lines()
            .any(|f| f.starts_with("broken-"));
        Some(clambake_github_fake::CiVerdict {
            text: "test works ... FAILED".to_owned(),
            pending_reads: 1,
            ..clambake_github_fake::CiVerdict::new(
                "test",
                if broken { "failure" } else { "success" },
            )
        })
    });
    let issues: Vec<u64> = (1..=4)
        .map(|n| {
            let file = if n == 3 { "broken" } else { "fine" };
            repo.landed_issue(
                "agent001",
                &format!("work{n}"),
                &format!("{file}-{n}.txt"),
                "x\n",
            )
        })
        .collect();
    let culprit = issues[2];
    let first = repo
        .clambake(&["bundle", "--force", "--json"])
        .success()
        .json();
    assert_eq!(first["bundles"].as_array().unwrap().len(), 1, "{first}");
    // Each run of the train looks at the CI once; the bisection moves on as check runs end.
    crate::support::wait_for("the bundle's CI to pass", || {
        let report = repo.clambake(&["bundle", "--json"]).success().json();
        report["checking"] == serde_json::json!([])
    });
    let open: Vec<Value> = repo
        .pull_requests()
        .into_iter()
        .filter(|pr| pr["state"] == "open")
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    let body = open[0]["body"].as_str().unwrap();
    let kept: Vec<u64> = issues.iter().copied().filter(|i| *i != culprit).collect();
    assert_eq!(closes(body), kept, "{body}");
    assert!(!body.contains(r#""checking":true"#), "offered: {body}");
    assert_eq!(repo.labels_of(culprit), vec!["route:ready"]);
    assert!(
        repo.last_comment_on(culprit)
            .contains("test works ... FAILED")
    );
    for issue in &kept {
        assert_eq!(repo.labels_of(*issue), vec!["route:bundled"]);
    }
    let pushed = pushed.lock().unwrap().clone();
    assert!(
        pushed.len() >= 4,
        "the bundle, its rerun and parts: {pushed:?}"
    );
    for branch in &pushed {
        assert_eq!(repo.origin_tip(branch), None, "{branch} deleted once final");
    }
    let status = repo.clambake(&["bundle", "--status"]).success().stdout;
    assert!(
        status.contains(&format!("verdict: #{culprit} to blame")),
        "{status}"
    );
}
