//! The checker itself, on small trees that break each rule.

use super::*;

fn tree(files: &[(&str, &str)]) -> (Graph, BTreeMap<String, String>) {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect();
    (Graph::read(CRATES, &files), files)
}

const CORE: (&str, &str) = ("crates/clambake-core/src/lib.rs", "pub mod text;\n");
const CORE_TEXT: (&str, &str) = ("crates/clambake-core/src/text.rs", "pub fn pure() {}\n");

fn path(text: &str) -> ModPath {
    text.split("::").map(str::to_owned).collect()
}

#[test]
fn paths_resolve_through_groups_renames_reexports_and_aliases() {
    let (graph, _) = tree(&[
        (
            "src/lib.rs",
            "pub use clambake_core as core;\npub mod app;\npub mod adapters;\n",
        ),
        ("src/adapters/mod.rs", "pub mod git;\n"),
        (
            "src/adapters/git.rs",
            "pub struct Git;\nimpl Git { pub fn new() -> Self { Git } }\n",
        ),
        (
            "src/app/mod.rs",
            "pub mod error;\npub mod run;\npub use error::AppError;\n",
        ),
        ("src/app/error.rs", "pub struct AppError;\n"),
        (
            "src/app/run.rs",
            "use crate::{app::{AppError as E}, core::text};\n\
             fn go() { let _ = crate::adapters::git::Git::new(); let _: Option<E> = None; \
             text::pure(); }\n",
        ),
        CORE,
        CORE_TEXT,
    ]);
    assert!(graph.reexports(&path("clambake::app"), "AppError"));
    let edges: BTreeSet<(String, String)> = graph
        .edges()
        .into_iter()
        .map(|e| (name(&e.from), name(&e.to)))
        .collect();
    for (from, to) in [
        ("clambake::app::run", "clambake::app::error"),
        ("clambake::app::run", "clambake_core::text"),
        ("clambake::app::run", "clambake::adapters::git"),
    ] {
        assert!(
            edges.contains(&(from.to_owned(), to.to_owned())),
            "{from} -> {to}: {edges:?}"
        );
    }
    assert!(
        !edges.iter().any(|(from, _)| from == "clambake::app"),
        "a re-export is no dependency of its own: {edges:?}"
    );
}

#[test]
fn an_adapter_named_by_the_app_is_caught_unless_allowed() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "pub mod app;\npub mod adapters;\n"),
        ("src/adapters.rs", "pub struct Git;\n"),
        ("src/app.rs", "fn go() { let _ = crate::adapters::Git; }\n"),
        CORE,
        CORE_TEXT,
    ]);
    assert_eq!(app_and_cli_reaching_adapters(&graph, &[]).len(), 1);
    assert!(app_and_cli_reaching_adapters(&graph, &["clambake::app"]).is_empty());
}

#[test]
fn a_port_reaching_up_into_the_app_is_caught() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "pub mod app;\npub mod ports;\n"),
        ("src/app.rs", "pub struct Workspace;\n"),
        ("src/ports.rs", "use super::app::Workspace;\n"),
        CORE,
        CORE_TEXT,
    ]);
    assert_eq!(ports_and_adapters_reaching_up(&graph).len(), 1);
}

#[test]
fn cycles_between_siblings_are_caught_but_a_child_using_its_parent_is_none() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod cli;\n"),
        ("src/a/mod.rs", "pub mod inner;\n"),
        ("src/a/inner.rs", "pub struct A;\nfn f(_: crate::b::B) {}\n"),
        ("src/b.rs", "pub struct B;\nuse crate::a::inner::A;\n"),
        (
            "src/cli/mod.rs",
            "mod agent;\npub fn shared() {}\nfn go() { agent::run() }\n",
        ),
        ("src/cli/agent.rs", "pub fn run() { super::shared() }\n"),
        CORE,
        CORE_TEXT,
    ]);
    let found = cycles(&graph);
    let found: Vec<&str> = found.iter().map(|cycle| cycle.parts.as_str()).collect();
    assert_eq!(found, ["clambake::a <-> clambake::b"]);
}

#[test]
fn a_child_using_its_parents_items_is_no_cycle_while_the_parent_does_not_use_it() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "pub mod cli;\n"),
        (
            "src/cli/mod.rs",
            "pub mod agent;\npub mod output;\npub fn shared() {}\n",
        ),
        (
            "src/cli/agent.rs",
            "pub fn run() { super::shared(); super::output::print() }\n",
        ),
        ("src/cli/output.rs", "pub fn print() {}\n"),
        CORE,
        CORE_TEXT,
    ]);
    assert_eq!(cycles(&graph), []);
}

#[test]
fn test_only_code_is_left_out() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\n"),
        ("src/a.rs", "pub struct A;\nuse crate::b::B;\n"),
        (
            "src/b.rs",
            "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n",
        ),
        CORE,
        CORE_TEXT,
    ]);
    assert_eq!(cycles(&graph), []);
}

#[test]
fn a_long_file_is_caught_counting_only_lines_before_its_tests() {
    let long = "fn f() {}\n".repeat(MAX_LINES + 1);
    let tested = format!(
        "{}#[cfg(test)]\nmod tests {{\n{long}}}\n",
        "fn f() {}\n".repeat(10)
    );
    let files = BTreeMap::from([
        ("src/long.rs".to_owned(), long),
        ("src/tested.rs".to_owned(), tested),
    ]);
    assert_eq!(
        long_files(&files),
        [("src/long.rs".to_owned(), MAX_LINES + 1)]
    );
}

#[test]
fn impure_core_code_is_caught_however_it_is_spelled() {
    let (graph, _) = tree(&[
        ("src/lib.rs", "\n"),
        (
            "crates/clambake-core/src/lib.rs",
            "pub mod text;\npub mod clock;\npub mod run;\n",
        ),
        (
            "crates/clambake-core/src/text.rs",
            "use std::{fs, process::Command as C};\n\
             pub fn read() { let _ = fs::read(\"x\"); let _ = C::new(\"ls\"); }\n",
        ),
        (
            "crates/clambake-core/src/clock.rs",
            "use jiff::Timestamp;\npub fn now() { println!(\"{}\", Timestamp::now()); \
             let _ = std::env::var(\"X\"); }\n",
        ),
        ("crates/clambake-core/src/run.rs", "pub async fn go() {}\n"),
    ]);
    let found = impure_core_paths(&graph);
    for bad in [
        "`std::fs`",
        "`std::fs::read`",
        "`std::process::Command::new`",
        "`jiff::Timestamp::now`",
        "`std::env::var`",
        "clambake_core::run is async",
    ] {
        assert!(
            found.iter().any(|line| line.contains(bad)),
            "{bad}: {found:#?}"
        );
    }
}

#[test]
fn an_io_crate_in_the_cores_tree_is_caught() {
    let tree = "clambake-core v0.1.0\nregex v1.0.0\ntokio v1.0.0\nlibc v0.2.0 (*)\n";
    assert_eq!(
        io_crates(tree),
        BTreeSet::from(["libc".to_owned(), "tokio".to_owned()])
    );
}
