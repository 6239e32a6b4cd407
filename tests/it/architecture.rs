//! The layering rules of DESIGN.md, checked on the source itself.

use std::path::Path;

/// What the pure core must never reach for: I/O, processes, the environment, async, wall time.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "std::fs",
    "std::io::",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "tokio",
    "async fn",
    ".await",
    "rusqlite",
    "Timestamp::now",
    "SystemTime",
    "Instant::now",
    "crate::adapters",
    "crate::app",
    "crate::cli",
];

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_core_does_no_io_and_depends_on_nothing_above_it() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/clambake-core/src");
    let files = rust_files(&core);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in FORBIDDEN_IN_CORE {
            assert!(
                !text.contains(forbidden),
                "{} uses `{forbidden}`",
                file.display()
            );
        }
    }
}

#[test]
fn ports_and_adapters_do_not_reach_up_into_the_app_or_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["ports", "adapters"] {
        for file in rust_files(&src.join(layer)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for upper in ["crate::app", "crate::cli"] {
                assert!(!text.contains(upper), "{} uses `{upper}`", file.display());
            }
        }
    }
}
