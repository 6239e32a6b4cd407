//! GitHub's closing keywords: `Closes #12`, `fixes: #3`, `Resolved #7` in a pull request body.

use std::sync::LazyLock;

use regex::Regex;

static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+#(\d+)\b")
        .expect("the closing-keyword pattern compiles")
});

/// The issue numbers a pull request body closes, in order of first mention, without repeats.
pub fn closed_issues(body: &str) -> Vec<u64> {
    let mut numbers = Vec::new();
    for capture in CLOSING.captures_iter(body) {
        if let Ok(number) = capture[1].parse::<u64>()
            && number > 0
            && !numbers.contains(&number)
        {
            numbers.push(number);
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_form_closes() {
        let body = "close #1\ncloses #2\nclosed #3\nfix #4\nfixes #5\nfixed #6\n\
                    resolve #7\nresolves #8\nresolved #9\nCLOSES: #10";
        assert_eq!(closed_issues(body), (1..=10).collect::<Vec<_>>());
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
}
