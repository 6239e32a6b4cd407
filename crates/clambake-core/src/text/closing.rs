//! GitHub's closing keywords: `Closes #12`, `fixes: #3`, `Resolved owner/repo#7`, `fix GH-4`,
//! `closes https://host/owner/repo/issues/8` in a pull request body.
//!
//! As on GitHub, references inside code spans and fenced code blocks are not linked, so they
//! close nothing. Everything else is read as GitHub could read it: a reference to another
//! repository, or any issue URL, is taken to mean this repository's issue, so that the local
//! forge errs towards closing and a test on it catches what GitHub might close.

use std::sync::LazyLock;

use regex::Regex;

static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:[\w.-]+/[\w.-]+#|#|GH-|https?://\S+?/issues/)(\d+)\b",
    )
    .expect("the closing-keyword pattern compiles")
});

/// The issue numbers a pull request body closes, in order of first mention, without repeats.
pub fn closed_issues(body: &str) -> Vec<u64> {
    let prose = outside_code(body);
    let mut numbers = Vec::new();
    for capture in CLOSING.captures_iter(&prose) {
        if let Ok(number) = capture[1].parse::<u64>()
            && number > 0
            && !numbers.contains(&number)
        {
            numbers.push(number);
        }
    }
    numbers
}

/// `body` with its fenced code blocks and code spans blanked out (CommonMark's rules: a fence
/// is three or more backticks or tildes indented at most three spaces and runs to a closing
/// fence of the same character at least as long, or to the end; a code span runs from a
/// backtick string to the next one of the same length within its paragraph).
fn outside_code(body: &str) -> String {
    let mut prose = String::with_capacity(body.len());
    let mut paragraph = String::new();
    let mut fence: Option<(char, usize)> = None;
    for line in body.split('\n') {
        if let Some((ch, len)) = fence {
            if fence_of(line).is_some_and(|(c, l, info)| c == ch && l >= len && info.is_empty()) {
                fence = None;
            }
            prose.push('\n');
            continue;
        }
        if let Some((ch, len, info)) = fence_of(line)
            && !(ch == '`' && info.contains('`'))
        {
            prose.push_str(&without_code_spans(&paragraph));
            paragraph.clear();
            fence = Some((ch, len));
            prose.push('\n');
            continue;
        }
        if line.trim().is_empty() {
            prose.push_str(&without_code_spans(&paragraph));
            paragraph.clear();
            prose.push('\n');
            continue;
        }
        if starts_block(line) {
            // A list item, heading, quote or rule interrupts the paragraph: no code span
            // reaches across it.
            prose.push_str(&without_code_spans(&paragraph));
            paragraph.clear();
        }
        paragraph.push_str(line);
        paragraph.push('\n');
    }
    prose.push_str(&without_code_spans(&paragraph));
    prose
}

/// Whether `line` starts a block that can interrupt a paragraph: a list item (any marker,
/// erring towards a new block), an ATX heading, a block quote or a thematic break.
fn starts_block(line: &str) -> bool {
    static BLOCK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^ {0,3}(?:[-*+](?:\s|$)|\d{1,9}[.)](?:\s|$)|#{1,6}(?:\s|$)|>|(?:[-*_]\s*){3,}$)",
        )
        .expect("the block-start pattern compiles")
    });
    BLOCK.is_match(line)
}

/// A fence line's character, length and info string.
fn fence_of(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let len = rest.len() - rest.trim_start_matches(ch).len();
    (len >= 3).then(|| (ch, len, rest[len..].trim()))
}

/// One paragraph with its code spans replaced by a space; an unmatched backtick string is text.
fn without_code_spans(paragraph: &str) -> String {
    let bytes = paragraph.as_bytes();
    let mut out = String::with_capacity(paragraph.len());
    let mut i = 0;
    let mut text_from = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => {
                let run = run_length(bytes, i);
                match closing_run(bytes, i + run, run) {
                    Some(end) => {
                        out.push_str(&paragraph[text_from..i]);
                        out.push(' ');
                        i = end + run;
                        text_from = i;
                    }
                    None => i += run,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&paragraph[text_from.min(paragraph.len())..]);
    out
}

fn run_length(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().take_while(|b| **b == b'`').count()
}

/// Where the next backtick string of exactly `len` starts, at or after `from`.
fn closing_run(bytes: &[u8], mut from: usize, len: usize) -> Option<usize> {
    while from < bytes.len() {
        if bytes[from] == b'`' {
            let run = run_length(bytes, from);
            if run == len {
                return Some(from);
            }
            from += run;
        } else {
            from += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_form_closes() {
        let body = "close #1\ncloses #2\nclosed #3\nfix #4\nfixes #5\nfixed #6\n\
                    resolve #7\nresolves #8\nresolved #9\nCLOSES: #10\n\
                    Fixes octo/repo#11\nresolves https://example.com/o/r/issues/12";
        assert_eq!(closed_issues(body), (1..=12).collect::<Vec<_>>());
    }

    #[test]
    fn mentions_without_a_keyword_do_not_close() {
        assert!(closed_issues("See #4, related to #5; enclosed #6; prefix #7").is_empty());
        assert!(closed_issues("closes#4 and fixes #").is_empty());
        assert!(closed_issues("closes #0").is_empty());
    }

    #[test]
    fn repeats_are_listed_once_in_order() {
        assert_eq!(
            closed_issues("Fixes #9. Closes #3. Also closes #9."),
            vec![9, 3]
        );
    }

    #[test]
    fn a_number_is_read_whole() {
        assert_eq!(closed_issues("Closes #123abc"), Vec::<u64>::new());
        assert_eq!(closed_issues("Closes #123."), vec![123]);
    }

    #[test]
    fn references_in_code_spans_and_fences_do_not_close() {
        assert!(closed_issues("- #4 `closes #5` on `x`").is_empty());
        assert!(closed_issues("``a ` fixes #5 ``").is_empty());
        assert!(closed_issues("```\nfixes #5\n```\n").is_empty());
        assert!(closed_issues("  ~~~~ rust\nfixes #5\n~~~\nstill code\n").is_empty());
        assert!(closed_issues("```\nan unclosed fence fixes #5").is_empty());
        assert_eq!(closed_issues("``` a`b\nfixes #5"), vec![5], "not a fence");
    }

    #[test]
    fn backticks_that_open_no_span_leave_the_keyword_live() {
        assert_eq!(closed_issues("a lone ` then fixes #5"), vec![5]);
        assert_eq!(closed_issues("\\`not a span fixes #6`"), vec![6]);
        assert_eq!(
            closed_issues("`span\n\nends at the paragraph` fixes #7"),
            vec![7]
        );
        assert_eq!(closed_issues("```\ncode\n```\nCloses #8"), vec![8]);
    }

    #[test]
    fn gh_references_close_and_no_code_span_crosses_a_block() {
        assert_eq!(closed_issues("Fixes GH-5"), vec![5]);
        assert_eq!(closed_issues("conflicts ` x\n- fixes #5 `, so"), vec![5]);
        assert_eq!(closed_issues("a ` x\n# fixes #6 `"), vec![6]);
        assert_eq!(closed_issues("a ` x\n> fixes #7 `"), vec![7]);
        assert_eq!(closed_issues("a ` x\nfixes #8 `"), Vec::<u64>::new());
    }
}
