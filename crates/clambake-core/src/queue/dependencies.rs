//! The blockers an issue's body names: `Depends on #N` and `Blocked by #N`, with lists such as
//! `Depends on #1, #2 and #3`, in any case. Bodies are written by strangers and are Markdown,
//! read as GitHub renders them: what is inside code spans, code blocks, block quotes or HTML
//! (comments included) is not the author's statement, so it names nothing.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use regex::Regex;

/// A keyword, then `#N`s separated by commas, `and`, `&` or spaces. `#N` must stand alone:
/// `other/repo#5` is another repository's issue, `#5a` no reference at all.
static STATEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:depends\s+on|blocked\s+by)\s*:?\s*
        (?P<list>\#\d+\b(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+)\#\d+\b)*)",
    )
    .expect("the statement pattern is valid")
});

static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"#(\d+)").expect("the reference pattern is valid"));

/// The issue numbers `body` names as blockers, lowest first, each once. Numbers that do not
/// fit, and `#0`, are left out.
pub fn blockers(body: &str) -> BTreeSet<u64> {
    let mut found = BTreeSet::new();
    for prose in prose(body) {
        for statement in STATEMENT.captures_iter(&prose) {
            for reference in REFERENCE.captures_iter(&statement["list"]) {
                if let Ok(number) = reference[1].parse::<u64>()
                    && number > 0
                {
                    found.insert(number);
                }
            }
        }
    }
    found
}

/// The runs of the body's own prose, outside code, quotes and HTML. A run ends wherever
/// something else stands between two pieces of text (a code span, a block's end), so a
/// statement never joins words the reader sees apart; a line break inside a paragraph is a
/// space.
fn prose(body: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    let mut hidden = 0usize;
    let mut end_run = |run: &mut String| {
        if !run.trim().is_empty() {
            runs.push(std::mem::take(run));
        }
        run.clear();
    };
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::BlockQuote(_) | Tag::HtmlBlock) => {
                end_run(&mut run);
                hidden += 1;
            }
            Event::End(TagEnd::CodeBlock | TagEnd::BlockQuote(_) | TagEnd::HtmlBlock) => {
                hidden = hidden.saturating_sub(1);
            }
            Event::Text(text) if hidden == 0 => run.push_str(&text),
            Event::SoftBreak | Event::HardBreak if hidden == 0 => run.push(' '),
            Event::Start(Tag::Emphasis | Tag::Strong | Tag::Link { .. })
            | Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Link) => {}
            _ => end_run(&mut run),
        }
    }
    end_run(&mut run);
    runs
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn numbers(body: &str) -> Vec<u64> {
        blockers(body).into_iter().collect()
    }

    #[test]
    fn both_keywords_in_any_case() {
        assert_eq!(numbers("Depends on #1"), [1]);
        assert_eq!(numbers("blocked by #2."), [2]);
        assert_eq!(numbers("DEPENDS ON: #3"), [3]);
        assert_eq!(numbers("This is Blocked  By #4 for now"), [4]);
        assert_eq!(numbers("depends\non #5"), [5]);
    }

    #[test]
    fn lists() {
        assert_eq!(numbers("Depends on #1, #2 and #3"), [1, 2, 3]);
        assert_eq!(numbers("Depends on #1, #2, and #3"), [1, 2, 3]);
        assert_eq!(numbers("Blocked by #7 & #8 #9"), [7, 8, 9]);
        assert_eq!(numbers("Depends on #1 and #1"), [1]);
        assert_eq!(
            numbers("- Depends on #4\n- Blocked by #2\n\nDepends on #3"),
            [2, 3, 4]
        );
        // The list ends where something else begins.
        assert_eq!(numbers("Depends on #1 because #2 was hard"), [1]);
    }

    #[test]
    fn what_is_not_a_statement() {
        for body in [
            "Mentions #1 but depends on nothing",
            "Depends on other/repo#5",
            "Depends on #5a",
            "Depends on #",
            "Depends on #0",
            "Depends on #99999999999999999999999",
            "independs on #3",
            "See #2; it depends on luck",
        ] {
            assert_eq!(numbers(body), Vec::<u64>::new(), "{body}");
        }
    }

    #[test]
    fn code_quotes_and_html_name_nothing() {
        for body in [
            "`Depends on #1`",
            "Depends on `#1`",
            "```\nDepends on #1\n```",
            "~~~text\nBlocked by #1\n~~~",
            "Intro\n\n    Depends on #1\n",
            "> Depends on #1",
            "> quoted\n> Blocked by #1",
            "<!-- Depends on #1 -->",
            "<div>\nDepends on #1\n</div>",
        ] {
            assert_eq!(numbers(body), Vec::<u64>::new(), "{body}");
        }
        assert_eq!(numbers("> Depends on #1\n\nDepends on #2"), [2]);
        assert_eq!(numbers("Depends on **#3** and [#4](https://x/4)"), [3, 4]);
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![", ", ",", " and ", ", and ", " & ", " ", "\n"])
    }

    fn statement() -> impl Strategy<Value = (String, Vec<u64>)> {
        (
            prop::sample::select(vec![
                "Depends on",
                "depends on:",
                "Blocked by",
                "BLOCKED BY",
            ]),
            prop::collection::vec((1u64..100_000, separator()), 1..6),
        )
            .prop_map(|(keyword, list)| {
                let mut text = format!("{keyword} ");
                for (i, (number, sep)) in list.iter().enumerate() {
                    if i > 0 {
                        text.push_str(sep);
                    }
                    text.push_str(&format!("#{number}"));
                }
                (text, list.into_iter().map(|(n, _)| n).collect())
            })
    }

    /// Prose that names no blocker, however it is placed.
    fn filler() -> impl Strategy<Value = String> {
        "[a-zA-Z ,.#0-9]{0,40}".prop_filter("no keyword", |s| {
            let lower = s.to_lowercase();
            !lower.contains("on") && !lower.contains("by")
        })
    }

    proptest! {
        #[test]
        fn a_statement_names_exactly_its_list(
            (text, list) in statement(),
            before in filler(),
            after in filler(),
        ) {
            let body = format!("{before}\n\n{text}\n\n{after}");
            let expected: BTreeSet<u64> = list.into_iter().collect();
            prop_assert_eq!(blockers(&body), expected);
        }

        #[test]
        fn hidden_statements_name_nothing((text, _) in statement(), how in 0..4usize) {
            let body = match how {
                0 => format!("```\n{text}\n```"),
                1 => format!("> {}", text.replace('\n', "\n> ")),
                2 => format!("<!--\n{text}\n-->"),
                _ => format!("`{}`", text.replace('\n', " ")),
            };
            prop_assert!(blockers(&body).is_empty(), "{}", body);
        }

        #[test]
        fn any_body_is_read_without_panicking_and_names_only_what_it_says(body in any::<String>()) {
            let written: BTreeSet<u64> = REFERENCE
                .captures_iter(&body)
                .filter_map(|c| c[1].parse().ok())
                .collect();
            prop_assert!(blockers(&body).is_subset(&written));
        }
    }
}
