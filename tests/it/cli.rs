//! The `clambake` binary, end to end, in real repositories.

use crate::support::{TestRepo, clambake_in};

#[test]
fn outside_a_repository_says_so_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let out = clambake_in(dir.path(), &["status"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("is not inside a git repository"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("-C <path>"), "{}", out.stderr);
}

#[test]
fn before_init_commands_say_to_run_init() {
    let repo = TestRepo::new();
    for args in [
        &["status"][..],
        &["issue", "list"],
        &["config", "list"],
        &["pr", "list"],
    ] {
        let out = repo.clambake(args);
        assert_eq!(out.code, 3, "{args:?}");
        assert!(
            out.stderr.contains("run `clambake init` first"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn init_is_idempotent_and_says_so() {
    let repo = TestRepo::new();
    let first = repo
        .clambake(&["init", "--agents", "3", "--json"])
        .success()
        .json();
    assert_eq!(first["config"], "created");
    assert_eq!(first["gitignore"], "created");
    assert_eq!(first["forge"], "created");
    let labels = first["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 11, "8 route labels and 3 agent labels");
    assert!(labels.iter().all(|l| l[1] == "created"));
    assert!(repo.path().join(".clambake/forge.db").is_file());
    assert!(repo.read(".gitignore").contains("/.clambake/"));
    let config_before = repo.read("clambake.toml");
    assert!(config_before.contains("max_concurrent = 3"));

    let again = repo.clambake(&["init"]).success();
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    assert_eq!(repo.read("clambake.toml"), config_before);
    assert_eq!(repo.read(".gitignore").matches(".clambake").count(), 1);
    let status = repo.git(&["status", "--porcelain"]);
    assert!(
        !status.contains(".clambake"),
        "the state directory is ignored: {status}"
    );
}

#[test]
fn init_with_more_agents_adds_their_labels_and_keeps_comments() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    let report = repo
        .clambake(&["init", "--agents", "4", "--json"])
        .success()
        .json();
    assert_eq!(report["config"], "updated");
    let created: Vec<&str> = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l[1] == "created")
        .map(|l| l[0].as_str().unwrap())
        .collect();
    assert_eq!(created, ["agent003", "agent004"]);
    assert!(
        repo.read("clambake.toml")
            .contains("# How many agents work at once.\nmax_concurrent = 4\n")
    );
}

#[test]
fn init_on_github_needs_origin_and_a_repository_it_names() {
    let repo = TestRepo::new();
    let out = repo.clambake(&["init", "--backend", "github"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("no `origin` remote"), "{}", out.stderr);
    assert!(
        out.stderr.contains("git remote add origin"),
        "{}",
        out.stderr
    );

    repo.git(&["remote", "add", "origin", "file:///srv/git/cat.git"]);
    let out = repo.clambake(&["init", "--backend", "github"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("origin's URL `file:///srv/git/cat.git` names no repository"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--owner OWNER --repo REPO"),
        "{}",
        out.stderr
    );
    assert!(
        !repo.path().join("clambake.toml").exists(),
        "nothing is written before the repository is known"
    );

    let out = repo.clambake(&["init", "--owner", "octo"]);
    assert_eq!(
        out.code, 2,
        "--owner goes with --backend github: {}",
        out.stderr
    );
}

#[test]
fn config_set_keeps_comments_and_changes_only_the_value() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let mut text = repo.read("clambake.toml");
    text.push_str("# a note of my own\n");
    repo.write("clambake.toml", &text);
    repo.clambake(&["config", "set", "bundling.schedule_minutes", "15"])
        .success();
    let after = repo.read("clambake.toml");
    assert_eq!(
        after,
        text.replace("schedule_minutes = 10", "schedule_minutes = 15")
    );
    assert_eq!(
        repo.clambake(&["config", "get", "bundling.schedule_minutes"])
            .success()
            .stdout,
        "15\n"
    );
}

#[test]
fn config_errors_are_clear_and_change_nothing() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let before = repo.read("clambake.toml");
    let cases: [(&[&str], &str); 5] = [
        (
            &["config", "set", "agents.max_concurent", "3"],
            "did you mean `agents.max_concurrent`",
        ),
        (
            &["config", "set", "agents.max_concurrent", "0"],
            "must be a whole number, 1 or more, not 0",
        ),
        (&["config", "set", "agents.timeout_minutes", "-5"], "not -5"),
        (
            &["config", "set", "agents.real_processes", "maybe"],
            "must be true or false",
        ),
        (
            &["config", "get", "bundling.shedule_minutes"],
            "did you mean `bundling.schedule_minutes`",
        ),
    ];
    for (args, expected) in cases {
        let out = repo.clambake(args);
        assert_eq!(out.code, 5, "{args:?}");
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert_eq!(
            repo.read("clambake.toml"),
            before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn a_malformed_file_is_reported_with_line_and_column() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.write(
        "clambake.toml",
        "[agents]\nmax_concurrent = 3\nruntime = \"claude\n",
    );
    let out = repo.clambake(&["status"]);
    assert_eq!(out.code, 5);
    assert!(
        out.stderr.contains("clambake.toml is not valid TOML"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line 3, column 18"), "{}", out.stderr);
    let out = repo.clambake(&["config", "set", "agents.max_concurrent", "4"]);
    assert_eq!(out.code, 5);
    assert!(repo.read("clambake.toml").contains("max_concurrent = 3"));
}

#[test]
fn a_bad_value_in_the_file_points_at_it() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.write("clambake.toml", "[agents]\nmax_concurrent = 0\n");
    let out = repo.clambake(&["issue", "list"]);
    assert_eq!(out.code, 5);
    assert!(out.stderr.contains("clambake.toml:2:18"), "{}", out.stderr);
    assert!(out.stderr.contains("1 or more, not 0"), "{}", out.stderr);
}

#[test]
fn environment_variables_override_the_file() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_clambake"));
    let out = command
        .current_dir(repo.path())
        .args(["config", "get", "agents.max_concurrent", "--json"])
        .env("CLAMBAKE_AGENTS__MAX_CONCURRENT", "11")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["value"], 11);
    assert_eq!(json["source"]["env"], "CLAMBAKE_AGENTS__MAX_CONCURRENT");
}

#[test]
fn config_list_shows_every_key_with_its_source() {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "6"]).success();
    std::fs::write(
        repo.path().join("clambake.toml"),
        "[agents]\nmax_concurrent = 6\n",
    )
    .unwrap();
    let list = repo
        .clambake(&["config", "list", "--json"])
        .success()
        .json();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), clambake::core::config::KEYS.len());
    let agents = entries
        .iter()
        .find(|e| e["key"] == "agents.max_concurrent")
        .unwrap();
    assert_eq!(agents["value"], 6);
    assert_eq!(agents["source"], "file");
    let trigger = entries
        .iter()
        .find(|e| e["key"] == "bundling.trigger")
        .unwrap();
    assert_eq!(trigger["value"], "schedule");
    assert_eq!(trigger["source"], "default");
}

#[test]
fn issues_and_pull_requests_through_the_command_line() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let issue = repo
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Add greeting",
            "--body",
            "Say hi",
            "--label",
            "route:ready",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(issue["number"], 1);
    repo.clambake(&["issue", "create", "--title", "Later", "--json"])
        .success();
    repo.clambake(&[
        "issue",
        "label",
        "1",
        "--add",
        "agent001",
        "--remove",
        "route:ready",
    ])
    .success();
    repo.clambake(&["issue", "comment", "1", "--body", "claimed by agent001"])
        .success();
    assert_eq!(repo.labels_of(1), ["agent001"]);
    assert_eq!(repo.comments_on(1), ["claimed by agent001"]);

    let status = repo.clambake(&["status", "--json"]).success().json();
    assert_eq!(status["stages"]["claimed"][0]["number"], 1);
    assert_eq!(status["stages"]["claimed"][0]["agent"], "agent001");
    assert_eq!(status["stages"]["untriaged"][0]["number"], 2);

    repo.branch_with_file("agent001/1-add-greeting", "main", "hello.txt", "hi\n");
    let pr = repo
        .clambake(&[
            "pr",
            "create",
            "--head",
            "agent001/1-add-greeting",
            "--title",
            "Greeting",
            "--body",
            "Closes #1",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(pr["number"], 3, "issues and pull requests share numbers");
    assert_eq!(pr["base"], "main");
    let merged = repo
        .clambake(&["pr", "merge", "3", "--json"])
        .success()
        .json();
    assert_eq!(merged["closed_issues"], serde_json::json!([1]));
    assert_eq!(
        repo.read("hello.txt"),
        "hi\n",
        "the checkout of main follows the merge"
    );
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );

    let closed = repo
        .clambake(&["issue", "list", "--state", "closed", "--json"])
        .success()
        .json();
    assert_eq!(closed.as_array().unwrap().len(), 1);
    repo.clambake(&["issue", "close", "2"]).success();
    let open = repo.clambake(&["issue", "list", "--json"]).success().json();
    assert_eq!(open, serde_json::json!([]));
    let prs = repo
        .clambake(&["pr", "list", "--state", "merged", "--json"])
        .success()
        .json();
    assert_eq!(prs[0]["state"], "merged");

    let table = repo
        .clambake(&["issue", "list", "--state", "all"])
        .success()
        .stdout;
    assert!(
        table.contains("Add greeting") && table.contains("closed"),
        "{table}"
    );
}

#[test]
fn forge_errors_name_the_missing_thing() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let out = repo.clambake(&["issue", "show", "42"]);
    assert_eq!(out.code, 6);
    assert!(
        out.stderr.contains("there is no issue #42"),
        "{}",
        out.stderr
    );
    let out = repo.clambake(&["pr", "create", "--head", "nope", "--title", "x"]);
    assert!(
        out.stderr.contains("there is no branch `nope`"),
        "{}",
        out.stderr
    );
    let out = repo.clambake(&["issue", "label", "1"]);
    assert_eq!(out.code, 6);
}

#[test]
fn doctor_reports_and_fails_before_init() {
    let repo = TestRepo::new();
    let out = repo.clambake(&["doctor", "--json"]);
    assert_eq!(out.code, 1);
    let checks = out.json();
    let config = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(config["health"], "fail");
    assert_eq!(config["fix"], "run `clambake init`");

    repo.clambake(&["init"]).success();
    // Claude Code, the default agent, is not on the tests' PATH: the simulated agent needs none.
    repo.clambake(&["config", "set", "agents.runtime", "simulated"])
        .success();
    let out = repo.clambake(&["doctor"]).success();
    for name in [
        "git",
        "repository",
        "config",
        "ignore",
        "agent",
        "forge",
        "labels",
    ] {
        assert!(out.stdout.contains(name), "{name}: {}", out.stdout);
    }
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
}

#[test]
fn commands_work_from_a_subdirectory_and_with_dash_c() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    std::fs::create_dir_all(repo.path().join("src/deep")).unwrap();
    clambake_in(&repo.path().join("src/deep"), &["status"]).success();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = repo.path().to_str().unwrap();
    clambake_in(elsewhere.path(), &["-C", dir, "status"]).success();
}

#[test]
fn completions_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let out = clambake_in(dir.path(), &["completions", "bash"]).success();
    assert!(out.stdout.contains("clambake"));
}

#[test]
fn the_github_backend_asks_for_its_repository() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.clambake(&["config", "set", "forge.backend", "github"])
        .success();
    let out = repo.clambake(&["status"]);
    assert_eq!(out.code, 5, "a configuration error");
    assert!(
        out.stderr
            .contains("`github.owner` must be set when forge.backend = \"github\""),
        "{}",
        out.stderr
    );
}
