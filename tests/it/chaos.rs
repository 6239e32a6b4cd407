//! Chaos: a real `clambake run` on a 30-issue workload, SIGKILLed at random moments and
//! restarted, with a reviewer merging pull requests in between. Real `command` agents (shell
//! scripts in their own process groups) outlive each killed run and are re-adopted.
//!
//! The schedule is drawn from one seeded generator: when each run is killed, how long the
//! agents then go unwatched, and whether the reviewer merges after a kill. Nothing else in it
//! is random (the agents' pauses follow from their issue numbers, and Clambake draws no random
//! numbers), so the seed fixes the whole schedule. Each test prints its seed when it starts and
//! again when it fails; `CLAMBAKE_CHAOS_SEED=<seed> cargo test --test it chaos` replays that
//! schedule. What a seed cannot fix is the machine's speed: where in the work a kill lands
//! depends on how far the run got by then, so a replay repeats the schedule, not every
//! interleaving.
//!
//! A second test kills the run while silent agents (no result event, only an exit status)
//! finish with nobody watching them: none of their successes may be counted as a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use clambake::core::text::closing::closed_issues;

use crate::support::{TestRepo, processes, write_script};

const ISSUES: u64 = 30;
const KILLS: usize = 20;

/// The agent: announces itself, takes a per-issue lock, sleeps a little, commits a file of its
/// own (every fourth issue also appends to `shared.txt`, so trains meet conflicts), records the
/// commit, then succeeds, or fails: issues 7, 17, 27 always (with their work committed), issues
/// 5, 11, 23 and 29 on their first attempt only.
///
/// The lock names its holder from the moment it exists (a directory with the holder's pid,
/// renamed into place), and the holder's exit lets go of it whenever a signal comes (a stray
/// Clambake stops may be signalled as it exits, once: the exit then still lets go). Finding it
/// taken, an agent records a double claim if its holder still works on the issue, and else
/// that the holder ended without letting go (it was killed outright), taking it over.
fn agent_script(dir: &Path) -> PathBuf {
    let at = |name: &str| dir.join(name).display().to_string();
    let (locks, counts, shas) = (at("locks"), at("counts"), at("shas"));
    let (doubles, unreleased) = (at("doubles"), at("unreleased"));
    std::fs::create_dir_all(&locks).unwrap();
    std::fs::create_dir_all(&counts).unwrap();
    write_script(
        dir,
        "chaos-agent.sh",
        &format!(
            r##"issue=$1
lock={locks}/$issue
trap 'trap "" TERM INT; read mine 2>/dev/null < $lock/pid; [ "$mine" = $$ ] && {{ rm -r $lock || rm -r $lock; }}; rm -rf {locks}/.$$' EXIT
trap 'exit 143' TERM INT
echo '{{"type":"system","subtype":"init","session_id":"s"}}'
take() {{ rm -rf {locks}/.$$ && mkdir {locks}/.$$ && echo $$ > {locks}/.$$/pid && mv -T {locks}/.$$ $lock 2>/dev/null; }}
if ! take; then
  holder=$(cat $lock/pid 2>/dev/null)
  if [ -z "$holder" ] || {{ tr '\0' ' ' < /proc/$holder/cmdline; }} 2>/dev/null | grep -q "chaos-agent.sh $issue"; then
    echo "#$issue: agent $$ started while agent $holder worked on it: $(ps -o pid,ppid,pgid,stat,args -p $holder | tail -n +2), in $(readlink /proc/$holder/cwd)" >> {doubles}
  else
    echo "#$issue: agent $holder ended without letting go of the issue; agent $$ took it over" >> {unreleased}
    rm -r $lock; take
  fi
fi
sleep 0.$(( issue * 7 % 4 + 1 ))
attempt=$(( $(cat {counts}/$issue 2>/dev/null || echo 0) + 1 ))
echo $attempt > {counts}/$issue
echo "issue $issue, attempt $attempt" > work-$issue.txt
if [ $(( issue % 4 )) -eq 0 ]; then echo "issue $issue" >> shared.txt; fi
git add -A && git commit -qm "Work on #$issue (attempt $attempt)" && git rev-parse HEAD >> {shas}
if [ $(( issue % 10 )) -eq 7 ] || {{ [ $(( issue % 6 )) -eq 5 ] && [ $attempt -eq 1 ]; }}; then
  echo '{{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":1}}'
  exit 1
fi
echo '{{"type":"result","subtype":"success","is_error":false,"num_turns":1}}'
"##
        ),
    )
}

