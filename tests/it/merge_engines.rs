//! Git is the authority on trial merges: on generated repositories (edits that overlap, touch
//! or miss each other, deletes, renames, mode changes, binary files, add/add, a file where the
//! other side made a directory) gitoxide's in-process merge must agree with `git merge-tree`
//! wherever it calls a merge clean (the same tree), and the engine Clambake uses
//! ([`GixMerges`]) must give git's answer everywhere. `MERGE_ENGINE_CASES` (60 by default)
//! repositories of 20 merge pairs each are tried; 500 make 10,000 merges.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use clambake::adapters::git::{Git, GixMerges};
use clambake::ports::git::{MergeEngine, MergeSpec, TrialMerge};
use proptest::prelude::*;

/// Merge pairs per generated repository.
const PAIRS: usize = 20;

const TEXT_FILES: [&str; 4] = ["a.txt", "b.txt", "src/c.txt", "src/d.txt"];
const LINES: usize = 8;

#[derive(Debug, Clone)]
enum Change {
    /// Line `line` of a text file gets new text (`tag` tells the sides' versions apart).
    Edit {
        file: usize,
        line: usize,
        tag: u8,
    },
    /// A line inserted before `line`.
    Insert {
        file: usize,
        line: usize,
        tag: u8,
    },
    Delete {
        file: usize,
    },
    /// Moved into `moved/`, perhaps edited too.
    Rename {
        file: usize,
        edit: Option<(usize, u8)>,
    },
    /// The executable bit flipped.
    Chmod {
        file: usize,
    },
    /// The binary file rewritten.
    Binary {
        tag: u8,
    },
    /// A new file; both sides may add the same path.
    Add {
        path: usize,
        tag: u8,
    },
    /// A file under a path the base has as a file: a directory where the other side's file is.
    FileToDirectory {
        file: usize,
        tag: u8,
    },
}

fn change() -> impl Strategy<Value = Change> {
    let file = 0..TEXT_FILES.len();
    let line = 0..LINES;
    let tag = 0u8..3;
    prop_oneof![
        4 => (file.clone(), line.clone(), tag.clone())
            .prop_map(|(file, line, tag)| Change::Edit { file, line, tag }),
        2 => (file.clone(), line.clone(), tag.clone())
            .prop_map(|(file, line, tag)| Change::Insert { file, line, tag }),
        1 => file.clone().prop_map(|file| Change::Delete { file }),
        1 => (file.clone(), proptest::option::of((line, tag.clone())))
            .prop_map(|(file, edit)| Change::Rename { file, edit }),
        1 => file.clone().prop_map(|file| Change::Chmod { file }),
        1 => tag.clone().prop_map(|tag| Change::Binary { tag }),
        1 => (0usize..2, tag.clone()).prop_map(|(path, tag)| Change::Add { path, tag }),
        1 => (file, tag).prop_map(|(file, tag)| Change::FileToDirectory { file, tag }),
    ]
}

