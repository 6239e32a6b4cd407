//! How work made by the built-in simulated agent is marked wherever a reviewer meets it:
//! nobody worked on its issue, so its commits, comments and pull requests must never pass for
//! real work (a bundle would otherwise say `Closes #N` for an issue nobody did). The comments
//! and pull requests say so in the words of [`crate::forge_text`].

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_commits_carry_the_mark() {
        assert_eq!(title("Bundle: 2 issues"), "[simulated] Bundle: 2 issues");
        let message = commit_message(4, "agent001");
        assert!(
            message.starts_with("[simulated] Work on issue #4\n\n"),
            "{message}"
        );
        assert!(message.contains("slot agent001"), "{message}");
    }
}
