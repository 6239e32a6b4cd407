//! The layering rules of `ARCHITECTURE.md` (cli -> app -> ports <- adapters, everything on a
//! pure core), checked on the real module graph that [`graph`] reads from the source with `syn`,
//! not on substrings.
//! Each rule is a function returning its violations, so that the tests in [`checker`] can show
//! it fails on a small tree that breaks it.

mod checker;
mod graph;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use graph::{Edge, Graph, ModPath, Target};

/// The composition root: the one module of `app/` and `cli/` that names adapters. It builds
/// them and hands the rest of the app their ports.
const COMPOSITION_ROOT: &[&str] = &["clambake::app::compose"];

/// The most lines a source file may have before its `#[cfg(test)]` module.
const MAX_LINES: usize = 600;

/// What the pure core's code must not name: I/O, processes, the environment, threads, the
/// wall clock, async runtimes and databases.
const IMPURE_PATHS: &[&str] = &[
    "std::fs",
    "std::io",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "std::time::SystemTime",
    "std::time::Instant",
    "jiff::Timestamp::now",
    "jiff::Zoned::now",
    "tokio",
    "rusqlite",
    "nix",
    "tempfile",
];

/// Crates that do I/O, none of which the core may depend on, even indirectly.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "nix",
    "libc",
    "tempfile",
    "async-trait",
    "futures-util",
    "axum",
    "tracing-subscriber",
    "crossterm",
];

const CRATES: &[(&str, &str)] = &[
    ("clambake", "src/lib.rs"),
    ("clambake_core", "crates/clambake-core/src/lib.rs"),
];

fn name(path: &ModPath) -> String {
    path.join("::")
}

fn under(path: &ModPath, prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Rule (a): `app/` and `cli/` name no adapter, but for `allowed` modules.
fn app_and_cli_reaching_adapters(graph: &Graph, allowed: &[&str]) -> Vec<Edge> {
    graph
        .edges()
        .into_iter()
        .filter(|edge| {
            (under(&edge.from, &["clambake", "app"]) || under(&edge.from, &["clambake", "cli"]))
                && under(&edge.to, &["clambake", "adapters"])
                && !allowed.contains(&name(&edge.from).as_str())
        })
        .collect()
}

/// Rule (b): ports and adapters never depend on the app or the command line.
fn ports_and_adapters_reaching_up(graph: &Graph) -> Vec<Edge> {
    graph
        .edges()
        .into_iter()
        .filter(|edge| {
            (under(&edge.from, &["clambake", "ports"])
                || under(&edge.from, &["clambake", "adapters"]))
                && (under(&edge.to, &["clambake", "app"]) || under(&edge.to, &["clambake", "cli"]))
        })
        .collect()
}

/// An import cycle: modules that all reach each other, and one edge for each step between them.
#[derive(Debug, PartialEq, Eq)]
struct Cycle {
    /// The modules, sorted, as `a <-> b <-> c`.
    parts: String,
    edges: Vec<Edge>,
}

/// Rule (c): no import cycles. Every edge counts once, between the two modules that hold its
/// ends directly under their closest common ancestor: two sibling modules. A child module is
/// a part of its parent, split off to keep files short (`impl Orchestrator` spread over the
/// files of `orchestrator/`), so its edges to its ancestors' own items do not count: a parent
/// and its children may use each other, but siblings may not go round in a circle (two
/// domains of the app, two runtimes, two commands). Each strongly connected set of sibling
/// modules is one cycle.
fn cycles(graph: &Graph) -> Vec<Cycle> {
    // For each common ancestor: its lifted edges, from one of its parts to another.
    let mut levels: BTreeMap<ModPath, BTreeMap<(ModPath, ModPath), Edge>> = BTreeMap::new();
    for edge in graph.edges() {
        let common: ModPath = edge
            .from
            .iter()
            .zip(&edge.to)
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.clone())
            .collect();
        if common.is_empty() || common.len() == edge.to.len() {
            continue;
        }
        let part = |path: &ModPath| path[..(common.len() + 1).min(path.len())].to_vec();
        let parts = (part(&edge.from), part(&edge.to));
        levels
            .entry(common)
            .or_default()
            .entry(parts)
            .or_insert(edge);
    }
    let mut found = Vec::new();
    for lifted in levels.values() {
        let mut next: BTreeMap<&ModPath, BTreeSet<&ModPath>> = BTreeMap::new();
        for (from, to) in lifted.keys() {
            next.entry(from).or_default().insert(to);
        }
        let reach: BTreeMap<&ModPath, BTreeSet<&ModPath>> = next
            .keys()
            .map(|&start| (start, reachable(start, &next)))
            .collect();
        let mut done = BTreeSet::new();
        for (&start, from_start) in &reach {
            if done.contains(start) || !from_start.contains(start) {
                continue;
            }
            let members: BTreeSet<&ModPath> = from_start
                .iter()
                .copied()
                .filter(|m| reach.get(m).is_some_and(|r| r.contains(start)))
                .collect();
            done.extend(members.iter().copied());
            found.push(Cycle {
                parts: members
                    .iter()
                    .map(|m| name(m))
                    .collect::<Vec<_>>()
                    .join(" <-> "),
                edges: lifted
                    .iter()
                    .filter(|((from, to), _)| members.contains(from) && members.contains(to))
                    .map(|(_, edge)| edge.clone())
                    .collect(),
            });
        }
    }
    found
}

