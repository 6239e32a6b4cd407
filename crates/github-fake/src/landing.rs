//! A pull request landing, through the merge API or by a push of its head into its base: it is
//! marked merged, and on the default branch the closing keywords of its body and of the merged
//! commits' messages close those issues, as on GitHub. In the body, Markdown, only prose
//! counts: GitHub links no reference in code or HTML, so one there closes nothing.

use std::sync::LazyLock;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use regex::Regex;

use crate::error::ApiError;
use crate::server::App;
use crate::state::{IssueState, timestamp};

/// Marks pull request `number` merged as `commit`, which its base now contains, and closes
/// the issues it names; `old_base` is where the base was before.
pub async fn land(app: &App, number: u64, commit: &str, old_base: &str) -> Result<(), ApiError> {
    let default_branch = app.repo.default_branch().await?;
    let merged = app.repo.log(&[&format!("{old_base}..{commit}")]).await?;
    let login = app.options.login.clone();
    let repository = format!("{}/{}", app.options.owner, app.options.repo);
    let mut state = app.lock();
    let Some(issue) = state.issues.get_mut(&number) else {
        return Ok(());
    };
    let Some(pull) = issue.pull.as_mut() else {
        return Ok(());
    };
    let now = timestamp();
    pull.merged_at = Some(now.clone());
    pull.merge_commit_sha = Some(commit.to_string());
    pull.merged_by = Some(login.clone());
    let onto_default = pull.base_ref == default_branch;
    issue.state = IssueState::Closed;
    issue.closed_at = Some(now.clone());
    issue.updated_at = now;
    if !onto_default {
        return Ok(());
    }
    let mut text = linkable_text(issue.body.as_deref().unwrap_or_default());
    for commit in merged {
        text.push('\n');
        text.push_str(&commit.message);
    }
    for closed in closed_issues(&text, &repository) {
        if state
            .issues
            .get(&closed)
            .is_some_and(|issue| issue.pull.is_none())
        {
            state.close_issue(closed, &login, "completed");
        }
    }
    Ok(())
}

/// The prose of the Markdown `body`, where GitHub links references: its code spans, code blocks
/// and HTML (comments too) are each left as one U+FFFC, which no reference can run across.
fn linkable_text(body: &str) -> String {
    const LEFT_OUT: char = '\u{FFFC}';
    let mut text = String::with_capacity(body.len());
    let mut in_code_block = false;
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => {
                in_code_block = true;
                text.push(LEFT_OUT);
            }
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(prose) if !in_code_block => text.push_str(&prose),
            Event::Code(_) | Event::Html(_) | Event::InlineHtml(_) => text.push(LEFT_OUT),
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push('\n'),
            _ => {}
        }
    }
    text
}

/// `close #1`, `Fixes: #2`, `resolved owner/repo#3`: GitHub's closing keywords.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:([\w.-]+/[\w.-]+))?#(\d+)\b",
    )
    .expect("a valid pattern")
});

/// The numbers a pull request body closes in `repository` (`owner/name`).
pub fn closed_issues(body: &str, repository: &str) -> Vec<u64> {
    CLOSING
        .captures_iter(body)
        .filter(|captures| {
            captures
                .get(1)
                .is_none_or(|r| r.as_str().eq_ignore_ascii_case(repository))
        })
        .filter_map(|captures| captures[2].parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{closed_issues, linkable_text};

    #[test]
    fn a_reference_in_code_or_html_closes_nothing() {
        let body = "Fixes #1\n\n- #5 `closes #2` and ``fix `#3` ``\n\n```\nresolves #4\n```\n\n\
                    <!-- closes #6 --> close `x` #7\n\n    fixes #8\n\nresolved #9";
        assert_eq!(closed_issues(&linkable_text(body), "o/r"), vec![1, 9]);
    }

    #[test]
    fn closing_keywords_are_read_as_github_reads_them() {
        let body = "Fixes #1, closes: #2\nRESOLVED #3 and resolve o/r#4; close other/repo#5\n\
                    fix#6 prefix#7 closing #8 #9";
        assert_eq!(closed_issues(body, "o/r"), vec![1, 2, 3, 4]);
    }
}
