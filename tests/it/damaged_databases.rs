//! Damaged state: a database truncated to nothing or overwritten is refused, naming the file
//! and what to do, and never silently recreated; a forge lost beside agent branches is not
//! replaced by an empty one; and a damaged journal is rebuilt from the forge and git.

use crate::support::TestRepo;

/// A repository whose run has finished: issues landed and bundled, in an open bundle.
fn repo_after_a_run() -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init", "--agents", "2"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("bundling.trigger", "manual"),
    ]);
    for title in ["First", "Second", "Third"] {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:ready",
        ])
        .success();
    }
    repo.clambake(&["run", "--until-idle", "--no-view"])
        .success();
    repo
}

fn truncate(repo: &TestRepo, file: &str) -> std::path::PathBuf {
    let path = repo.path().join(".clambake").join(file);
    std::fs::write(&path, b"").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn doctor_check(repo: &TestRepo, name: &str) -> serde_json::Value {
    let out = repo.clambake(&["doctor", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {}", out.stdout))
        .clone()
}

#[test]
fn a_truncated_forge_is_refused_and_never_recreated_and_doctor_says_to_restore_it() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.clambake(&["issue", "create", "--title", "Kept"])
        .success();
    let forge = truncate(&repo, "forge.db");

    for args in [&["status"][..], &["issue", "list"], &["init"]] {
        let out = repo.clambake(args);
        assert_eq!(out.code, 6, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("forge.db is damaged: it is empty (0 bytes)"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("restore"), "{args:?}: {}", out.stderr);
    }
    assert_eq!(std::fs::metadata(&forge).unwrap().len(), 0, "not recreated");
    let check = doctor_check(&repo, "forge");
    assert_eq!(check["health"], "fail");
    let fix = check["fix"].as_str().unwrap();
    assert!(
        fix.contains("restore .clambake/forge.db from a backup"),
        "{fix}"
    );
    assert!(
        !fix.contains("clambake init"),
        "init fails the same way: {fix}"
    );
}

#[test]
fn a_registry_that_is_not_a_database_is_refused_by_name() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    let registry = repo.path().join(".clambake/agents.db");
    std::fs::write(&registry, "not a database at all").unwrap();
    let out = repo.clambake(&["agent", "list"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("agents.db is damaged: it is not a SQLite database"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&registry).unwrap(),
        "not a database at all"
    );
    let check = doctor_check(&repo, "agents");
    assert_eq!(check["health"], "fail");
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("move the file aside")
    );
}

#[test]
fn a_forge_lost_beside_agent_branches_is_not_replaced_by_an_empty_one() {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo.branch_with_file("agent001/1-work", "main", "work.txt", "work\n");
    std::fs::remove_file(repo.path().join(".clambake/forge.db")).unwrap();

    for args in [&["status"][..], &["init"]] {
        let out = repo.clambake(args);
        assert_eq!(out.code, 6, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("is missing, but agent branches exist (agent001/1-work)"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(!repo.path().join(".clambake/forge.db").exists());
    let check = doctor_check(&repo, "forge");
    assert!(check["fix"].as_str().unwrap().contains("backup"), "{check}");
}

#[test]
fn a_truncated_journal_is_refused_then_rebuilt_from_the_forge_and_git() {
    let repo = repo_after_a_run();
    repo.clambake(&["agent", "validate", "--all"]).success();
    let journal = truncate(&repo, "journal.db");

    let refused = repo.clambake(&["agent", "history", "--agent", "agent001"]);
    assert_eq!(refused.code, 9, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("journal.db is damaged: it is empty (0 bytes)"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("clambake agent rebuild-journal"),
        "{}",
        refused.stderr
    );
    let check = doctor_check(&repo, "journal");
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("clambake agent rebuild-journal"),
        "{check}"
    );

    let rebuilt = repo
        .clambake(&["agent", "rebuild-journal", "--json"])
        .success()
        .json();
    let aside = rebuilt["moved_aside"][0].as_str().unwrap();
    assert_eq!(
        std::fs::metadata(aside).unwrap().len(),
        0,
        "kept, not deleted"
    );
    assert!(journal.exists());
    let slots = rebuilt["slots"].as_object().unwrap();
    assert_eq!(slots.len(), 2, "{rebuilt}");
    for state in slots.values() {
        assert!(state["Bundled"].is_object(), "{rebuilt}");
    }
    let validated = repo.clambake(&["agent", "validate", "--all"]);
    assert_eq!(validated.code, 0, "{}", validated.stdout);
    let history = repo
        .clambake(&["agent", "history", "--agent", "agent001", "--json"])
        .success()
        .json();
    let entries = history.as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["cause"]
            .as_str()
            .unwrap()
            .starts_with("rebuilt from the forge and git")),
        "{history}"
    );
}
