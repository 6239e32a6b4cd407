//! Long text reaches the forge through `--body-file PATH` or `--body-file -` (standard input) on
//! `issue create`, `issue comment` and `pr create`: a 1 MB body, far past the 128 KiB Linux
//! allows one argument, arrives whole.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{CliOutput, TestRepo};

/// A megabyte of text in lines, ending without a newline, with characters a shell would eat.
fn megabyte() -> String {
    let line = "Long text: `$(not run)` | ; & \"quoted\" — ünïcödé\n";
    let mut text = line.repeat(1024 * 1024 / line.len() + 1);
    text.push_str("the end");
    text
}

/// `clambake args` in `repo` with `input` on its standard input.
fn clambake_with_stdin(repo: &TestRepo, args: &[&str], input: &str) -> CliOutput {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clambake"))
        .current_dir(repo.path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // A command that fails before reading all of it closes the pipe: its output says why.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    let _ = writer.join().unwrap();
    CliOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn initialized() -> TestRepo {
    let repo = TestRepo::new();
    repo.clambake(&["init"]).success();
    repo
}

#[test]
fn a_megabyte_body_arrives_whole_from_a_file_or_standard_input() {
    let repo = initialized();
    let text = megabyte();
    assert!(text.len() > 1024 * 1024);
    let file = repo.path().join("body.md");
    std::fs::write(&file, &text).unwrap();
    let file = file.to_str().unwrap();

    let issue = repo
        .clambake(&[
            "issue",
            "create",
            "--title",
            "Big",
            "--body-file",
            file,
            "--json",
        ])
        .success()
        .json();
    assert_eq!(issue["body"].as_str().unwrap(), text);

    clambake_with_stdin(&repo, &["issue", "comment", "1", "--body-file", "-"], &text).success();
    let shown = repo
        .clambake(&["issue", "show", "1", "--json"])
        .success()
        .json();
    assert_eq!(shown["issue"]["body"].as_str().unwrap(), text);
    assert_eq!(shown["comments"][0]["body"].as_str().unwrap(), text);

    repo.branch_with_file("feature", "main", "feature.txt", "x\n");
    let pr = clambake_with_stdin(
        &repo,
        &[
            "pr",
            "create",
            "--head",
            "feature",
            "--title",
            "Big",
            "--body-file",
            "-",
            "--json",
        ],
        &text,
    )
    .success()
    .json();
    assert_eq!(pr["body"].as_str().unwrap(), text);
}

#[test]
fn a_body_is_given_one_way_and_a_missing_file_is_named() {
    let repo = initialized();
    let both = repo.clambake(&[
        "issue",
        "create",
        "--title",
        "T",
        "--body",
        "b",
        "--body-file",
        "body.md",
    ]);
    assert_ne!(both.code, 0);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );

    let missing = repo.path().join("nowhere.md");
    let out = repo.clambake(&[
        "issue",
        "create",
        "--title",
        "T",
        "--body-file",
        missing.to_str().unwrap(),
    ]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("nowhere.md"), "{}", out.stderr);
    assert!(
        repo.clambake(&["issue", "list", "--json"]).success().json() == serde_json::json!([]),
        "nothing was created"
    );

    repo.clambake(&["issue", "create", "--title", "T"])
        .success();
    let empty = repo.clambake(&["issue", "comment", "1"]);
    assert_ne!(empty.code, 0);
    assert!(empty.stderr.contains("--body-file"), "{}", empty.stderr);
}
