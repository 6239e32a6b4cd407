//! Clambake's workflows in the repository: `init --backend github` and `actions install` write
//! them, `config set` keeps them in step with `clambake.toml`, `doctor` reports one that is
//! not, and a file Clambake did not write is never overwritten.

use clambake::core::config::{self, Config};
use clambake::core::workflows::{agent_workflow, bundling_workflow};

use crate::backend::Backend;
use crate::support::TestRepo;

const BUNDLING: &str = ".github/workflows/clambake-bundling.yml";
const AGENT: &str = ".github/workflows/clambake-agent.yml";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(repo: &TestRepo, path: &str) -> Option<String> {
    std::fs::read_to_string(repo.path().join(path)).ok()
}

/// The configuration `clambake.toml` alone says.
fn file_config(repo: &TestRepo) -> Config {
    let text = std::fs::read_to_string(repo.path().join("clambake.toml")).unwrap();
    config::load("clambake.toml", &text, std::iter::empty())
        .unwrap()
        .config
}

#[test]
fn init_writes_the_bundling_workflow_and_config_set_and_install_keep_it_in_step() {
    let repo = TestRepo::on(Backend::Github);
    let init = repo.init(&["--agents", "1"]).success();
    assert!(
        init.stdout.contains(&format!("created  {BUNDLING}")),
        "{}",
        init.stdout
    );
    assert_eq!(
        read(&repo, BUNDLING).unwrap(),
        bundling_workflow(&file_config(&repo), VERSION)
    );
    assert_eq!(read(&repo, AGENT), None, "no attempt runs on Actions yet");

    assert!(
        !read(&repo, BUNDLING).unwrap().contains("  schedule:\n"),
        "trains depart from this machine: the workflow must not send more"
    );

    // A key the workflow says follows into it; a key it does not say leaves a hand edit alone.
    let enabled = repo
        .clambake(&["config", "set", "github_actions.enabled", "true"])
        .success();
    assert!(!enabled.stdout.contains("rewrote"), "{}", enabled.stdout);
    let set = repo
        .clambake(&["config", "set", "bundling.executor", "actions"])
        .success();
    assert!(
        set.stdout.contains(&format!("rewrote {BUNDLING}")),
        "{}",
        set.stdout
    );
    assert!(
        read(&repo, BUNDLING)
            .unwrap()
            .contains("- cron: '*/10 * * * *'")
    );
    let set = repo
        .clambake(&["config", "set", "bundling.schedule_minutes", "120"])
        .success();
    assert!(
        set.stdout.contains(&format!("rewrote {BUNDLING}")),
        "{}",
        set.stdout
    );
    let rewritten = read(&repo, BUNDLING).unwrap();
    assert!(rewritten.contains("- cron: '0 */2 * * *'"), "{rewritten}");
    let edited = format!("{rewritten}# mine\n");
    std::fs::write(repo.path().join(BUNDLING), &edited).unwrap();
    let unrelated = repo
        .clambake(&["config", "set", "agents.max_concurrent", "1"])
        .success();
    assert!(
        !unrelated.stdout.contains("rewrote"),
        "{}",
        unrelated.stdout
    );
    assert_eq!(read(&repo, BUNDLING).unwrap(), edited);

    let doctor = repo.clambake(&["doctor", "--json"]);
    let checks = doctor.json();
    let workflow = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "workflow")
        .unwrap_or_else(|| panic!("no workflow check: {checks}"));
    assert_eq!(workflow["health"], "warn", "{workflow}");
    assert!(
        workflow["detail"].as_str().unwrap().contains("differs"),
        "{workflow}"
    );
    assert!(
        workflow["fix"]
            .as_str()
            .unwrap()
            .contains("clambake actions install"),
        "{workflow}"
    );

    let install = repo.clambake(&["actions", "install"]).success();
    assert!(
        install.stdout.contains(&format!("rewrote  {BUNDLING}")),
        "{}",
        install.stdout
    );
    assert_eq!(
        read(&repo, BUNDLING).unwrap(),
        bundling_workflow(&file_config(&repo), VERSION)
    );

    // Remote slots want the agent workflow: `config set` does not write a new file, `init` and
    // `install` do.
    repo.clambake(&["config", "set", "agents.actions_slots", "2"])
        .success();
    assert_eq!(read(&repo, AGENT), None);
    let init = repo.init(&["--agents", "1"]).success();
    assert!(
        init.stdout.contains(&format!("created  {AGENT}")),
        "{}",
        init.stdout
    );
    std::fs::remove_file(repo.path().join(AGENT)).unwrap();
    let install = repo.clambake(&["actions", "install"]).success();
    assert!(
        install.stdout.contains(&format!("created  {AGENT}")),
        "{}",
        install.stdout
    );
    assert!(
        install.stdout.contains(&format!("kept     {BUNDLING}")),
        "{}",
        install.stdout
    );
    assert_eq!(
        read(&repo, AGENT).unwrap(),
        agent_workflow(&file_config(&repo), VERSION)
    );
    let set = repo
        .clambake(&["config", "set", "agents.runtime", "codex"])
        .success();
    assert!(
        set.stdout.contains(&format!("rewrote {AGENT}")),
        "{}",
        set.stdout
    );
    assert!(read(&repo, AGENT).unwrap().contains("OPENAI_API_KEY"));

    let doctor = repo.clambake(&["doctor", "--json"]).json();
    let workflows: Vec<&serde_json::Value> = doctor
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["name"] == "workflow")
        .collect();
    assert_eq!(workflows.len(), 2, "{doctor}");
    assert!(workflows.iter().all(|c| c["health"] == "ok"), "{doctor}");
    let install_check = |doctor: &serde_json::Value| {
        doctor
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == "workflow install")
            .cloned()
            .unwrap_or_else(|| panic!("no install check: {doctor}"))
    };
    let source = install_check(&doctor);
    assert_eq!(source["health"], "warn", "{source}");
    assert!(
        source["detail"]
            .as_str()
            .unwrap()
            .contains("not published yet"),
        "{source}"
    );
    let git = "https://example.com/clambake.git";
    repo.clambake(&["config", "set", "github_actions.clambake_git", git])
        .success();
    let doctor = repo.clambake(&["doctor", "--json"]).json();
    let source = install_check(&doctor);
    assert_eq!(source["health"], "ok", "{source}");
    assert!(source["detail"].as_str().unwrap().contains(git), "{source}");
}

#[test]
fn a_file_clambake_did_not_write_is_left_as_it_is() {
    let repo = TestRepo::new();
    repo.init(&[]).success();
    assert_eq!(
        read(&repo, BUNDLING),
        None,
        "the local backend writes no workflow"
    );
    std::fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    std::fs::write(repo.path().join(BUNDLING), "name: CI\n").unwrap();

    let install = repo.clambake(&["actions", "install", "--agent-workflow"]);
    assert_ne!(install.code, 0, "{}", install.stdout);
    assert!(
        install.stderr.contains("was not written by Clambake"),
        "{}",
        install.stderr
    );
    assert_eq!(read(&repo, BUNDLING).unwrap(), "name: CI\n");
    assert!(
        install.stdout.contains(&format!("created  {AGENT}")),
        "{}",
        install.stdout
    );
    assert!(
        install.stdout.contains("forge.backend is \"local\""),
        "{}",
        install.stdout
    );

    repo.clambake(&["config", "set", "bundling.schedule_minutes", "5"])
        .success();
    assert_eq!(read(&repo, BUNDLING).unwrap(), "name: CI\n");
}
