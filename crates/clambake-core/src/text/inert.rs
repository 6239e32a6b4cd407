//! Text that someone else wrote (issue titles, conflicting paths, agent log tails), rendered so
//! that Markdown shows it as it is and no forge reads anything into it.
//!
//! The GitHub rule relied on: references inside code spans and code blocks are not linked, and
//! only linked references in a pull request's description close issues when it merges
//! ("Linking a pull request to an issue": keywords must be followed by a reference GitHub
//! links). A code span also shows raw HTML, so a title cannot open or close an HTML comment.
//! The local forge's parser ([`crate::text::closing`]) follows the same rule.

use std::sync::LazyLock;

use regex::Regex;

/// `text` as one inline code span on one line: newlines, control and bidirectional characters
/// are neutralised, and the fence is one backtick longer than any run of backticks inside, so
/// nothing in `text` can end the span.
pub fn code_span(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if is_hidden(c) => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect();
    let fence = "`".repeat(longest_run(&line, '`') + 1);
    // A leading or trailing backtick would join the fence, and a text that begins and ends
    // with a space would lose one each side: a space each side keeps both (CommonMark strips
    // exactly one each side of such a span).
    let padded = line.is_empty()
        || line.starts_with('`')
        || line.ends_with('`')
        || (line.starts_with(' ') && line.ends_with(' '));
    if padded {
        format!("{fence} {line} {fence}")
    } else {
        format!("{fence}{line}{fence}")
    }
}

/// `text` as a fenced code block, its lines kept: control and bidirectional characters are
/// neutralised, and the fence is longer than any run of backticks inside.
pub fn code_block(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if is_hidden(c) => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect();
    let fence = "`".repeat((longest_run(&clean, '`') + 1).max(3));
    format!("{fence}\n{clean}\n{fence}")
}

/// `text` as one line for a terminal: tabs become spaces, and control characters (the escape
/// that starts a terminal sequence among them), line breaks and the characters that reorder or
/// hide text are neutralised, so nothing in it can move the cursor, recolour or retitle.
pub fn terminal_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if is_hidden(c) => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

/// Control characters (NUL included), and the characters that reorder or hide text: bidi
/// embeddings, overrides and isolates, directional marks, zero-width characters.
fn is_hidden(c: char) -> bool {
    static FORMAT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\p{Cf}$").expect("the format-character class compiles"));
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
        )
        || FORMAT.is_match(c.encode_utf8(&mut [0; 4]))
}

fn longest_run(text: &str, of: char) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == of { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_span_outlasts_every_backtick_run_inside() {
        assert_eq!(code_span("plain"), "`plain`");
        assert_eq!(code_span(" spaced "), "`  spaced  `");
        assert_eq!(code_span("`tick"), "`` `tick ``");
        assert_eq!(code_span("a `b` c"), "``a `b` c``");
        assert_eq!(code_span("```"), "```` ``` ````");
        assert_eq!(code_span(""), "`  `");
    }

    #[test]
    fn a_code_span_is_one_line_with_nothing_hidden() {
        let span = code_span("one\ntwo\r\0three\u{202E}four\u{2066}\u{200B}");
        assert_eq!(span, "`one two \u{FFFD}three\u{FFFD}four\u{FFFD}\u{FFFD}`");
    }

    #[test]
    fn a_code_block_keeps_lines_and_outlasts_fences_inside() {
        assert_eq!(code_block("a\nb"), "```\na\nb\n```");
        assert_eq!(code_block("x\n````\ny"), "`````\nx\n````\ny\n`````");
        assert_eq!(code_block("bell\u{7}"), "```\nbell\u{FFFD}\n```");
    }

    #[test]
    fn a_terminal_line_moves_no_cursor() {
        assert_eq!(
            terminal_line("red \u{1b}[31mtext\u{1b}]0;title\u{7}\tend\r\n\u{202E}"),
            "red \u{FFFD}[31mtext\u{FFFD}]0;title\u{FFFD} end\u{FFFD}\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn every_format_character_and_variation_selector_is_hidden() {
        let span = code_span("Fix typo\u{E0049}\u{E0047}\u{AD}\u{180E}\u{FE0F}\u{E0100}");
        assert_eq!(
            span,
            "`Fix typo\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}`"
        );
    }
}
