//! How work made by the built-in simulated agent is marked wherever a reviewer meets it:
//! nobody worked on its issue, so its commits, comments and pull requests must never pass for
//! real work (a bundle would otherwise say `Closes #N` for an issue nobody did).

/// The prefix of every title and commit subject that carries simulated work.
pub const MARK: &str = "[simulated]";

/// `title`, marked.
pub fn title(title: &str) -> String {
    format!("{MARK} {title}")
}

/// The simulated agent's commit message for its work on `issue`.
pub fn commit_message(issue: u64, agent: &str) -> String {
    format!(
        "{MARK} Work on issue #{issue}\n\n\
         Made by Clambake's built-in simulated agent in slot {agent}: no agent worked on the \
         issue, and this commit is not a change anyone asked for."
    )
}

/// The sentence a landing comment adds for simulated work.
pub const LANDING_NOTE: &str = "**Simulated work:** Clambake's built-in simulated agent made \
     this branch (agents.real_processes = false, or the `simulated` runtime); nobody worked on \
     this issue.";

/// The paragraph that opens the body of a pull request carrying simulated work on `issues`.
pub fn pull_request_notice(issues: &[u64]) -> String {
    let list: Vec<String> = issues.iter().map(|n| format!("#{n}")).collect();
    format!(
        "> **Simulated work.** The work on {} was made by Clambake's built-in simulated agent \
         (agents.real_processes = false, or the `simulated` runtime): nobody worked on {}. \
         Merging this pull request closes {} all the same.\n\n",
        list.join(", "),
        if issues.len() == 1 {
            "that issue"
        } else {
            "those issues"
        },
        if issues.len() == 1 { "it" } else { "them" },
    )
}

/// Marks a pull request's `title` and `body` when any of the issues it carries (`simulated`)
/// holds simulated work; leaves them as they are otherwise.
pub fn mark_pull_request(title_text: &str, body: &str, simulated: &[u64]) -> (String, String) {
    if simulated.is_empty() {
        return (title_text.to_owned(), body.to_owned());
    }
    (
        title(title_text),
        format!("{}{body}", pull_request_notice(simulated)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pull_requests_with_simulated_members_are_marked() {
        let (title, body) = mark_pull_request("Bundle: 2 issues", "Closes #1\n", &[]);
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("Bundle: 2 issues", "Closes #1\n")
        );
        let (title, body) = mark_pull_request("Bundle: 2 issues", "Closes #1\n", &[1]);
        assert_eq!(title, "[simulated] Bundle: 2 issues");
        assert!(
            body.starts_with("> **Simulated work.** The work on #1 "),
            "{body}"
        );
        assert!(body.ends_with("Closes #1\n"), "{body}");
        assert!(pull_request_notice(&[1, 2]).contains("#1, #2"));
    }
}
