//! Rendering for people (tables, sentences) and for programs (`--json`).

use std::io::IsTerminal;

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialize to JSON")
    );
}

/// A borderless table with a header row, wrapped to the terminal's width when there is one.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(NOTHING);
    if std::io::stdout().is_terminal() {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    }
    table.set_header(header);
    table
}

/// Prints a table, or `empty` when it has no rows.
pub fn print_table(table: &Table, empty: &str) {
    if table.row_count() == 0 {
        println!("{empty}");
    } else {
        for line in table.to_string().lines() {
            println!("{}", line.trim_end());
        }
    }
}

/// A timestamp as people read it: `2026-11-21 05:46 UTC`.
pub fn when(timestamp: &jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// A conversation, oldest first, each comment under its author and time.
pub fn print_comments(comments: &[crate::ports::forge::Comment]) {
    for comment in comments {
        println!(
            "\n--- {} at {}\n{}",
            comment.author,
            when(&comment.created_at),
            comment.body
        );
    }
}
