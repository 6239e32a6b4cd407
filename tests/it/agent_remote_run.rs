//! `clambake agent remote-run`, the runner's side of an attempt dispatched to GitHub Actions,
//! on the GitHub fake with no runner: an orchestrator's clone claims an issue through `spawn`
//! (the claim path the run loop takes), and the command runs in a fresh clone of origin that
//! has only the committed `clambake.toml`, as the agent workflow's step runs it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use clambake::core::agents::remote::{EVENTS_FILE, EXIT_FILE, OUT_DIR};
use clambake::core::branches::name::branch_name;
use serde_json::Value;
use tempfile::TempDir;

use crate::github_support::GithubRepo;
use crate::model_server::{ModelServer, Reply};
use crate::support::{CliOutput, clambake_in_env, claude_binary, wait_for, write_script};

/// An issue an orchestrator claimed for agent001, as it would dispatch it.
struct Dispatched {
    github: GithubRepo,
    issue: u64,
    branch: String,
    /// The claim's id: the commit of the issue's claim reference on origin.
    claim: String,
}

impl Dispatched {
    /// An orchestrator's clone configured with `settings`, its `clambake.toml` committed and
    /// pushed, and issue `title` claimed by agent001 through `spawn` (its simulated attempt
    /// leaves the claim held, as a dispatched attempt's is).
    fn new(settings: &[(&str, &str)], title: &str) -> Self {
        let github = GithubRepo::start(2);
        let repo = &github.repo;
        repo.configure(settings);
        repo.git(&["add", "clambake.toml"]);
        repo.git(&["commit", "-q", "-m", "Clambake's configuration"]);
        repo.git(&["push", "-q", "origin", "main"]);
        let issue = repo.create_issue(title, "route:ready");
        let number = issue.to_string();
        let spawn = ["spawn", "--agent", "agent001", "--issue", &number];
        github
            .clambake(&[&spawn[..], &["--runtime", "simulated"]].concat())
            .success();
        let claim = github.origin_git(&["rev-parse", &format!("refs/clambake/claims/{issue}")]);
        Self {
            branch: branch_name("agent001", issue, title),
            github,
            issue,
            claim,
        }
    }

    /// A fresh clone of origin, as `actions/checkout` makes it with `fetch-depth: 0`.
    fn checkout(&self) -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        let url = self.github.repo.git(&["remote", "get-url", "origin"]);
        let path = dir.path().join("checkout");
        self.github
            .repo
            .git(&["clone", "-q", &url, path.to_str().unwrap()]);
        assert!(!path.join(".clambake").exists());
        Checkout { _dir: dir, path }
    }

    /// The arguments of `agent remote-run` for this dispatch, with the claim id `claim`.
    fn args<'a>(&'a self, issue: &'a str, claim: &'a str) -> [&'a str; 14] {
        [
            "agent",
            "remote-run",
            "--issue",
            issue,
            "--slot",
            "agent001",
            "--branch",
            &self.branch,
            "--attempt",
            "1",
            "--claim",
            claim,
            "--out",
            OUT_DIR,
        ]
    }

    /// `agent remote-run` in `checkout` for this dispatch, with the claim id `claim`.
    fn remote_run(&self, checkout: &Checkout, claim: &str, env: &[(&str, &str)]) -> Ran {
        let issue = self.issue.to_string();
        let args = self.args(&issue, claim);
        let token = self.github.fake().token();
        let mut all = vec![("GH_TOKEN", token.as_str())];
        all.extend_from_slice(env);
        let run = || clambake_in_env(&checkout.path, &args, &all);
        let output = match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(run),
            Err(_) => run(),
        };
        checkout.ran(output)
    }

    fn labels(&self) -> Vec<String> {
        self.github.repo.labels_of(self.issue)
    }
}

struct Checkout {
    _dir: TempDir,
    path: PathBuf,
}

impl Checkout {
    /// What a remote run that printed `output` left in the out directory.
    fn ran(&self, output: CliOutput) -> Ran {
        let out = self.path.join(OUT_DIR);
        let exit = std::fs::read_to_string(out.join(EXIT_FILE))
            .unwrap_or_else(|e| panic!("no exit.json ({e}): {}", output.stderr));
        Ran {
            exit: serde_json::from_str(&exit).unwrap(),
            events: std::fs::read_to_string(out.join(EVENTS_FILE)).unwrap_or_default(),
            output,
        }
    }

