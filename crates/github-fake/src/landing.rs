//! A pull request landing, through the merge API or by a push of its head into its base: it is
//! marked merged, and on the default branch the closing keywords of its body and of the merged
//! commits' messages close those issues, as on GitHub.

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
    let mut text = markdown_prose(issue.body.as_deref().unwrap_or_default());
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

/// `close #1`, `Fixes: #2`, `resolved owner/repo#3`: GitHub's closing keywords.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:([\w.-]+/[\w.-]+))?#(\d+)\b",
    )
    .expect("a valid pattern")
});

/// The prose of a Markdown body, as GitHub reads it for references: code spans and code
/// blocks are not linked, so they close nothing; each becomes a word that no keyword pattern
/// reaches across. A commit message is plain text and is read whole.
fn markdown_prose(body: &str) -> String {
    let mut prose = String::with_capacity(body.len());
    let mut in_code_block = false;
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                prose.push_str("\ncode\n");
            }
            Event::Code(_) => prose.push_str(" code "),
            Event::Text(text) if !in_code_block => prose.push_str(&text),
            Event::SoftBreak | Event::HardBreak => prose.push('\n'),
            Event::End(_) => prose.push('\n'),
            _ => {}
        }
    }
    prose
}

/// The numbers a text closes in `repository` (`owner/name`).
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
    use super::{closed_issues, markdown_prose};

    #[test]
    fn closing_keywords_are_read_as_github_reads_them() {
        let body = "Fixes #1, closes: #2\nRESOLVED #3 and resolve o/r#4; close other/repo#5\n\
                    fix#6 prefix#7 closing #8 #9";
        assert_eq!(closed_issues(body, "o/r"), vec![1, 2, 3, 4]);
    }

    #[test]
    fn code_in_a_markdown_body_closes_nothing_and_prose_around_it_still_does() {
        let body = "- #3: `Fixes #1`\n- `x` closes #2 too\n\n```\ncloses #4\n```\n\
                    Closes `y` #5\n\nresolves #6";
        assert_eq!(closed_issues(&markdown_prose(body), "o/r"), vec![2, 6]);
    }
}