/// Every module reachable from `start` in one step or more.
fn reachable<'a>(
    start: &'a ModPath,
    next: &BTreeMap<&'a ModPath, BTreeSet<&'a ModPath>>,
) -> BTreeSet<&'a ModPath> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(here) = todo.pop() {
        for &to in next.get(here).into_iter().flatten() {
            if seen.insert(to) {
                todo.push(to);
            }
        }
    }
    seen
}

/// Rule (d): files over [`MAX_LINES`] before their first `#[cfg(test)]` module, but for
/// `allowed` ones, with their length.
fn long_files(files: &BTreeMap<String, String>) -> Vec<(String, usize)> {
    files
        .iter()
        .filter_map(|(path, text)| {
            let lines: Vec<&str> = text.lines().collect();
            let tests = lines
                .windows(2)
                .position(|pair| {
                    pair[0].trim() == "#[cfg(test)]"
                        && pair[1]
                            .trim_start()
                            .trim_start_matches("pub(crate) ")
                            .starts_with("mod ")
                })
                .unwrap_or(lines.len());
            (tests > MAX_LINES).then(|| (path.clone(), tests))
        })
        .collect()
}

/// Rule (e), in the code: what the core names that is impure, and the modules that are async.
fn impure_core_paths(graph: &Graph) -> Vec<String> {
    let mut found: Vec<String> = graph
        .targets()
        .into_iter()
        .filter(|(from, _, _)| under(from, &["clambake_core"]))
        .filter_map(|(from, written, target)| match target {
            Target::External(path) => {
                let path = path.join("::");
                IMPURE_PATHS
                    .iter()
                    .any(|bad| path == *bad || path.starts_with(&format!("{bad}::")))
                    .then(|| {
                        format!(
                            "{} names `{path}` (written `{}`)",
                            name(&from),
                            written.join("::")
                        )
                    })
            }
            Target::Local(_) => None,
        })
        .collect();
    for module in graph.async_modules() {
        if under(module, &["clambake_core"]) {
            found.push(format!("{} is async", name(module)));
        }
    }
    found
}

/// Rule (e), in the dependencies: the I/O crates in `tree`, the output of `cargo tree
/// --prefix none` (one `name vX.Y.Z` a line).
fn io_crates(tree: &str) -> BTreeSet<String> {
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| IO_CRATES.contains(name))
        .map(str::to_owned)
        .collect()
}

fn source_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    for dir in ["src", "crates/clambake-core/src"] {
        collect(root, &root.join(dir), &mut files);
    }
    files
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(relative, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn real_graph() -> (Graph, BTreeMap<String, String>) {
    let files = source_files();
    (Graph::read(CRATES, &files), files)
}

fn show(edges: &[Edge]) -> String {
    edges
        .iter()
        .map(|e| format!("\n  {} -> {} (`{}`)", name(&e.from), name(&e.to), e.via))
        .collect()
}

#[test]
fn every_source_file_is_a_module_of_the_tree() {
    let (graph, files) = real_graph();
    let read: BTreeSet<&str> = graph.modules().map(|(_, file)| file).collect();
    let unread: Vec<&String> = files
        .keys()
        // A `tests.rs` is a test module kept beside the code it tests (`#[cfg(test)] mod tests;`),
        // and a `tests/` directory beside it holds that module's own children.
        .filter(|file| {
            !read.contains(file.as_str())
                && !file.ends_with("main.rs")
                && !file.ends_with("/tests.rs")
                && !file.contains("/tests/")
        })
        .collect();
    assert!(
        unread.is_empty(),
        "files no `mod` declares (or only under #[cfg(test)]), so no rule checks them: {unread:?}"
    );
}

#[test]
fn the_app_and_cli_name_no_adapter_but_the_composition_root() {
    let (graph, _) = real_graph();
    let violations = app_and_cli_reaching_adapters(&graph, COMPOSITION_ROOT);
    assert!(violations.is_empty(), "{}", show(&violations));
    let users: BTreeSet<String> = app_and_cli_reaching_adapters(&graph, &[])
        .into_iter()
        .map(|edge| name(&edge.from))
        .collect();
    let stale: Vec<&&str> = COMPOSITION_ROOT
        .iter()
        .filter(|module| !users.contains(**module))
        .collect();
    assert!(
        stale.is_empty(),
        "the composition root names no adapter: {stale:?}"
    );
}

#[test]
fn ports_and_adapters_do_not_reach_up_into_the_app_or_cli() {
    let (graph, _) = real_graph();
    let violations = ports_and_adapters_reaching_up(&graph);
    assert!(violations.is_empty(), "{}", show(&violations));
}

#[test]
fn no_module_imports_in_a_cycle() {
    let (graph, _) = real_graph();
    let found = cycles(&graph);
    let found: Vec<String> = found
        .iter()
        .map(|cycle| format!("{}:{}", cycle.parts, show(&cycle.edges)))
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn no_file_is_over_600_lines_outside_its_tests() {
    let (_, mut files) = real_graph();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    collect(root, &root.join("crates/github-fake/src"), &mut files);
    let long = long_files(&files);
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines before their tests: {long:?}"
    );
}

#[test]
fn the_core_names_no_io_clock_environment_or_process() {
    let (graph, _) = real_graph();
    let impure = impure_core_paths(&graph);
    assert!(impure.is_empty(), "{impure:#?}");
}

#[test]
fn the_core_depends_on_no_io_crate() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "--package",
            "clambake-core",
            "--edges",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    assert!(tree.contains("clambake-core"), "{tree}");
    assert_eq!(io_crates(&tree), BTreeSet::new(), "{tree}");
}