    fn prompt(&self, issue: u64) -> String {
        let file = format!(".clambake/prompts/agent001-{issue}-1.md");
        std::fs::read_to_string(self.path.join(file)).unwrap()
    }
}

struct Ran {
    output: CliOutput,
    exit: Value,
    events: String,
}

/// The subjects of `range`'s commits on origin, newest first.
fn subjects(github: &GithubRepo, range: &str) -> Vec<String> {
    let log = github.origin_git(&["log", "--format=%s", range]);
    log.lines().map(str::to_owned).collect()
}

const SIMULATED: [(&str, &str); 1] = [("agents.runtime", "simulated")];

#[test]
fn the_attempt_runs_on_the_runner_and_its_branch_is_pushed_with_the_labels_untouched() {
    let dispatched = Dispatched::new(&SIMULATED, "Add a greeting");
    let issue = dispatched.issue;
    let comment = "Please greet in French as well.";
    let number = issue.to_string();
    let comment_args = ["issue", "comment", &number, "--body", comment];
    dispatched.github.clambake(&comment_args).success();
    let labels = dispatched.labels();
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    let exit = ran.output.success();
    let pushed = dispatched
        .github
        .origin_git(&["rev-parse", &dispatched.branch]);
    assert_eq!(ran.exit["pushed_head"], pushed.as_str(), "{}", exit.stderr);
    assert_eq!(ran.exit["exit"], serde_json::json!({"code": 0}));
    assert_eq!(ran.exit["terminated"], Value::Null);
    assert_eq!(ran.exit["committed_leftovers"], false);
    assert_eq!(ran.exit["error"], Value::Null);
    assert_eq!(
        serde_json::from_str::<Value>(&exit.stdout).unwrap(),
        ran.exit
    );
    let commits = subjects(&dispatched.github, &format!("main..{}", dispatched.branch));
    assert_eq!(commits.len(), 1, "{commits:?}");
    let last = ran.events.lines().last().unwrap();
    let result: Value = serde_json::from_str(last).unwrap();
    assert_eq!(result["type"], "result", "{}", ran.events);
    assert_eq!(result["is_error"], false);
    // The prompt a local attempt gets: the issue, its trusted comments, the branch.
    let prompt = checkout.prompt(issue);
    for expected in ["Add a greeting", comment, dispatched.branch.as_str()] {
        assert!(prompt.contains(expected), "{expected:?} not in {prompt}");
    }
    assert_eq!(
        dispatched.labels(),
        labels,
        "the orchestrator owns the labels"
    );
    let state = checkout.path.join(".clambake");
    assert!(!state.join("journal.db").exists(), "nothing journaled");
    dispatched.github.assert_no_violations();
}

#[test]
fn a_dispatch_whose_claim_moved_on_or_whose_issue_closed_is_refused_with_nothing_pushed() {
    let dispatched = Dispatched::new(&SIMULATED, "Add a greeting");
    let checkout = dispatched.checkout();
    // Another claim's commit: the claim reference's parent-less tip is the one dispatched.
    let main = dispatched.github.origin_git(&["rev-parse", "main"]);
    let moved = dispatched.remote_run(&checkout, &main, &[]);
    assert_eq!(moved.output.code, 8, "{}", moved.output.stderr);
    let error = moved.exit["error"].as_str().unwrap();
    assert!(error.contains("the claim moved on"), "{error}");
    assert_eq!(moved.exit["pushed_head"], Value::Null);
    assert_eq!(moved.exit["exit"], Value::Null);
    assert!(moved.events.is_empty());

    let number = dispatched.issue.to_string();
    dispatched
        .github
        .clambake(&["issue", "label", &number, "--remove", "agent001"])
        .success();
    let unlabelled = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    assert_eq!(unlabelled.output.code, 8, "{}", unlabelled.output.stderr);
    let error = unlabelled.exit["error"].as_str().unwrap();
    assert!(error.contains("not labelled agent001"), "{error}");

    dispatched
        .github
        .clambake(&["issue", "close", &number])
        .success();
    let closed = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    assert_eq!(closed.output.code, 8, "{}", closed.output.stderr);
    let error = closed.exit["error"].as_str().unwrap();
    assert!(error.contains("the issue is closed"), "{error}");
    assert_eq!(
        dispatched.github.origin_branches(),
        vec!["main".to_owned()],
        "nothing pushed"
    );
}

