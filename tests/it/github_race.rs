//! Two orchestrators on one GitHub repository, as two machines would be: two `clambake run`
//! processes, each in its own clone of the GitHub fake's repository, with the same slot names,
//! claim from one queue. Each issue is worked exactly once; killing one of them (SIGKILL, its
//! agent with it) in the middle of an attempt whose agent had committed leaves its claim to the
//! other, which takes it over once the dead one has been silent past
//! `recovery.max_stuck_time_minutes` (a quarter of a minute here), continues from the commit
//! published to origin, and counts its attempt after the dead one's. Two machines given one
//! orchestrator id tell each other apart by their signs of life, and the one started second stops. Every request
//! stays within GitHub's OpenAPI description.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clambake::core::queue::claims::{ClaimRecord, ClaimState, claim_ref};
use clambake_github_fake::{FakeGithub, Options};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::github_support::init_command;
use crate::support::{CliOutput, PATIENCE, clambake_in_env, wait_for, write_script};

/// Quick issues: their agent commits and ends at once.
const QUICK: usize = 3;

/// `recovery.max_stuck_time_minutes`, as the machines are configured: a claim whose
/// orchestrator has been silent longer is taken over.
const SILENCE: Duration = Duration::from_secs(15);

/// What both machines' clambake.toml says before `init` adds the repository: a quick poll, a
/// quarter of a minute's silence, mutations not spaced a second apart as on GitHub (the fake
/// needs none of that), retries at once, trains only when idle.
const CONFIG: &str = "[github]\nmutation_interval_ms = 0\n\
                      [forge]\npoll_interval_seconds = 1\n\
                      [recovery]\nmax_stuck_time_minutes = 0.25\n\
                      [agents]\nretry_backoff_seconds = 0\n\
                      [bundling]\ntrigger = \"manual\"\n";

/// One machine: a clone of origin whose orchestrator has its own id.
struct Machine {
    id: &'static str,
    clone: TempDir,
    token: String,
}

impl Machine {
    fn path(&self) -> &Path {
        self.clone.path()
    }

    fn clambake(&self, args: &[&str]) -> CliOutput {
        clambake_in_env(self.path(), args, &[("GH_TOKEN", &self.token)])
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// `clambake run` with `args` in the background, in a process group of its own so that
    /// a kill takes the git processes it started with it, as a machine's death would.
    fn run(&self, args: &[&str]) -> Child {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
        command
            .current_dir(self.path())
            .arg("run")
            .args(args)
            .env("NO_COLOR", "1")
            .env("CLAMBAKE_LOG", "clambake=info")
            .env("GH_TOKEN", &self.token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path().join("run.log")).unwrap())
            .process_group(0);
        for (key, _) in std::env::vars() {
            if key.starts_with("CLAMBAKE_") {
                command.env_remove(key);
            }
        }
        command.spawn().unwrap()
    }

    fn run_log(&self) -> String {
        std::fs::read_to_string(self.path().join("run.log")).unwrap_or_default()
    }
}

impl Machine {
    /// A clone of `fake`'s repository, initialised for the GitHub backend with two slots, as
    /// orchestrator `id`, configured as [`CONFIG`] says.
    fn new(fake: &FakeGithub, id: &'static str) -> Self {
        let clone = tempfile::tempdir().unwrap();
        git_in(clone.path(), &["clone", "-q", &fake.origin_url(), "."]);
        git_in(clone.path(), &["config", "user.name", id]);
        git_in(clone.path(), &["config", "user.email", "agent@example.com"]);
        std::fs::write(clone.path().join("clambake.toml"), CONFIG).unwrap();
        let machine = Machine {
            id,
            clone,
            token: fake.token(),
        };
        let init = init_command(fake, 2);
        machine
            .clambake(&init.iter().map(String::as_str).collect::<Vec<_>>())
            .success();
        machine
            .clambake(&["config", "set", "orchestrator.id", id])
            .success();
        machine
    }
}