/// Starts `clambake run` in the background, with no `CLAMBAKE_*` variables from outside; what
/// it says on stderr goes to `stderr`.
fn start_run(repo: &TestRepo, args: &[&str], stderr: Stdio) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
    command
        .current_dir(repo.path())
        .arg("run")
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, _) in std::env::vars() {
        if key.starts_with("CLAMBAKE_") {
            command.env_remove(key);
        }
    }
    command.spawn().unwrap()
}

/// The agent labels on open issues, read straight from the local forge's database.
fn claims(repo: &TestRepo) -> Vec<(u64, String)> {
    let forge = rusqlite::Connection::open_with_flags(
        repo.path().join(".clambake/forge.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    forge.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut query = forge
        .prepare(
            "SELECT l.issue, l.label FROM issue_labels l JOIN issues i ON i.number = l.issue
             WHERE i.state = 'open' AND l.label GLOB 'agent[0-9][0-9][0-9]'",
        )
        .unwrap();
    query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Fails if an issue carries two agent labels, or an agent label sits on two issues.
fn assert_single_claims(repo: &TestRepo, when: &str) {
    let claims = claims(repo);
    let mut by_issue: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (issue, agent) in &claims {
        by_issue.entry(*issue).or_default().push(agent);
        by_agent.entry(agent).or_default().push(*issue);
    }
    for (issue, agents) in by_issue {
        assert_eq!(agents.len(), 1, "{when}: #{issue} claimed by {agents:?}");
    }
    for (agent, issues) in by_agent {
        assert_eq!(issues.len(), 1, "{when}: {agent} claims {issues:?}");
    }
}

/// Live agent processes: running the script, or working under the agents' worktrees.
fn agent_processes(repo: &TestRepo, script: &Path) -> Vec<String> {
    let worktrees = repo.path().join(".clambake/worktrees");
    let script = script.display().to_string();
    processes()
        .into_iter()
        .filter(|(pid, _, cmdline)| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            cmdline.contains(&script) || cwd.starts_with(&worktrees)
        })
        .map(|(pid, _, cmdline)| format!("{pid} {cmdline}"))
        .collect()
}

/// The reviewer merges every open pull request. One that conflicts with `main` is brought up
/// to date first the way a person would: `main` merged into its head, both sides of each
/// conflicting file kept.
fn review(repo: &TestRepo, scratch: &Path) {
    for pr in repo.pull_requests() {
        if pr["state"] != "open" {
            continue;
        }
        let number = pr["number"].to_string();
        if repo.clambake(&["pr", "merge", &number]).code == 0 {
            continue;
        }
        let head = pr["head"].as_str().unwrap();
        let tree = scratch.join(format!("review-{number}"));
        let tree_arg = tree.to_str().unwrap();
        repo.git(&["worktree", "add", "-q", "--detach", tree_arg, head]);
        let tree_git = |args: &[&str]| {
            let mut all = vec!["-C", tree_arg];
            all.extend(args);
            Command::new("git")
                .args(&all)
                .env("GIT_AUTHOR_NAME", "Reviewer")
                .env("GIT_AUTHOR_EMAIL", "reviewer@example.com")
                .env("GIT_COMMITTER_NAME", "Reviewer")
                .env("GIT_COMMITTER_EMAIL", "reviewer@example.com")
                .output()
                .unwrap()
        };
        if !tree_git(&["merge", "-q", "--no-edit", "main"])
            .status
            .success()
        {
            let conflicted = tree_git(&["diff", "--name-only", "--diff-filter=U"]);
            for file in String::from_utf8_lossy(&conflicted.stdout).lines() {
                let path = tree.join(file);
                let kept: String = std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .filter(|l| {
                        !["<<<<<<<", "=======", ">>>>>>>"]
                            .iter()
                            .any(|m| l.starts_with(m))
                    })
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(&path, kept).unwrap();
            }
            assert!(
                tree_git(&["commit", "-qam", "Merge main, keeping both sides"])
                    .status
                    .success()
            );
        }
        let resolved = String::from_utf8_lossy(&tree_git(&["rev-parse", "HEAD"]).stdout)
            .trim()
            .to_owned();
        repo.git(&["update-ref", &format!("refs/heads/{head}"), &resolved]);
        repo.git(&["worktree", "remove", "--force", tree_arg]);
        repo.clambake(&["pr", "merge", &number]).success();
    }
}

#[test]
fn killed_and_restarted_runs_lose_nothing_and_double_nothing() {
    let (mut rng, seed) = schedule();
    let started = Instant::now();

    let repo = TestRepo::new();
    repo.write("shared.txt", "shared by every fourth issue\n");
    repo.commit_all("a file the agents fight over");
    repo.clambake(&["init", "--agents", "4"]).success();
    let outside = tempfile::tempdir().unwrap();
    let script = agent_script(outside.path());
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        ("agents.command", format!("{} {{issue}}", script.display())),
        ("agents.max_attempts", "3".to_owned()),
        ("agents.retry_backoff_seconds", "0".to_owned()),
        ("agents.cleanup_on_failure", "true".to_owned()),
        ("bundling.trigger", "on_land".to_owned()),
    ]);
    for n in 1..=ISSUES {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Chaos task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }

    for kill in 1..=KILLS {
        let mut run = start_run(&repo, &[], Stdio::null());
        let moment = Duration::from_millis(rng.random_range(150..1500));
        let deadline = Instant::now() + moment;
        while Instant::now() < deadline {
            assert_single_claims(&repo, &format!("during run {kill}"));
            std::thread::sleep(Duration::from_millis(25));
        }
        run.kill().unwrap();
        run.wait().unwrap();
        assert_single_claims(&repo, &format!("after kill {kill} at {moment:?}"));
        if rng.random_bool(0.3) {
            review(&repo, outside.path());
        }
    }

    let log = outside.path().join("final-run.log");
    let mut last = start_run(
        &repo,
        &["--until-idle"],
        std::fs::File::create(&log).unwrap().into(),
    );
    while last.try_wait().unwrap().is_none() {
        assert_single_claims(&repo, "during the final run");
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        last.wait().unwrap().success(),
        "the final run failed: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    // The reviewer merges what the trains sent, then a run sends what no longer waits: a branch
    // that conflicts with an open pull request waits for it, with no pull request of its own,
    // so it leaves only in the train after that review. A round that finds pull requests open
    // merges them, closing at least one issue, so there are at most as many rounds as issues.
    let reviews = (1..=ISSUES).find(|_| {
        review(&repo, outside.path());
        repo.clambake(&["run", "--until-idle"]).success();
        repo.pull_requests().iter().all(|pr| pr["state"] != "open")
    });
    let reviews = reviews.expect("pull requests still open after a review per issue");

    let read = |name: &str| std::fs::read_to_string(outside.path().join(name)).unwrap_or_default();
    let doubles = read("doubles");
    assert!(
        doubles.is_empty(),
        "two live agents on one issue: {doubles}"
    );
    // Clambake asks an agent to stop, and kills it only after a grace it never runs out here.
    let unreleased = read("unreleased");
    assert!(
        unreleased.is_empty(),
        "agents killed outright: {unreleased}"
    );

    // Every issue merged, or failed with its work on a branch or an archive ref.
    let refs = repo.git(&["for-each-ref", "--format=%(refname)"]);
    let issues = repo
        .clambake(&["issue", "list", "--state", "all", "--json"])
        .success()
        .json();
    let mut failed = BTreeSet::new();
    for issue in issues.as_array().unwrap() {
        let number = issue["number"].as_u64().unwrap();
        if issue["state"] == "closed" {
            continue;
        }
        assert_eq!(
            issue["labels"],
            serde_json::json!(["route:failed"]),
            "#{number} is neither merged nor failed; pull requests: {:#?}",
            repo.pull_requests()
                .iter()
                .map(|pr| format!("#{} {} {}", pr["number"], pr["state"], pr["head"]))
                .collect::<Vec<_>>()
        );
        let prefix = format!("/{number}-chaos-task-{number}");
        let kept: Vec<&str> = refs.lines().filter(|r| r.contains(&prefix)).collect();
        assert!(
            kept.iter().any(|r| !repo
                .git(&["rev-list", "--count", &format!("main..{r}")])
                .starts_with('0')),
            "#{number} failed without its work: {kept:?}"
        );
        failed.insert(number);
    }
    // When a kill loses an attempt's verdict, its work is retried, never landed unjudged.
    assert_eq!(
        failed,
        BTreeSet::from([7, 17, 27]),
        "exactly the always-failing issues fail"
    );

    // No agent commit lost: each is reachable from some ref.
    let reachable: BTreeSet<String> = repo
        .git(&["rev-list", "--all"])
        .lines()
        .map(str::to_owned)
        .collect();
    let shas = std::fs::read_to_string(outside.path().join("shas")).unwrap();
    let lost: Vec<&str> = shas.lines().filter(|s| !reachable.contains(*s)).collect();
    assert!(lost.is_empty(), "agent commits lost: {lost:?}");
    assert!(shas.lines().count() >= ISSUES as usize, "{shas}");

    // No duplicated pull request: one per head, and each merged issue closed by exactly one.
    let prs = repo.pull_requests();
    let mut heads = BTreeSet::new();
    for pr in &prs {
        assert!(
            heads.insert(pr["head"].to_string()),
            "two pull requests from {}",
            pr["head"]
        );
    }
    for number in (1..=ISSUES).filter(|n| !failed.contains(n)) {
        let closing: Vec<_> = prs
            .iter()
            .filter(|pr| pr["state"] == "merged")
            .filter(|pr| closed_issues(pr["body"].as_str().unwrap()).contains(&number))
            .map(|pr| pr["number"].clone())
            .collect();
        assert_eq!(closing.len(), 1, "#{number} closed by {closing:?}");
    }

    // Nothing left behind.
    let left = agent_processes(&repo, &script);
    assert!(left.is_empty(), "agent processes left: {left:?}");
    let worktrees = repo.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");

    eprintln!(
        "chaos seed {seed}: {KILLS} kills, {} pull requests, {reviews} final reviews, done in {:?}",
        prs.len(),
        started.elapsed()
    );
}

/// The schedule's generator, seeded by `CLAMBAKE_CHAOS_SEED` or else the clock, and the seed,
/// printed now and, by the [`Seed`] when it is dropped, again if the test fails.
fn schedule() -> (StdRng, Seed) {
    let seed = std::env::var("CLAMBAKE_CHAOS_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |seed| seed.parse().expect("CLAMBAKE_CHAOS_SEED is a number"),
    );
    eprintln!("chaos seed {seed}: replay with CLAMBAKE_CHAOS_SEED={seed}");
    (StdRng::seed_from_u64(seed), Seed(seed))
}

/// A chaos test's seed: it says it again when the test fails, under the failure's message.
struct Seed(u64);

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let seed = self.0;
            eprintln!(
                "chaos seed {seed} failed: replay its schedule with CLAMBAKE_CHAOS_SEED={seed}"
            );
        }
    }
}