#[test]
fn an_earlier_attempts_branch_on_origin_is_continued() {
    let dispatched = Dispatched::new(&SIMULATED, "Add a greeting");
    let repo = &dispatched.github.repo;
    let earlier = repo.branch_with_file(&dispatched.branch, "main", "earlier.txt", "first try\n");
    repo.publish(&dispatched.branch);
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    ran.output.success();
    let pushed = ran.exit["pushed_head"].as_str().unwrap().to_owned();
    let ancestor = ["merge-base", "--is-ancestor", &earlier, &pushed];
    dispatched.github.origin_git(&ancestor);
    let commits = subjects(&dispatched.github, &format!("main..{pushed}"));
    assert_eq!(
        commits.len(),
        2,
        "the earlier commit and the new one: {commits:?}"
    );
    let tree = dispatched
        .github
        .origin_git(&["ls-tree", "-r", "--name-only", &pushed]);
    assert!(tree.lines().any(|f| f == "earlier.txt"), "{tree}");
}

#[test]
fn a_failing_agent_is_recorded_its_leftovers_pushed_and_no_forge_token_reaches_it() {
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(
        scripts.path(),
        "agent.sh",
        "#!/bin/sh\nenv\necho half done > leftover.txt\nexit 3\n",
    );
    let command = format!("{} {{issue}}", script.display());
    let settings = [
        ("agents.runtime", "command"),
        ("agents.command", command.as_str()),
    ];
    let dispatched = Dispatched::new(&settings, "Add a greeting");
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    ran.output.success();
    assert_eq!(ran.exit["exit"], serde_json::json!({"code": 3}));
    assert_eq!(ran.exit["committed_leftovers"], true);
    assert_eq!(ran.exit["error"], Value::Null);
    let pushed = ran.exit["pushed_head"].as_str().unwrap();
    let file = format!("{pushed}:leftover.txt");
    assert_eq!(dispatched.github.origin_git(&["show", &file]), "half done");
    assert!(
        ran.events.lines().any(|l| l.starts_with("PATH=")),
        "{}",
        ran.events
    );
    let token = dispatched.github.fake().token();
    assert!(!ran.events.contains("GH_TOKEN"), "{}", ran.events);
    assert!(!ran.events.contains(&token), "the token reached the agent");
}

#[test]
fn work_pushed_to_origin_meanwhile_is_not_overwritten() {
    let dispatched = Dispatched::new(&[], "Add a greeting");
    let bare = dispatched.github.bare();
    // The agent's command moves origin's branch while it runs, as another pusher would.
    let scripts = tempfile::tempdir().unwrap();
    let body = format!(
        "#!/bin/sh\nset -e\ngit --git-dir {bare} update-ref refs/heads/{branch} $(git --git-dir {bare} rev-parse main)\necho mine > mine.txt\n",
        bare = bare.display(),
        branch = dispatched.branch,
    );
    let script = write_script(scripts.path(), "agent.sh", &body);
    let command = script.display().to_string();
    commit_settings(
        &dispatched,
        &[("agents.runtime", "command"), ("agents.command", &command)],
    );
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    ran.output.success();
    let error = ran.exit["error"].as_str().unwrap();
    assert!(error.contains("moved while the attempt ran"), "{error}");
    assert_eq!(ran.exit["pushed_head"], Value::Null);
    assert_eq!(ran.exit["exit"], serde_json::json!({"code": 0}));
    let main = dispatched.github.origin_git(&["rev-parse", "main"]);
    let theirs = dispatched
        .github
        .origin_git(&["rev-parse", &dispatched.branch]);
    assert_eq!(
        theirs, main,
        "origin's branch stays where the other pusher put it"
    );
}

#[test]
fn an_earlier_attempt_of_another_slot_on_origin_is_taken_over() {
    let dispatched = Dispatched::new(&SIMULATED, "Add a greeting");
    let repo = &dispatched.github.repo;
    let other = format!("agent002/{}-add-a-greeting", dispatched.issue);
    let earlier = repo.branch_with_file(&other, "main", "earlier.txt", "first try\n");
    repo.publish(&other);
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    ran.output.success();
    let pushed = ran.exit["pushed_head"].as_str().unwrap().to_owned();
    let ancestor = ["merge-base", "--is-ancestor", &earlier, &pushed];
    dispatched.github.origin_git(&ancestor);
    assert_eq!(
        dispatched.github.origin_git(&["rev-parse", &other]),
        earlier,
        "the earlier branch is the orchestrator's to retire"
    );
}