/// The GitHub fake, its bare repository seeded with a first commit on `main`.
async fn seeded_fake(dir: &Path) -> FakeGithub {
    let mut options = Options::new(dir.join("origin.git"));
    options.rate_limit = 1_000_000;
    let fake = FakeGithub::start(options).await.unwrap();
    let seed = crate::support::TestRepo::new();
    seed.git(&["remote", "add", "origin", &fake.origin_url()]);
    seed.git(&["push", "-q", "origin", "main"]);
    fake
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The agent both machines run, `agent.sh <orchestrator> <issue>`: it notes who worked which
/// issue in `log`, commits, and ends; on `held`, a first attempt commits half the work, notes
/// its pid and waits, and an attempt that finds that half commits the rest and ends.
fn agent_script(dir: &Path, log: &Path, held: u64) -> PathBuf {
    write_script(
        dir,
        "agent.sh",
        &format!(
            "set -e\n\
             echo \"$2 $1\" >> '{log}'\n\
             if [ \"$2\" != {held} ]; then\n\
             \x20 echo \"work on $2\" > \"work-$2.txt\"\n\
             \x20 git add . && git commit -q -m \"Work on #$2\"\n\
             \x20 exit 0\n\
             fi\n\
             if [ -e first-half.txt ]; then\n\
             \x20 echo second > second-half.txt\n\
             \x20 git add . && git commit -q -m 'Second half'\n\
             \x20 exit 0\n\
             fi\n\
             echo first > first-half.txt\n\
             git add . && git commit -q -m 'First half'\n\
             echo $$ > '{dir}/held-{held}.pid'\n\
             exec sleep 600\n",
            log = log.display(),
            dir = dir.display(),
        ),
    )
}

/// The record at the tip of `issue`'s claim chain on origin, and the chain's records from the
/// first.
fn claim_chain(origin: &Path, issue: u64) -> Vec<ClaimRecord> {
    let reference = claim_ref(issue);
    let log = git_in(origin, &["log", "--reverse", "--format=%B%x00", &reference]);
    log.split('\0')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| ClaimRecord::parse(m).unwrap_or_else(|| panic!("not a claim record: {m}")))
        .collect()
}

