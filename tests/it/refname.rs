//! The pure branch-name check agrees with `git check-ref-format --branch`.

use std::process::Command;

use clambake::core::branches::refname::validate_branch_name;
use proptest::prelude::*;

fn git_accepts(name: &str) -> bool {
    Command::new("git")
        .args(["check-ref-format", "--branch", name])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
        .status
        .success()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn agrees_with_git(name in "[a-c./@{}~^: *?\\[\\\\\t-]{1,8}|(lock|HEAD|[a.-]{0,2})(/[a.@{]{0,3}(\\.lock)?)*") {
        // `@{-N}` is git's shorthand for a previously checked-out branch, not a name.
        prop_assume!(!name.starts_with("@{-"));
        prop_assert_eq!(validate_branch_name(&name).is_ok(), git_accepts(&name), "{:?}", name);
    }
}

#[test]
fn agrees_with_git_on_the_edge_cases() {
    for name in [
        "@",
        "HEAD",
        "HEAD/x",
        "-x",
        "a/.b",
        "x@y",
        "a.lock",
        "a.lock.b",
        "a.",
        "a@{b",
        "a//b",
        "/a",
        "a/",
        "caf\u{e9}",
        "agent001/12-fix",
    ] {
        assert_eq!(
            validate_branch_name(name).is_ok(),
            git_accepts(name),
            "{name:?}"
        );
    }
}