#[test]
fn an_agent_that_cannot_start_is_an_attempt_that_could_not_run() {
    let settings = [
        ("agents.runtime", "command"),
        ("agents.command", "/nonexistent/agent {issue}"),
    ];
    let dispatched = Dispatched::new(&settings, "Add a greeting");
    let checkout = dispatched.checkout();

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &[]);
    assert_eq!(ran.output.code, 7, "{}", ran.output.stderr);
    assert_eq!(ran.exit["exit"], Value::Null);
    let error = ran.exit["error"].as_str().unwrap();
    assert!(error.contains("/nonexistent/agent"), "{error}");
    assert_eq!(ran.exit["pushed_head"], Value::Null);
}

#[test]
fn a_cancelled_step_stops_the_agent_and_still_pushes_its_work() {
    let scripts = tempfile::tempdir().unwrap();
    let script = write_script(
        scripts.path(),
        "agent.sh",
        "#!/bin/sh\necho partial > partial.txt\necho started\nexec sleep 600\n",
    );
    let command = script.display().to_string();
    let settings = [
        ("agents.runtime", "command"),
        ("agents.command", command.as_str()),
    ];
    let dispatched = Dispatched::new(&settings, "Add a greeting");
    let checkout = dispatched.checkout();
    let issue = dispatched.issue.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(&checkout.path)
        .args(dispatched.args(&issue, &dispatched.claim))
        .env("GH_TOKEN", dispatched.github.fake().token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let events = checkout.path.join(OUT_DIR).join(EVENTS_FILE);
    wait_for("the agent to start", || {
        std::fs::read_to_string(&events).is_ok_and(|e| e.contains("started"))
    });
    // What the runner sends a cancelled step's process first.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let ran = checkout.ran(CliOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    });
    let ran_output = ran.output.success();
    assert_eq!(ran.exit["terminated"], "requested", "{}", ran_output.stderr);
    assert_eq!(ran.exit["committed_leftovers"], true);
    let pushed = ran.exit["pushed_head"].as_str().unwrap();
    let file = format!("{pushed}:partial.txt");
    assert_eq!(dispatched.github.origin_git(&["show", &file]), "partial");
}

/// Sets `settings` and pushes the configuration, as a person changing it would.
fn commit_settings(dispatched: &Dispatched, settings: &[(&str, &str)]) {
    let repo = &dispatched.github.repo;
    repo.configure(settings);
    repo.git(&["commit", "-q", "-am", "The agent's command"]);
    repo.git(&["push", "-q", "origin", "main"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_runs_on_the_runner_against_the_scripted_model() {
    let claude = claude_binary();
    let server = ModelServer::start(
        vec![Reply::bash(
            "echo bonjour > greeting.txt && git add greeting.txt && git commit -qm 'Add a greeting' && echo committed",
        )],
        Reply::text("Committed the greeting."),
    )
    .await;
    let settings = [
        ("agents.runtime", "claude"),
        ("agents.claude_code_path", claude.to_str().unwrap()),
        ("agents.claude_permission_mode", "bypassPermissions"),
        ("agents.claude_max_turns", "3"),
    ];
    let dispatched = tokio::task::block_in_place(|| Dispatched::new(&settings, "Add a greeting"));
    let checkout = tokio::task::block_in_place(|| dispatched.checkout());
    let home = tempfile::tempdir().unwrap();
    let base_url = server.base_url();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("IS_SANDBOX", "1"),
        ("ANTHROPIC_BASE_URL", base_url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-scripted"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ];

    let ran = dispatched.remote_run(&checkout, &dispatched.claim, &env);
    ran.output.success();
    assert_eq!(ran.exit["exit"], serde_json::json!({"code": 0}));
    let pushed = ran.exit["pushed_head"].as_str().unwrap();
    let file = format!("{pushed}:greeting.txt");
    let greeting = tokio::task::block_in_place(|| dispatched.github.origin_git(&["show", &file]));
    assert_eq!(greeting, "bonjour");
    let result = ran.events.lines().rev().find_map(|line| {
        let event: Value = serde_json::from_str(line).ok()?;
        (event["type"] == "result").then_some(event)
    });
    assert_eq!(result.expect("a result event")["is_error"], false);
    let received = server.received();
    assert!(
        received[0].conversation.contains(&dispatched.branch),
        "the prompt names the branch: {}",
        received[0].conversation
    );
}