/// The agent branch of `issue` on origin and its tip.
fn branch_on_origin(origin: &Path, issue: u64) -> Option<(String, String)> {
    let listed = git_in(
        origin,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads/",
        ],
    );
    listed.lines().find_map(|line| {
        let (name, tip) = line.split_once(' ')?;
        let rest = name.split_once('/')?.1;
        (rest.split_once('-')?.0 == issue.to_string()).then(|| (name.to_owned(), tip.to_owned()))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_orchestrators_work_each_issue_once_and_one_takes_over_the_others_claim() {
    let origin_dir = tempfile::tempdir().unwrap();
    let fake = seeded_fake(origin_dir.path()).await;
    let origin = origin_dir.path().join("origin.git");

    let scripts = tempfile::tempdir().unwrap();
    let log = scripts.path().join("worked.log");
    let machines: Vec<Machine> = ["alpha", "beta"]
        .into_iter()
        .map(|id| Machine::new(&fake, id))
        .collect();
    let create = |title: &str| {
        machines[0]
            .clambake(&[
                "issue",
                "create",
                "--title",
                title,
                "--label",
                "route:ready",
                "--json",
            ])
            .success()
            .json()["number"]
            .as_u64()
            .unwrap()
    };
    let quick: Vec<u64> = (0..QUICK)
        .map(|n| create(&format!("Quick task {n}")))
        .collect();
    let held = create("Long task");
    let script = agent_script(scripts.path(), &log, held);
    for machine in &machines {
        let command = format!("{} {} {{issue}}", script.display(), machine.id);
        for (key, value) in [("agents.runtime", "command"), ("agents.command", &command)] {
            machine.clambake(&["config", "set", key, value]).success();
        }
    }

    let mut runs: Vec<Child> = machines.iter().map(|m| m.run(&["--until-idle"])).collect();

    // The quick issues land (their claims given back, which follows the labels), and the long
    // one's first half reaches origin.
    let first_half = wait_for(
        "the quick issues to land and the first half on origin",
        || {
            // Landed, and their claims given back.
            let landed = quick.iter().all(|&n| {
                let tip = ["for-each-ref", "--format=%(contents)", &claim_ref(n)];
                let released = ClaimRecord::parse(&git_in(&origin, &tip))
                    .is_some_and(|r| r.state == ClaimState::Landed);
                released && fake.issue(n).unwrap().labels == ["route:review"]
            });
            let published = branch_on_origin(&origin, held).filter(|(_, tip)| {
                git_in(&origin, &["log", "-1", "--format=%s", tip]) == "First half"
            });
            match published {
                Some((_, tip)) if landed => Ok(tip),
                _ => Err(format!(
                    "issues {:?}",
                    fake.issues()
                        .iter()
                        .map(|i| (i.number, i.labels.clone()))
                        .collect::<Vec<_>>()
                )),
            }
        },
    );
    let holder = claim_chain(&origin, held)
        .last()
        .unwrap()
        .orchestrator
        .clone();
    let (dead, survivor) = if holder == "alpha" { (0, 1) } else { (1, 0) };

    // The holder's machine dies: its run and the git processes it started, and its agent.
    killpg(Pid::from_raw(runs[dead].id() as i32), Signal::SIGKILL).unwrap();
    runs[dead].wait().unwrap();
    let pid = std::fs::read_to_string(scripts.path().join(format!("held-{held}.pid"))).unwrap();
    kill(Pid::from_raw(pid.trim().parse().unwrap()), Signal::SIGKILL).unwrap();

    // The survivor takes the claim over once the dead one has been silent long enough.
    let deadline = Instant::now() + SILENCE + PATIENCE;
    let status = loop {
        if let Some(status) = runs[survivor].try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the survivor never finished: {}",
            machines[survivor].run_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let dead_machine = &machines[dead];
    let survivor = &machines[survivor];
    assert!(status.success(), "{}", survivor.run_log());

    // Every issue landed, each worked exactly once but the one taken over, worked by the dead
    // orchestrator and then by the survivor.
    let mut worked: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    worked.sort();
    for &issue in quick.iter().chain([&held]) {
        // The survivor's train takes every branch, those the dead one landed and pushed too.
        let labels = fake.issue(issue).unwrap().labels;
        assert_eq!(labels, ["route:bundled"], "#{issue}");
        let by: Vec<&str> = worked
            .iter()
            .filter_map(|line| line.split_once(' '))
            .filter(|(n, _)| *n == issue.to_string())
            .map(|(_, who)| who)
            .collect();
        if issue == held {
            assert_eq!(by.len(), 2, "#{issue}: {worked:?}");
            assert!(
                by.contains(&dead_machine.id) && by.contains(&survivor.id),
                "{worked:?}"
            );
        } else {
            assert_eq!(by.len(), 1, "#{issue} worked once: {worked:?}");
        }
        // The one slot label claimed it, the landing and the train replaced it: no loser
        // labelled it.
        let labelled = fake
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/issues/{issue}/labels")))
            .count();
        assert_eq!(labelled, 3, "#{issue}: a claim, a landing, a boarding");
    }

    // The claims say who did what: one claim and its landing each, and on the long task the
    // dead one's claim, the survivor's takeover as attempt 2, and its landing.
    for &issue in &quick {
        let chain = claim_chain(&origin, issue);
        let states: Vec<(ClaimState, u32)> = chain.iter().map(|r| (r.state, r.attempt)).collect();
        assert_eq!(
            states,
            [(ClaimState::Held, 1), (ClaimState::Landed, 1)],
            "#{issue}"
        );
        assert_eq!(chain[0].orchestrator, chain[1].orchestrator);
    }
    let chain = claim_chain(&origin, held);
    let steps: Vec<(&str, ClaimState, u32)> = chain
        .iter()
        .map(|r| (r.orchestrator.as_str(), r.state, r.attempt))
        .collect();
    assert_eq!(
        steps,
        [
            (dead_machine.id, ClaimState::Held, 1),
            (survivor.id, ClaimState::Held, 2),
            (survivor.id, ClaimState::Landed, 2),
        ]
    );

    // No commit lost: what landed, on origin and on the survivor's machine, continues the
    // first half the dead one's agent committed.
    let (branch, landed) = branch_on_origin(&origin, held).unwrap();
    assert_eq!(
        git_in(&origin, &["log", "-1", "--format=%s", &landed]),
        "Second half"
    );
    git_in(
        &origin,
        &["merge-base", "--is-ancestor", &first_half, &landed],
    );
    assert_eq!(survivor.git(&["rev-parse", &branch]), landed);
    for &issue in &quick {
        let (_, tip) = branch_on_origin(&origin, issue).expect("each landing is on origin");
        let file = format!("{tip}:work-{issue}.txt");
        assert_eq!(
            git_in(&origin, &["show", &file]),
            format!("work on {issue}")
        );
    }
    // The train's one bundle carries them all.
    let pulls = fake.pulls();
    let [bundle] = pulls.as_slice() else {
        panic!("one bundle: {pulls:#?}")
    };
    let head = bundle.pull.as_ref().unwrap().head_ref.clone();
    let bundled = git_in(&origin, &["rev-parse", &format!("refs/heads/{head}")]);
    for issue in quick.iter().chain([&held]) {
        let (_, tip) = branch_on_origin(&origin, *issue).unwrap();
        git_in(&origin, &["merge-base", "--is-ancestor", &tip, &bundled]);
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_machine_given_a_running_ones_id_is_the_one_that_stops() {
    let origin_dir = tempfile::tempdir().unwrap();
    let fake = seeded_fake(origin_dir.path()).await;
    let origin = origin_dir.path().join("origin.git");
    // One clambake.toml copied to both: the same orchestrator.id.
    let machines: Vec<Machine> = ["twin", "twin"]
        .into_iter()
        .map(|id| Machine::new(&fake, id))
        .collect();
    let scripts = tempfile::tempdir().unwrap();
    let started = scripts.path().join("started");
    let script = write_script(
        scripts.path(),
        "agent.sh",
        &format!("touch '{}'\nexec sleep 600\n", started.display()),
    );
    let command = format!("{} {{issue}}", script.display());
    for machine in &machines {
        for (key, value) in [("agents.runtime", "command"), ("agents.command", &command)] {
            machine.clambake(&["config", "set", key, value]).success();
        }
    }
    let issue = machines[0]
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Long task",
            "--label",
            "route:ready",
            "--json",
        ])
        .success()
        .json()["number"]
        .as_u64()
        .unwrap();

    // The first runs, claims the issue and starts its agent.
    let mut first = machines[0].run(&[]);
    let claimed = wait_for("the first to claim and start its agent", || {
        let chain = claim_chain_if_any(&origin, issue);
        match chain.last() {
            Some(tip) if tip.state == ClaimState::Held && started.exists() => Ok(chain.clone()),
            _ => Err(machines[0].run_log()),
        }
    });

    // The second, started under the same id, finds the first alive and stops at once.
    let mut second = machines[1].run(&[]);
    let status = wait_for("the second to stop", || {
        second
            .try_wait()
            .unwrap()
            .ok_or_else(|| machines[1].run_log())
    });
    let log = machines[1].run_log();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("another orchestrator runs under this one's id `twin`"),
        "{log}"
    );
    assert!(log.contains("clambake config set orchestrator.id"), "{log}");

    // The first goes on with its claim, its agent uninterrupted, and beats on: a second
    // start now would be refused again.
    let alive = git_in(&origin, &["rev-parse", "refs/clambake/orchestrators/twin"]);
    wait_for("the first to say it is alive again", || {
        let now = git_in(&origin, &["rev-parse", "refs/clambake/orchestrators/twin"]);
        (now != alive)
            .then_some(())
            .ok_or_else(|| machines[0].run_log())
    });
    assert_eq!(first.try_wait().unwrap(), None, "{}", machines[0].run_log());
    assert_eq!(claim_chain(&origin, issue), claimed);
    let first_log = machines[0].run_log();
    assert!(!first_log.contains("not its own"), "{first_log}");
    killpg(Pid::from_raw(first.id() as i32), Signal::SIGKILL).unwrap();
    first.wait().unwrap();
}

/// [`claim_chain`], empty while `issue` has no claim.
fn claim_chain_if_any(origin: &Path, issue: u64) -> Vec<ClaimRecord> {
    let reference = claim_ref(issue);
    let listed = git_in(origin, &["for-each-ref", "--format=%(refname)", &reference]);
    if listed.is_empty() {
        Vec::new()
    } else {
        claim_chain(origin, issue)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orchestrator_that_lost_its_claim_while_silent_leaves_the_issue_and_the_branch_alone() {
    let origin_dir = tempfile::tempdir().unwrap();
    let fake = seeded_fake(origin_dir.path()).await;
    let origin = origin_dir.path().join("origin.git");
    let alpha = Machine::new(&fake, "alpha");
    let scripts = tempfile::tempdir().unwrap();
    let (started, go) = (scripts.path().join("started"), scripts.path().join("go"));
    // The agent commits, waits (as if its machine were suspended) until told, commits again.
    let script = write_script(
        scripts.path(),
        "agent.sh",
        &format!(
            "set -e\n\
             echo early > early.txt && git add . && git commit -q -m Early\n\
             touch '{started}'\n\
             i=0; while [ ! -e '{go}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n\
             echo late > late.txt && git add . && git commit -q -m Late\n",
            started = started.display(),
            go = go.display(),
        ),
    );
    let command = format!("{} {{issue}}", script.display());
    for (key, value) in [("agents.runtime", "command"), ("agents.command", &command)] {
        alpha.clambake(&["config", "set", key, value]).success();
    }
    let issue = alpha
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Task",
            "--label",
            "route:ready",
            "--json",
        ])
        .success()
        .json()["number"]
        .as_u64()
        .unwrap();
    let mut run = alpha.run(&["--once"]);
    let (branch, early) = wait_for("the early commit on origin", || {
        branch_on_origin(&origin, issue)
            .filter(|(_, tip)| started.exists() && subject(&origin, tip) == "Early")
            .ok_or_else(|| alpha.run_log())
    });

    // Beta, on another machine, found alpha silent past the limit and took the claim over.
    let chain = claim_chain(&origin, issue);
    let ours = chain.last().unwrap();
    let theirs = ClaimRecord::claim(
        Some(ours),
        "beta",
        "agent001",
        issue,
        jiff::Timestamp::now(),
    );
    let reference = claim_ref(issue);
    let empty_tree = git_in(&origin, &["hash-object", "-t", "tree", "/dev/null"]);
    let parent = git_in(&origin, &["rev-parse", &reference]);
    let message = theirs.message();
    let args = ["commit-tree", &empty_tree, "-p", &parent, "-m", &message];
    let taken = git_in(&origin, &args);
    git_in(&origin, &["update-ref", &reference, &taken, &parent]);
    std::fs::write(&go, "").unwrap();

    let status = wait_for("alpha's run to end", || {
        run.try_wait().unwrap().ok_or_else(|| alpha.run_log())
    });
    let log = alpha.run_log();
    assert!(status.success(), "{log}");
    assert!(log.contains("beta took the claim over meanwhile"), "{log}");
    let state = fake.issue(issue).unwrap();
    assert_eq!(state.labels, ["agent001"], "neither landed nor relabelled");
    assert_eq!(fake.pulls().len(), 0);
    assert_eq!(
        git_in(&origin, &["rev-parse", &reference]),
        taken,
        "beta's claim"
    );
    let on_origin = git_in(&origin, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_eq!(
        on_origin, early,
        "the branch on origin is beta's to move now"
    );
    assert_eq!(
        subject(alpha.path(), &branch),
        "Late",
        "alpha's work stays here"
    );
    let comments: Vec<String> = fake
        .comments()
        .into_iter()
        .filter(|c| c.issue == issue)
        .map(|c| c.body)
        .collect();
    assert!(comments.is_empty(), "nor commented: {comments:#?}");
}

/// The subject of `revision`'s commit in the repository at `dir`.
fn subject(dir: &Path, revision: &str) -> String {
    git_in(dir, &["log", "-1", "--format=%s", revision])
}