impl std::fmt::Display for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

const SILENT_ISSUES: u64 = 12;
const SILENT_KILLS: usize = 20;

/// A plain command agent: no events at all, only its exit status says how it went. It works
/// a little (long enough to outlive a run killed meanwhile), commits, records its success in
/// `succeeded` and exits 0; issues 5 and 10 always fail (exit 1, their work committed).
fn silent_agent_script(dir: &Path) -> PathBuf {
    let succeeded = dir.join("succeeded").display().to_string();
    write_script(
        dir,
        "silent-agent.sh",
        &format!(
            r#"issue=$1
sleep 0.$(( issue * 3 % 5 + 2 ))
echo "issue $issue, pid $$" > work-$issue.txt
git add -A && git commit -qm "Work on #$issue"
if [ $(( issue % 5 )) -eq 0 ]; then exit 1; fi
echo $issue >> {succeeded}
"#
        ),
    )
}

#[test]
fn agents_that_succeed_while_no_run_watches_never_end_failed() {
    let (mut rng, seed) = schedule();
    let started = Instant::now();

    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "4"]).success();
    let outside = tempfile::tempdir().unwrap();
    let script = silent_agent_script(outside.path());
    repo.configure(&[
        ("agents.runtime", "command".to_owned()),
        ("agents.command", format!("{} {{issue}}", script.display())),
        ("agents.max_attempts", "3".to_owned()),
        ("agents.retry_backoff_seconds", "0".to_owned()),
        ("bundling.trigger", "manual".to_owned()),
    ]);
    for n in 1..=SILENT_ISSUES {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            &format!("Silent task {n}"),
            "--label",
            "route:ready",
        ])
        .success();
    }

    let mut runs = BTreeSet::new();
    for kill in 1..=SILENT_KILLS {
        let mut run = start_run(&repo, &[], Stdio::null());
        runs.insert(run.id());
        std::thread::sleep(Duration::from_millis(rng.random_range(100..700)));
        run.kill().unwrap();
        run.wait().unwrap();
        assert_single_claims(&repo, &format!("after kill {kill}"));
        // The agents work on, and some finish, with no run watching.
        std::thread::sleep(Duration::from_millis(rng.random_range(0..500)));
    }
    repo.clambake(&["run", "--until-idle"]).success();

    let succeeded: BTreeSet<u64> = std::fs::read_to_string(outside.path().join("succeeded"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut failed = BTreeSet::new();
    for number in 1..=SILENT_ISSUES {
        match repo.labels_of(number).as_slice() {
            [label] if label == "route:failed" => {
                failed.insert(number);
            }
            [label] if label == "route:review" || label == "route:bundled" => {}
            labels => panic!("#{number} is neither landed nor failed: {labels:?}"),
        }
    }
    let wrongly_failed: Vec<&u64> = failed.intersection(&succeeded).collect();
    assert!(
        wrongly_failed.is_empty(),
        "issues whose agent succeeded ended failed: {wrongly_failed:?}"
    );
    assert_eq!(
        failed,
        BTreeSet::from([5, 10]),
        "exactly the always-failing issues fail"
    );
    let left = agent_processes(&repo, &script);
    assert!(left.is_empty(), "agent processes left: {left:?}");
    let cgroups = attempt_cgroups_made_by(&runs);
    assert!(cgroups.is_empty(), "attempt cgroups left: {cgroups:?}");
    eprintln!(
        "chaos seed {seed}: {SILENT_KILLS} kills of silent agents, done in {:?}",
        started.elapsed()
    );
}

/// The attempt cgroups beside ours (where `clambake run`, our child, makes them) that one of
/// `makers` made.
fn attempt_cgroups_made_by(makers: &BTreeSet<u32>) -> Vec<PathBuf> {
    use clambake::core::agents::containment::{cgroup_dir, cgroup_maker, own_cgroup};
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let Some(parent) = own_cgroup(&ours).and_then(|c| cgroup_dir(&mountinfo, c)) else {
        return Vec::new();
    };
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| {
            dir.file_name()
                .and_then(|n| n.to_str())
                .and_then(cgroup_maker)
                .is_some_and(|maker| makers.contains(&maker))
        })
        .collect()
}