/// A tree: path to (mode, content).
type Tree = BTreeMap<String, (&'static str, Vec<u8>)>;

fn base_tree() -> Tree {
    let mut tree = Tree::new();
    for (n, path) in TEXT_FILES.iter().enumerate() {
        let text: String = (0..LINES).map(|l| format!("file {n} line {l}\n")).collect();
        tree.insert((*path).to_owned(), ("100644", text.into_bytes()));
    }
    tree.insert("bin.dat".to_owned(), ("100644", vec![0, 1, 2, 255, 0, 7]));
    tree.insert(
        "run.sh".to_owned(),
        ("100755", b"#!/bin/sh\necho run\n".to_vec()),
    );
    tree
}

fn lines(tree: &Tree, path: &str) -> Option<Vec<String>> {
    let (_, content) = tree.get(path)?;
    Some(
        String::from_utf8_lossy(content)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

fn set_lines(tree: &mut Tree, path: &str, lines: &[String]) {
    let mode = tree.get(path).map_or("100644", |(mode, _)| *mode);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    tree.insert(path.to_owned(), (mode, text.into_bytes()));
}

fn apply(tree: &mut Tree, change: &Change, side: &str) {
    match *change {
        Change::Edit { file, line, tag } | Change::Insert { file, line, tag } => {
            let path = TEXT_FILES[file];
            if let Some(mut text) = lines(tree, path) {
                let new = format!("{side} {tag} edit");
                let at = line.min(text.len());
                if matches!(change, Change::Insert { .. }) || at == text.len() {
                    text.insert(at, new);
                } else {
                    text[at] = new;
                }
                set_lines(tree, path, &text);
            }
        }
        Change::Delete { file } => {
            tree.remove(TEXT_FILES[file]);
        }
        Change::Rename { file, edit } => {
            let path = TEXT_FILES[file];
            if let Some(entry) = tree.remove(path) {
                let name = path.rsplit('/').next().unwrap();
                let moved = format!("moved/{name}");
                tree.insert(moved.clone(), entry);
                if let Some((line, tag)) = edit
                    && let Some(mut text) = lines(tree, &moved)
                {
                    let at = line.min(text.len() - 1);
                    text[at] = format!("{side} {tag} moved edit");
                    set_lines(tree, &moved, &text);
                }
            }
        }
        Change::Chmod { file } => {
            if let Some(entry) = tree.get_mut(TEXT_FILES[file]) {
                entry.0 = if entry.0 == "100755" {
                    "100644"
                } else {
                    "100755"
                };
            }
        }
        Change::Binary { tag } => {
            tree.insert(
                "bin.dat".to_owned(),
                ("100644", vec![0, tag, 0, 255, side.len() as u8]),
            );
        }
        Change::Add { path, tag } => {
            let path = ["new.txt", "src/new.txt"][path];
            let text = format!("added by {side} {tag}\nsecond line\n");
            tree.insert(path.to_owned(), ("100644", text.into_bytes()));
        }
        Change::FileToDirectory { file, tag } => {
            let path = TEXT_FILES[file];
            tree.remove(path);
            tree.insert(
                format!("{path}/inner.txt"),
                ("100644", format!("{side} {tag}\n").into_bytes()),
            );
        }
    }
}

/// One merge pair: the changes of ours and of theirs on top of the base.
type Pair = (Vec<Change>, Vec<Change>);

fn pairs() -> impl Strategy<Value = Vec<Pair>> {
    let side = || proptest::collection::vec(change(), 0..4);
    proptest::collection::vec((side(), side()), PAIRS)
}

/// Writes the base and every side as commits with one `git fast-import`; returns the base's
/// and each pair's commits, by their marks' order.
fn write_repository(dir: &Path, pairs: &[Pair]) -> (String, Vec<(String, String)>) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    let mut stream = Vec::new();
    let commit = |stream: &mut Vec<u8>, mark: usize, from: Option<usize>, tree: &Tree| {
        writeln!(stream, "commit refs/heads/c{mark}\nmark :{mark}").unwrap();
        writeln!(
            stream,
            "committer T <t@example.com> 1700000000 +0000\ndata 1\nc"
        )
        .unwrap();
        if let Some(from) = from {
            writeln!(stream, "from :{from}").unwrap();
        }
        writeln!(stream, "deleteall").unwrap();
        for (path, (mode, content)) in tree {
            writeln!(stream, "M {mode} inline {path}\ndata {}", content.len()).unwrap();
            stream.extend_from_slice(content);
            stream.push(b'\n');
        }
    };
    let base = base_tree();
    commit(&mut stream, 1, None, &base);
    for (n, (ours, theirs)) in pairs.iter().enumerate() {
        for (offset, (changes, side)) in
            [(ours, "ours"), (theirs, "theirs")].into_iter().enumerate()
        {
            let mut tree = base.clone();
            for change in changes {
                apply(&mut tree, change, side);
            }
            commit(&mut stream, 2 + 2 * n + offset, Some(1), &tree);
        }
    }
    let mut import = Command::new("git")
        .args(["fast-import", "--quiet", "--export-marks=marks"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    import.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(import.wait().unwrap().success());
    let marks: BTreeMap<usize, String> = std::fs::read_to_string(dir.join("marks"))
        .unwrap()
        .lines()
        .map(|line| {
            let (mark, id) = line.split_once(' ').unwrap();
            (mark[1..].parse().unwrap(), id.to_owned())
        })
        .collect();
    let sides = (0..pairs.len())
        .map(|n| (marks[&(2 + 2 * n)].clone(), marks[&(3 + 2 * n)].clone()))
        .collect();
    (marks[&1].clone(), sides)
}

fn check(pairs: &[Pair]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let (base, sides) = write_repository(dir.path(), pairs);
    let git = Git::new(dir.path());
    let engine = GixMerges::open(Git::new(dir.path())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let specs: Vec<MergeSpec<'_>> = sides
        .iter()
        .enumerate()
        .map(|(n, (ours, theirs))| MergeSpec {
            // Half against the base explicitly, as chains are; half finding it, as pairs are.
            base: (n % 2 == 0).then_some(base.as_str()),
            ours,
            theirs,
        })
        .collect();
    let by_git = runtime.block_on(git.trial_merges(&specs)).unwrap();
    let by_engine = runtime.block_on(engine.trial_merges(&specs)).unwrap();
    for ((spec, git_says), engine_says) in specs.iter().zip(&by_git).zip(&by_engine) {
        let in_process = engine
            .merge_in_process(&base, spec.ours, spec.theirs)
            .unwrap();
        if let Some(tree) = &in_process {
            prop_assert_eq!(
                git_says,
                &TrialMerge::Clean(tree.clone()),
                "gix calls {:?} clean where git does not agree",
                spec
            );
        }
        prop_assert_eq!(
            std::mem::discriminant(git_says),
            std::mem::discriminant(engine_says),
            "the engine's verdict is git's: {:?}",
            spec
        );
        if let TrialMerge::Clean(tree) = git_says {
            prop_assert_eq!(engine_says, &TrialMerge::Clean(tree.clone()));
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("MERGE_ENGINE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_in_process_engine_gives_gits_verdict_and_tree(pairs in pairs()) {
        check(&pairs)?;
    }
}
